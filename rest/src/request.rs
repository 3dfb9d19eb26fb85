//! One request from routing to response: picks the endpoint, negotiates schema and media,
//! reads preferences, builds the per-transaction settings, and dispatches to the read, write
//! and call flows. Errors of any step become PostgREST's error response here.

use crate::execute::{self, Connection};
use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode};
use serde_json::Value;
use std::fmt::Write as _;

use crate::error::RestError;
use crate::media::{self, Media};
use crate::prefer::{Applied, Preferences};
use crate::response::RestResponse;
use crate::schema_cache::{Function, Isolation, SchemaCache};
use crate::sql::{Ident, Sql};
use crate::timing::{Timed, Timing};
use crate::{call, openapi, read, write};
pub use madbase_config::{ClientErrorVerbosity, DbTxEnd, OpenApiMode, RoleClaimKey};

/// Data API settings of one project (PostgREST's `db-*` options).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestSettings {
    /// Exposed schemas; the first is the default.
    pub schemas: Vec<String>,
    /// `db-anon-role`: the role of requests without a JWT; none turns anonymous access off
    /// (401 PGRST302).
    pub anon_role: Option<String>,
    /// `db-max-rows`: a silent cap on rows returned by reads.
    pub max_rows: Option<i64>,
    /// `db-pre-request`: a function (`name` or `schema.name`) called before the main query.
    pub pre_request: Option<String>,
    /// `db-plan-enabled`: allow `application/vnd.pgrst.plan` responses.
    pub plan_enabled: bool,
    /// `db-aggregates-enabled`: allow `count()`, `col.sum()` and friends.
    pub aggregates_enabled: bool,
    /// `db-tx-end`: commit or roll back, and whether `Prefer: tx=commit|rollback` may choose.
    pub tx_end: DbTxEnd,
    /// `db-extra-search-path`: schemas appended to `search_path`.
    pub extra_search_path: Vec<String>,
    /// `openapi-mode`: what `GET /` describes.
    pub openapi_mode: OpenApiMode,
    /// `openapi-security-active`: the description declares the bearer token (and the API key).
    pub openapi_security_active: bool,
    /// `openapi-server-proxy-uri`: the data API's public URL, for the description's `schemes`,
    /// `host` and `basePath`; a bare path sets `basePath` only.
    pub openapi_server: Option<String>,
    /// `db-root-spec`: a function in the request's schema that answers `GET /` instead of the
    /// OpenAPI description, called like any RPC (arguments, filters and all).
    pub root_spec: Option<String>,
    /// `db-hoisted-tx-settings`: the settings of a function's own `SET` clause that a call to
    /// it applies to the whole transaction, before the function runs (so a function's
    /// `statement_timeout` bounds the call itself).
    pub hoisted_tx_settings: Vec<String>,
    /// `jwt-aud`: the audience a token's `aud` must name; any when unset.
    pub jwt_aud: Option<String>,
    /// `jwt-role-claim-key`: where the claims name the role.
    pub role_claim_key: RoleClaimKey,
    /// `server-timing-enabled`: answer with a `Server-Timing` header.
    pub server_timing: bool,
    /// `client-error-verbosity`: whether errors carry `details` and `hint`.
    pub error_verbosity: ClientErrorVerbosity,
    /// `app.settings.*`: set in every transaction, by full name (`app.settings.jwt_exp`).
    pub app_settings: Vec<(String, String)>,
    /// `log-query = main-query`: hand each response's main statement text to the caller.
    pub log_query: bool,
    /// Refuse a request whose role `authenticator` cannot switch to before sending it, from the
    /// schema cache's list of roles: for a login PostgreSQL lets switch more widely than
    /// PostgREST's `authenticator` (the database URL's role, or a superuser as the API login).
    /// Off when the data API logs in as a role of its own that is not a superuser: PostgreSQL
    /// then answers itself, as for PostgREST, with no list that could be stale.
    pub role_guard: bool,
}

