//! `madbase-rest`: the PostgREST-compatible data API engine behind `/rest/v1`.
//!
//! The data plane owns HTTP, JWT verification and connection pooling; this crate owns the rest:
//! the schema cache, parsing the request (`select`, filters, order, ranges, `Prefer`), planning
//! against the cache, rendering parameterised SQL, running it in one pipelined transaction and
//! shaping the response exactly as PostgREST does. Parsing, planning and rendering are pure;
//! I/O happens only in `execute`.

mod cursor;
mod embed;
pub mod error;
mod filter;
mod introspect;
mod media;
mod order;
mod plan;
mod prefer;
mod query_params;
mod range;
mod relationships;
mod render;
pub mod schema_cache;
mod select;
mod sql;

pub use error::{DbError, JwtErrorKind, RestError};
pub use schema_cache::{LoadError, SchemaCache};
