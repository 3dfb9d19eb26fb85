//! `madbase-rest`: the PostgREST-compatible data API engine behind `/rest/v1`.
//!
//! The data plane owns HTTP, JWT verification and connection pooling; this crate owns the rest:
//! the schema cache, parsing the request (`select`, filters, order, ranges, `Prefer`), planning
//! against the cache, rendering parameterised SQL, running it in one pipelined transaction and
//! shaping the response exactly as PostgREST does. Parsing, planning and rendering are pure;
//! I/O happens only in `execute`.

mod call;
mod cursor;
mod embed;
pub mod error;
mod execute;
mod filter;
mod fuzzy;
mod introspect;
mod jwt;
pub mod lane;
mod media;
mod mutation;
mod openapi;
mod order;
mod plan;
mod prefer;
mod query_params;
mod range;
mod read;
mod relationships;
mod render;
mod request;
mod response;
mod rpc;
pub mod schema_cache;
mod select;
mod sql;
mod timing;
pub mod wire;
mod write;

pub use cursor::MAX_NESTING;
pub use error::{DbError, JwtErrorKind, RestError};
pub use execute::{ConnFuture, Connection, Outcome, Transaction, run_on};
pub use jwt::{authorize, now_secs};
pub use lane::{LaneLimits, LaneStats, Lanes};
pub use request::{
    Claims, ClientErrorVerbosity, DbTxEnd, OpenApiMode, RestRequest, RestSettings, RoleClaimKey,
};
pub use response::RestResponse;
pub use schema_cache::{LoadError, SchemaCache};
pub use sql::quote_ident;
pub use wire::{ConnConfig, PgConn};

/// Serves one `/rest/v1` request on `client` (a [`PgConn`] behind an async mutex, owned or
/// borrowed from a pool). Never fails: errors are PostgREST error
/// responses.
pub async fn handle(
    cache: &SchemaCache,
    settings: &RestSettings,
    client: &dyn Connection,
    req: RestRequest,
) -> RestResponse {
    request::handle(cache, settings, client, req).await
}

/// PostgREST's 401 response for a rejected JWT (PGRST301/302/303, or PGRST300 when no secret).
pub fn jwt_error(kind: JwtErrorKind, settings: &RestSettings) -> RestResponse {
    RestResponse::from_error(&RestError::Jwt(kind), settings.error_verbosity)
}