impl Default for RestSettings {
    fn default() -> Self {
        RestSettings {
            schemas: vec!["public".into()],
            anon_role: Some("anon".into()),
            max_rows: None,
            pre_request: None,
            plan_enabled: false,
            aggregates_enabled: false,
            tx_end: DbTxEnd::Commit,
            extra_search_path: vec!["public".into(), "extensions".into()],
            openapi_mode: OpenApiMode::default(),
            openapi_security_active: false,
            openapi_server: None,
            root_spec: None,
            hoisted_tx_settings: [
                "statement_timeout",
                "plan_filter.statement_cost_limit",
                "default_transaction_isolation",
            ]
            .map(String::from)
            .to_vec(),
            jwt_aud: None,
            role_claim_key: RoleClaimKey::default(),
            server_timing: false,
            error_verbosity: ClientErrorVerbosity::Verbose,
            app_settings: Vec::new(),
            log_query: false,
            role_guard: true,
        }
    }
}

/// One HTTP request to `/rest/v1`, after authentication.
#[derive(Debug, Clone)]
pub struct RestRequest {
    /// HTTP method.
    pub method: Method,
    /// Path after `/rest/v1` (`/todos`, `/rpc/fn`, `/`).
    pub path: String,
    /// Raw query string.
    pub query: Option<String>,
    /// Request headers.
    pub headers: HeaderMap,
    /// Request body.
    pub body: Bytes,
    /// Database role from the JWT `role` claim, or the anonymous role.
    pub role: String,
    /// Verified JWT claims (`{"role":"anon"}` without a token); shared, as the data plane
    /// keeps those of its API keys.
    pub claims: std::sync::Arc<Claims>,
    /// How long checking the token took, for `Server-Timing`.
    pub jwt_time: Option<std::time::Duration>,
}

/// Verified JWT claims with their JSON text, serialised once: the API keys' claims are kept
/// for the life of the process and would otherwise be serialised again for every request's
/// `request.jwt.claims`.
#[derive(Debug, Clone, PartialEq)]
pub struct Claims {
    value: Value,
    json: String,
}

impl Claims {
    /// Claims from a verified token's payload.
    pub fn new(value: Value) -> Self {
        let json = value.to_string();
        Claims { value, json }
    }

    /// The claims.
    pub fn value(&self) -> &Value {
        &self.value
    }

    /// The claims as compact JSON.
    pub fn json(&self) -> &str {
        &self.json
    }
}

/// Per-request context shared by the flows.
pub struct Ctx<'a> {
    /// The schema cache.
    pub cache: &'a SchemaCache,
    /// Settings.
    pub settings: &'a RestSettings,
    /// The request.
    pub req: &'a RestRequest,
    /// The negotiated schema.
    pub schema: String,
    /// Whether to echo `Content-Profile`.
    pub echo_profile: bool,
    /// The negotiated representation.
    pub media: Media,
    /// Why a call or a read is refused (no representation to negotiate, preferences refused
    /// under `handling=strict`): it fails with it once its function is found or it is planned.
    pub refused: Option<RestError>,
    /// Preferences.
    pub prefs: Preferences,
    /// What was honoured.
    pub applied: Applied,
    /// Whether the request runs as the anonymous role.
    pub anon: bool,
    /// The function a call runs, once resolved: its hoisted settings and isolation level
    /// apply to the transaction.
    pub function: Option<&'a Function>,
    /// The request's `Server-Timing` marks, when enabled.
    pub timing: Option<&'a Timing>,
    /// Where the main statement's text goes, when `log-query` is on.
    pub query_log: Option<&'a std::sync::Mutex<Option<String>>>,
}

impl Ctx<'_> {
    /// `set_config` for search_path, role, claims, method, path, headers, cookies, the role's
    /// own settings and timezone; with `implicit_read_only` also `transaction_read_only`, for a
    /// read that runs as its pipeline's implicit transaction (no `BEGIN … READ ONLY` before it).
    pub fn settings_sql(&self, implicit_read_only: bool) -> Sql {
        let req = self.req;
        let mut search_path = String::with_capacity(64);
        for (i, s) in self.search_path().iter().enumerate() {
            if i > 0 {
                search_path.push_str(", ");
            }
            crate::sql::push_quoted(&mut search_path, s);
        }
        let claims = match req.claims.value().as_object() {
            Some(m) if m.get("role").and_then(Value::as_str) == Some(&req.role) => {
                req.claims.json().to_owned()
            }
            other => {
                let mut m = other.cloned().unwrap_or_default();
                m.insert("role".into(), Value::String(req.role.clone()));
                Value::Object(m).to_string()
            }
        };
        let mut sql = Sql::new();
        sql.text.reserve(512);
        sql.push("SELECT set_config('search_path', ")
            .bind(search_path)
            .push(", true), set_config('role', ")
            .bind(req.role.as_str())
            .push(", true), set_config('request.jwt.claims', ")
            .bind(claims)
            .push(", true), set_config('request.method', ")
            .bind(req.method.as_str())
            .push(", true), set_config('request.path', ")
            .bind(req.path.as_str())
            .push(", true), set_config('request.headers', ")
            .bind(headers_json(&req.headers))
            .push(", true), set_config('request.cookies', ")
            .bind(cookies_json(&req.headers))
            .push(", true)");
        if let Some(role) = self.cache.role_settings.get(&req.role) {
            for (key, value) in &role.settings {
                sql.push(", set_config(")
                    .bind(key.as_str())
                    .push(", ")
                    .bind(value.as_str())
                    .push(", true)");
            }
        }
        if let Some(tz) = &self.prefs.timezone {
            sql.push(", set_config('timezone', ")
                .bind(tz.as_str())
                .push(", true)");
        }
        for (name, value) in &self.settings.app_settings {
            sql.push(", set_config(")
                .bind(name.as_str())
                .push(", ")
                .bind(value.as_str())
                .push(", true)");
        }
        // After the role's, as PostgREST: the function's own settings win.
        if let Some(f) = self.function {
            let hoisted = &self.settings.hoisted_tx_settings;
            for (key, value) in f.config.iter().filter(|(k, _)| hoisted.contains(k)) {
                sql.push(", set_config(")
                    .bind(key.as_str())
                    .push(", ")
                    .bind(value.as_str())
                    .push(", true)");
            }
        }
        if implicit_read_only {
            sql.push(", set_config('transaction_read_only', 'on', true)");
        }
        sql
    }

    /// Runs the request's transaction: `BEGIN` when [`Ctx::begin`] asks for one, the settings,
    /// the pre-request call, the optional count estimate and `main`. A read-only transaction
    /// ends with the pipeline; a writing one is left open for [`execute::finish`] once the
    /// result has been checked.
    pub async fn run(
        &self,
        client: &dyn Connection,
        read_only: bool,
        main: Sql,
        estimate: Option<Sql>,
    ) -> Result<execute::Outcome, RestError> {
        // What PostgreSQL answers when the connection may not switch to the role; checked
        // here when the data plane's connection may be allowed more than PostgREST's
        // `authenticator` (a superuser's may become any role).
        let refusal = self.settings.role_guard;
        if let Some(error) = refusal
            .then(|| self.cache.role_refusal(&self.req.role))
            .flatten()
        {
            return Err(RestError::Db {
                error,
                anon: self.anon,
            });
        }
        let begin = self.begin(read_only);
        if let Some(log) = self.query_log {
            *log.lock().unwrap_or_else(|p| p.into_inner()) = Some(main.text.clone());
        }
        let tx = execute::Transaction {
            begin,
            settings: self.settings_sql(begin.is_none()),
            pre_request: self.pre_request_sql(),
            estimate,
            main,
            commit_now: read_only,
        };
        execute::run(client, tx)
            .await
            .map_err(|error| RestError::Db {
                error,
                anon: self.anon,
            })
    }

    /// The request's `BEGIN`: read-only or not, at the isolation level the role's
    /// `default_transaction_isolation` setting names (read committed otherwise). None for a
    /// read at read committed: it runs as the implicit transaction PostgreSQL opens for the
    /// statements before a pipeline's `Sync` and ends at it, made read-only by the settings,
    /// which spares the server a `BEGIN` and a `COMMIT` statement per request.
    pub fn begin(&self, read_only: bool) -> Option<&'static str> {
        let isolation = self
            .function
            .and_then(|f| f.isolation)
            .or_else(|| {
                self.cache
                    .role_settings
                    .get(&self.req.role)
                    .and_then(|r| r.isolation)
            })
            .unwrap_or(Isolation::ReadCommitted);
        if read_only && isolation == Isolation::ReadCommitted {
            None
        } else {
            Some(isolation.begin(read_only))
        }
    }

    /// Schemas on the request's `search_path`, in order: the negotiated schema, then the
    /// extra search path.
    pub fn search_path(&self) -> Vec<String> {
        let mut path = vec![self.schema.clone()];
        for s in &self.settings.extra_search_path {
            if !path.contains(s) {
                path.push(s.clone());
            }
        }
        path
    }

    /// `SELECT pre_request()` when configured.
    pub fn pre_request_sql(&self) -> Option<Sql> {
        let f = self.settings.pre_request.as_ref()?;
        let ident = match f.split_once('.') {
            Some((s, n)) => Ident::qualified(s, n),
            None => Ident::new(f),
        };
        let mut sql = Sql::new();
        sql.push("SELECT ").ident(&ident).push("()::text");
        Some(sql)
    }

    /// Whether the transaction rolls back: `db-tx-end`'s choice, or the request's
    /// `Prefer: tx=…` where the setting allows it.
    pub fn rollback_requested(&mut self) -> bool {
        let tx_end = self.settings.tx_end;
        if !tx_end.allows_override() {
            return tx_end.rolls_back();
        }
        match self.prefs.rollback {
            Some(true) => {
                self.applied.push("tx=rollback");
                true
            }
            Some(false) => {
                self.applied.push("tx=commit");
                false
            }
            None => tx_end.rolls_back(),
        }
    }

    /// Marks the query string parsed, for `Server-Timing`.
    pub fn parsed(&self) {
        if let Some(t) = self.timing {
            t.parsed();
        }
    }

    /// Finishes a response with the common headers.
    pub fn finish(&self, mut resp: RestResponse) -> RestResponse {
        if let Some(v) = self.applied.header() {
            resp.header("preference-applied", &v);
        }
        if self.echo_profile {
            resp.header("content-profile", &self.schema);
        }
        if self.req.method == Method::HEAD {
            resp.body = Bytes::new();
        }
        resp
    }
}

/// Whether `s` holds a byte JSON must escape: a control character, `"` or `\`. Checks eight
/// bytes at a time: a request's headers (API key and bearer token included) are escaped on
/// every request and almost never need it.
fn needs_json_escape(s: &[u8]) -> bool {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    // Some byte of `x` is below `n` (n ≤ 0x80): exact as a yes/no answer.
    let has_less = |x: u64, n: u8| x.wrapping_sub(ONES * u64::from(n)) & !x & HIGHS != 0;
    let has_byte = |x: u64, b: u8| has_less(x ^ (ONES * u64::from(b)), 1);
    let mut chunks = s.chunks_exact(8);
    for c in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(c);
        let x = u64::from_ne_bytes(word);
        if has_less(x, 0x20) || has_byte(x, b'"') || has_byte(x, b'\\') {
            return true;
        }
    }
    chunks
        .remainder()
        .iter()
        .any(|&b| b < 0x20 || b == b'"' || b == b'\\')
}

/// Appends `s` as a JSON string (escaped as serde_json does).
fn push_json_str(out: &mut String, s: &str) {
    out.push('"');
    if !needs_json_escape(s.as_bytes()) {
        out.push_str(s);
        out.push('"');
        return;
    }
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let escaped = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0..=0x1f => "",
            _ => continue,
        };
        // `i` is at an ASCII byte, so both slices end on character boundaries.
        out.push_str(&s[start..i]);
        if escaped.is_empty() {
            let _ = write!(out, "\\u{b:04x}");
        } else {
            out.push_str(escaped);
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// `request.headers`: every header readable as text but `cookie` (in `request.cookies`, as
/// PostgREST has it), keyed by its lower-case name; of a repeated header the last value.
fn headers_json(headers: &HeaderMap) -> String {
    // Sized up front (quotes, colon and comma per header; escapes are rare): API keys and
    // bearer tokens alone are hundreds of bytes, and regrowing copies all of it.
    let size = headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 6)
        .sum::<usize>();
    let mut out = String::with_capacity(size + 2);
    out.push('{');
    for name in headers.keys() {
        if name == http::header::COOKIE {
            continue;
        }
        let Some(value) = headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .next_back()
        else {
            continue;
        };
        if out.len() > 1 {
            out.push(',');
        }
        push_json_str(&mut out, name.as_str());
        out.push(':');
        push_json_str(&mut out, value);
    }
    out.push('}');
    out
}

/// `request.cookies`: the `Cookie` headers' pairs; of a repeated name the last value.
fn cookies_json(headers: &HeaderMap) -> String {
    let mut pairs: Vec<(&str, &str)> = Vec::new();
    for c in headers.get_all(http::header::COOKIE) {
        let Ok(c) = c.to_str() else { continue };
        for pair in c.split(';') {
            if let Some((k, v)) = pair.trim().split_once('=') {
                let (k, v) = (k.trim(), v.trim());
                pairs.retain(|(seen, _)| *seen != k);
                pairs.push((k, v));
            }
        }
    }
    let mut out = String::with_capacity(2 + pairs.len() * 32);
    out.push('{');
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_json_str(&mut out, k);
        out.push(':');
        push_json_str(&mut out, v);
    }
    out.push('}');
    out
}

enum Route {
    Root,
    Table(String),
    Rpc(String),
}

/// PostgREST's routes: `/`, `/table`, `/rpc/fn`. Every `/` separates a segment, so `//table`
/// and `/table/` are other paths (PGRST125), as in PostgREST.
fn route(path: &str) -> Result<Route, RestError> {
    let segments: Vec<String> = path
        .strip_prefix('/')
        .unwrap_or(path)
        .split('/')
        .map(|s| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        })
        .collect();
    match segments.as_slice() {
        [] => Ok(Route::Root),
        [s] if s.is_empty() => Ok(Route::Root),
        [s] => Ok(Route::Table(s.clone())),
        [rpc, f] if rpc == "rpc" && !f.is_empty() => Ok(Route::Rpc(f.clone())),
        _ => Err(RestError::InvalidPath),
    }
}

pub(crate) fn header<'h>(h: &'h HeaderMap, name: &str) -> Option<&'h str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

/// PostgREST's `Allow` for OPTIONS: a table's verbs follow what the relation supports (PUT
/// needs a primary key); a function is callable by GET only when it is not volatile.
fn options_allow(cache: &SchemaCache, schema: &str, route: &Route) -> Result<String, RestError> {
    Ok(match route {
        Route::Root => "OPTIONS,GET,HEAD".into(),
        Route::Table(name) => {
            let t = cache.find_table(schema, name)?;
            let mut verbs = vec!["OPTIONS", "GET", "HEAD"];
            if t.insertable {
                verbs.push("POST");
            }
            if t.insertable && t.updatable && !t.pk.is_empty() {
                verbs.push("PUT");
            }
            if t.updatable {
                verbs.push("PATCH");
            }
            if t.deletable {
                verbs.push("DELETE");
            }
            verbs.join(",")
        }
        Route::Rpc(name) => {
            let overloads = cache.function_overloads(schema, name);
            if overloads.is_empty() {
                return Err(RestError::FunctionNotFound {
                    qualified: format!("{schema}.{name}"),
                    args: Vec::new(),
                    suggestion: cache.suggest_function(schema, name),
                    sent_as: crate::rpc::ArgSource::Query,
                });
            }
            if overloads.iter().any(|f| f.is_read_only()) {
                "OPTIONS,GET,HEAD,POST".into()
            } else {
                "OPTIONS,POST".into()
            }
        }
    })
}

/// The database's media type handlers a request to `route` may use, if there are any: those of
/// the table, or of the function and the table it returns, and those for any relation.
fn media_handlers<'c>(
    cache: &'c SchemaCache,
    schema: &str,
    route: &Route,
    query: Option<&str>,
) -> Option<media::Handlers<'c>> {
    if cache.media_handlers.is_empty() {
        return None;
    }
    let targets = match route {
        Route::Root => return None,
        Route::Table(t) => vec![(schema.to_string(), t.clone())],
        Route::Rpc(f) => {
            let mut targets = vec![(schema.to_string(), f.clone())];
            for o in cache.function_overloads(schema, f) {
                if let crate::schema_cache::ReturnKind::Composite(Some(t)) = &o.returns
                    && !targets.contains(t)
                {
                    targets.push(t.clone());
                }
            }
            targets
        }
    };
    let default_select = crate::query_params::decode_pairs(query.unwrap_or_default())
        .iter()
        .find(|(k, _)| k == "select")
        .is_none_or(|(_, v)| matches!(v.trim(), "*" | ""));
    Some(media::Handlers {
        all: &cache.media_handlers,
        rpc: matches!(route, Route::Rpc(_)),
        targets,
        default_select,
    })
}

/// Serves one request; never fails, errors become PostgREST error responses.
pub async fn handle(
    cache: &SchemaCache,
    settings: &RestSettings,
    client: &dyn Connection,
    req: RestRequest,
) -> RestResponse {
    let is_head = req.method == Method::HEAD;
    let timing = settings.server_timing.then(|| Timing::start(req.jwt_time));
    let timed;
    let client: &dyn Connection = match &timing {
        Some(timing) => {
            timed = Timed {
                inner: client,
                timing,
            };
            &timed
        }
        None => client,
    };
    let query_log = settings.log_query.then(std::sync::Mutex::default);
    let mut resp = match serve(
        cache,
        settings,
        client,
        &req,
        timing.as_ref(),
        query_log.as_ref(),
    )
    .await
    {
        // PostgREST times successful responses only.
        Ok(mut r) => {
            if let Some(t) = &timing {
                r.header("server-timing", &t.header());
            }
            r
        }
        Err(e) => RestResponse::from_error(&e, settings.error_verbosity),
    };
    if is_head {
        resp.body = Bytes::new();
    }
    resp.query = query_log.and_then(|l| l.into_inner().unwrap_or_else(|p| p.into_inner()));
    resp
}

async fn serve(
    cache: &SchemaCache,
    settings: &RestSettings,
    client: &dyn Connection,
    req: &RestRequest,
    timing: Option<&Timing>,
    query_log: Option<&std::sync::Mutex<Option<String>>>,
) -> Result<RestResponse, RestError> {
    let m = &req.method;
    let route = match (route(&req.path)?, &settings.root_spec) {
        (Route::Root, Some(f)) if matches!(m.as_str(), "GET" | "HEAD" | "OPTIONS") => {
            Route::Rpc(f.clone())
        }
        (route, _) => route,
    };
    match (&route, m.as_str()) {
        (Route::Rpc(_), "GET" | "HEAD" | "POST" | "OPTIONS") => {}
        (Route::Rpc(_), other) => return Err(RestError::RpcMethod(other.to_string())),
        (Route::Root, "GET" | "HEAD" | "OPTIONS") => {}
        (Route::Table(_), "GET" | "HEAD" | "POST" | "PATCH" | "PUT" | "DELETE" | "OPTIONS") => {}
        (_, other) => return Err(RestError::Method(other.to_string())),
    }
    // Writes name their schema in Content-Profile; every other method (OPTIONS too) in
    // Accept-Profile, as in PostgREST.
    let reading = !matches!(m.as_str(), "POST" | "PATCH" | "PUT" | "DELETE");
    let profile = if reading {
        header(&req.headers, "accept-profile")
    } else {
        header(&req.headers, "content-profile")
    };
    let schema = match profile {
        Some(p) if !settings.schemas.iter().any(|s| s == p) => {
            return Err(RestError::SchemaNotExposed {
                schema: p.to_string(),
                exposed: settings.schemas.clone(),
            });
        }
        Some(p) => p.to_string(),
        None => settings
            .schemas
            .first()
            .cloned()
            .unwrap_or_else(|| "public".into()),
    };
    if *m == Method::OPTIONS {
        let allow = options_allow(cache, &schema, &route)?;
        let mut r = RestResponse::new(StatusCode::OK, "", "");
        r.headers.remove(http::header::CONTENT_TYPE);
        r.header("allow", &allow);
        return Ok(r);
    }
    let handlers = media_handlers(cache, &schema, &route, req.query.as_deref());
    let media = media::negotiate(
        header(&req.headers, "accept"),
        matches!(route, Route::Root),
        cache.postgis.as_deref(),
        handlers.as_ref(),
    )
    .and_then(|media| {
        if matches!(media, Media::Plan(_)) && !settings.plan_enabled {
            return Err(RestError::NotAcceptable(
                header(&req.headers, "accept")
                    .unwrap_or_default()
                    .to_string(),
            ));
        }
        Ok(media)
    });
    let (media, media_refused) = match media {
        Ok(media) => (media, None),
        Err(e) => (Media::Json { strip_nulls: false }, Some(e)),
    };
    let mut prefs = Preferences::parse(&req.headers);
    // A time zone PostgreSQL does not name is ignored, as PostgREST ignores it, and refused
    // under handling=strict.
    if let Some(tz) = &prefs.timezone
        && !cache.timezones.is_empty()
        && !cache.timezones.contains(tz)
    {
        prefs.invalid.push(format!("timezone={tz}"));
        prefs.timezone = None;
    }
    // A write to a table checks its preferences before its media type, as PostgREST's plans
    // do; a read or a call the other way round.
    let refusal = if reading || matches!(route, Route::Rpc(_)) {
        media_refused.or_else(|| prefs.refusal())
    } else {
        prefs.refusal().or(media_refused)
    };
    let refused = match (refusal, &route) {
        (None, _) => None,
        // PostgREST parses the request, finds the table and plans the read or write before it
        // negotiates the media type or checks the preferences: an unknown table is its 404
        // and a malformed `select` or an embed that does not resolve its 400 whatever else is
        // amiss. The refusal waits for the plan.
        (Some(e), Route::Table(_)) => Some(e),
        // So it finds the function, too: a call's refusal waits for the function's
        // resolution, whose 404 or 300 comes first.
        (Some(e), Route::Rpc(_)) => Some(e),
        (Some(e), Route::Root) => return Err(e),
    };
    // Echoed as PostgREST does: the handling asked for, and a timezone (an unknown one fails
    // the request when it is set).
    let mut applied = Applied::default();
    match prefs.strict {
        Some(true) => applied.push("handling=strict"),
        Some(false) => applied.push("handling=lenient"),
        None => {}
    }
    if let Some(tz) = &prefs.timezone {
        applied.push(format!("timezone={tz}"));
    }
    let mut ctx = Ctx {
        cache,
        settings,
        req,
        echo_profile: profile.is_some() || settings.schemas.len() > 1,
        schema,
        media,
        refused,
        prefs,
        applied,
        anon: settings.anon_role.as_deref() == Some(req.role.as_str()),
        function: None,
        timing,
        query_log,
    };
    let anon = ctx.anon;
    let result = match route {
        Route::Root => openapi::serve(&ctx, client).await,
        Route::Table(t) => {
            if reading {
                read::serve(&mut ctx, client, &t).await
            } else {
                write::serve(&mut ctx, client, &t).await
            }
        }
        Route::Rpc(f) => call::serve(&mut ctx, client, &f).await,
    };
    result.map_err(|e| match e {
        RestError::Db { error, .. } => RestError::from_db(error, anon),
        other => other,
    })
}

/// Splits a positive count into the `Content-Range` header and status of a read.
pub fn count_header(
    ctx: &Ctx,
    resp: &mut RestResponse,
    offset: i64,
    rows: i64,
    total: Option<i64>,
) -> Result<(), RestError> {
    let (range, status) = crate::range::content_range(offset, rows, total)?;
    resp.header("content-range", &range);
    if resp.status == StatusCode::OK {
        resp.status = status;
    }
    let _ = ctx;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_strings_are_escaped_as_serde_json_reads_them() {
        for s in [
            "plain",
            "q\"uote",
            "back\\slash",
            "tab\there",
            "nl\nand\rcr",
            "\u{1}\u{1f}",
            "é ü 😀",
            "",
        ] {
            let mut out = String::new();
            push_json_str(&mut out, s);
            assert_eq!(serde_json::from_str::<String>(&out).expect(&out), s);
        }
    }

    #[test]
    fn the_escape_check_agrees_with_a_byte_by_byte_one() {
        let naive = |s: &[u8]| s.iter().any(|&b| b < 0x20 || b == b'"' || b == b'\\');
        // Every byte value at every position of strings of 1 to 19 bytes, around plain text
        // and around bytes just above and below the interesting ones.
        for len in 1..20 {
            for fill in [b'a', 0x1f, 0x20, 0x21, 0x23, 0x5b, 0x5d, 0x7f, 0x80, 0xff] {
                for pos in 0..len {
                    for b in 0..=255u8 {
                        let mut s = vec![fill; len];
                        s[pos] = b;
                        assert_eq!(needs_json_escape(&s), naive(&s), "{s:?}");
                    }
                }
            }
        }
        assert!(!needs_json_escape(b""));
    }

    #[test]
    fn headers_and_cookies_become_json_objects_last_value_winning() {
        let mut h = HeaderMap::new();
        h.append("x-twice", "first".parse().expect("value"));
        h.append("x-twice", "second".parse().expect("value"));
        h.insert("x-quote", "say \"hi\"".parse().expect("value"));
        h.insert(
            "x-binary",
            http::HeaderValue::from_bytes(b"\xff").expect("value"),
        );
        h.append("cookie", "a=1; b = two ; a=3".parse().expect("value"));
        h.append("cookie", "c=\"q\";novalue".parse().expect("value"));
        let headers: Value = serde_json::from_str(&headers_json(&h)).expect("headers json");
        assert_eq!(headers["x-twice"], "second");
        assert_eq!(headers["x-quote"], "say \"hi\"");
        assert!(
            headers.get("x-binary").is_none(),
            "not readable as text: left out"
        );
        assert!(headers.get("cookie").is_none(), "in request.cookies only");
        let cookies: Value = serde_json::from_str(&cookies_json(&h)).expect("cookies json");
        assert_eq!(
            cookies,
            serde_json::json!({"a": "3", "b": "two", "c": "\"q\""})
        );
        assert_eq!(headers_json(&HeaderMap::new()), "{}");
        assert_eq!(cookies_json(&HeaderMap::new()), "{}");
    }
}
