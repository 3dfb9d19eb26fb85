//! The one error type of the data API and its wire mapping.
//!
//! Every failure a client can cause or observe is a [`RestError`]; [`RestError::code`],
//! [`RestError::status`] and the message/details/hint accessors form the single table that
//! maps it to PostgREST's JSON body `{code,message,details,hint}`. Database errors keep their
//! SQLSTATE and are mapped to HTTP by [`pg_status`]. This module must not do I/O.

use http::{HeaderMap, HeaderValue, StatusCode};

pub use crate::rpc::ArgSource;
use serde_json::{Map, Value, json};

/// Why a JWT was rejected; the data plane verifies tokens and renders these with [`crate::jwt_error`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwtErrorKind {
    /// Malformed token, bad signature or unusable key (PGRST301); the text is the reason shown.
    Invalid(String),
    /// No key verifies the token's signature (PGRST301, PostgREST 13's wording).
    NoKey,
    /// Anonymous access is disabled and no token was sent (PGRST302).
    AnonymousDisabled,
    /// Claims rejected: expired, wrong audience, not yet valid (PGRST303); the text is the reason.
    Claims(String),
    /// The server has no JWT secret configured (PGRST300).
    SecretMissing,
}

/// An error raised by PostgreSQL, kept as PostgREST reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbError {
    /// Five-character SQLSTATE.
    pub code: String,
    /// Primary message.
    pub message: String,
    /// DETAIL, when present.
    pub details: Option<String>,
    /// HINT, when present.
    pub hint: Option<String>,
}

/// Every error the data API can answer with.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RestError {
    /// PGRST100: the query string could not be parsed.
    #[error("failed to parse {what}")]
    Parse {
        /// Which part failed, e.g. `filter (noop.0)` or `select (a,(b)`.
        what: String,
        /// What was unexpected.
        details: String,
        /// 1-based column of the failure, when the parser knows it.
        column: Option<usize>,
    },
    /// PGRST101: a verb RPC does not support.
    #[error("rpc method")]
    RpcMethod(String),
    /// PGRST102: the request body is not valid.
    #[error("invalid body")]
    InvalidBody(String),
    /// PGRST103: the requested range cannot be satisfied.
    #[error("range not satisfiable")]
    InvalidRange(String),
    /// PGRST103: an offset past the rows there are (answered with `Content-Range: */total`).
    #[error("offset out of range")]
    OffsetOutOfRange {
        /// The offset asked for.
        offset: i64,
        /// The rows there are.
        total: i64,
    },
    /// PGRST105: PUT filters are not exactly the primary key with `eq`.
    #[error("put filters")]
    PutFilters,
    /// PGRST106: the requested schema is not exposed.
    #[error("invalid schema")]
    SchemaNotExposed {
        /// The schema asked for.
        schema: String,
        /// The exposed schemas.
        exposed: Vec<String>,
    },
    /// PGRST107: no acceptable media type.
    #[error("media type")]
    NotAcceptable(String),
    /// PGRST108: a filter, order or limit names an embed that is not selected.
    #[error("not embedded")]
    NotEmbedded(String),
    /// PGRST111: `response.headers` was set to something that is not an array of objects.
    #[error("response.headers")]
    ResponseHeaders,
    /// PGRST112: `response.status` was set to something that is not a status code.
    #[error("response.status")]
    ResponseStatus,
    /// PGRST114: limit/offset on PUT.
    #[error("put limit")]
    PutLimit,
    /// PGRST115: PUT body primary key differs from the URL.
    #[error("put mismatch")]
    PutMismatch,
    /// PGRST116: singular response requested but the result had this many rows.
    #[error("singular")]
    Singular(i64),
    /// PGRST117: an HTTP verb the API does not serve.
    #[error("method")]
    Method(String),
    /// PGRST118: ordering by an embed that is not to-one.
    #[error("related order")]
    RelatedOrder {
        /// The parent.
        origin: String,
        /// The embed.
        target: String,
    },
    /// PGRST120: embeds accept only `is.null` / `not.is.null`; the embed's name.
    #[error("embed filter")]
    EmbedFilter(String),
    /// PGRST121: a `RAISE SQLSTATE 'PGRST'` whose JSON could not be parsed.
    #[error("raise pgrst")]
    RaiseParse(RaiseProblem),
    /// PGRST122: unknown preferences under `handling=strict`.
    #[error("preferences")]
    InvalidPreferences(Vec<String>),
    /// PGRST123: aggregates are disabled.
    #[error("aggregates")]
    AggregatesDisabled,
    /// PGRST124: more rows affected than `max-affected` allows.
    #[error("max affected")]
    MaxAffected(i64),
    /// PGRST125: a path the API does not have.
    #[error("invalid path")]
    InvalidPath,
    /// PGRST126: `GET /` with `openapi-mode = disabled`.
    #[error("openapi disabled")]
    OpenApiDisabled,
    /// PGRST127: a feature this server does not implement.
    #[error("not implemented")]
    NotImplemented(String),
    /// PGRST128: `max-affected` on a function that does not return a set.
    #[error("max affected rpc")]
    MaxAffectedRpc,
    /// PGRST200: no relationship between two resources.
    #[error("no relationship")]
    NoRelationship {
        /// Parent name.
        parent: String,
        /// Child name as written.
        child: String,
        /// Schema searched.
        schema: String,
        /// The embed's `!hint`, if it had one.
        embed_hint: Option<String>,
        /// "Perhaps you meant …", when a name is close to one that exists.
        suggestion: Option<String>,
    },
    /// PGRST201: more than one relationship matches.
    #[error("ambiguous relationship")]
    AmbiguousRelationship {
        /// Parent name.
        parent: String,
        /// Child name as written.
        child: String,
        /// One `{cardinality, embedding, relationship}` per candidate.
        candidates: Vec<Value>,
        /// The `child!hint` spellings that would disambiguate.
        suggestions: Vec<String>,
    },
    /// PGRST202: no function matches.
    #[error("function not found")]
    FunctionNotFound {
        /// Qualified function name.
        qualified: String,
        /// Argument names given.
        args: Vec<String>,
        /// A close match, if any.
        suggestion: Option<String>,
        /// How the arguments were sent, which decides what was searched for.
        sent_as: ArgSource,
    },
    /// PGRST203: more than one overload matches.
    #[error("ambiguous function")]
    AmbiguousFunction(Vec<String>),
    /// PGRST204: a column named in the request does not exist.
    #[error("column not found")]
    ColumnNotFound {
        /// Table name.
        table: String,
        /// Column name.
        column: String,
    },
    /// PGRST205: no such table or view.
    #[error("table not found")]
    TableNotFound {
        /// `schema.table` as requested.
        qualified: String,
        /// A close match, if any.
        suggestion: Option<String>,
    },
    /// PGRST30x: the JWT was rejected.
    #[error("jwt")]
    Jwt(JwtErrorKind),
    /// An error raised by PostgreSQL; `anon` tells whether the request ran as the anonymous role.
    #[error("database error {}", .error.code)]
    Db {
        /// The error as reported.
        error: DbError,
        /// Whether the request role was the anonymous role (42501 becomes 401).
        anon: bool,
    },
    /// A `RAISE SQLSTATE 'PGRST'` with full control of body, status and headers.
    #[error("custom raise")]
    Raised {
        /// The body from MESSAGE.
        body: Value,
        /// The status from DETAIL.
        status: u16,
        /// The status line's reason phrase from DETAIL's `status_text`, if any.
        status_text: Option<String>,
        /// The headers from DETAIL.
        headers: Vec<(String, String)>,
    },
    /// PGRSTX00: an internal failure (details go to the log, not to the client).
    #[error("internal error: {0}")]
    Internal(String),
}

/// What was wrong with a `RAISE SQLSTATE 'PGRST'`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RaiseProblem {
    /// MESSAGE is not a JSON object with text `code` and `message`.
    Message(String),
    /// DETAIL is not a JSON object with a numeric `status` and text `headers`.
    Detail(String),
    /// No DETAIL.
    NoDetail,
}

/// `n` as the status of a final response; 500 for what cannot be one (a 1xx is informational,
/// and HTTP servers replace it with an empty 500, losing the error body).
pub fn final_status(n: u16) -> StatusCode {
    StatusCode::from_u16(n)
        .ok()
        .filter(|s| !s.is_informational())
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// HTTP status PostgREST uses for a SQLSTATE (`Error.hs: pgErrorStatus`).
pub fn pg_status(code: &str, message: &str, anon: bool) -> StatusCode {
    let s = final_status;
    let p2 = code.get(..2).unwrap_or("");
    match code {
        "21000" if message.contains("requires a WHERE clause") => s(400),
        "21000" => s(500),
        "22023" if message.starts_with("role") && message.ends_with("does not exist") => s(401),
        "23503" | "23505" => s(409),
        "25006" => s(405),
        "42883" if message.starts_with("function xmlagg(") => s(406),
        "42883" | "42P01" => s(404),
        "42P17" => s(500),
        "42501" => s(if anon { 401 } else { 403 }),
        "53400" => s(500),
        "57P01" => s(503),
        // Raised by the data plane, not PostgreSQL: no connection to run the request on.
        "PGRST000" | "PGRST001" => s(503),
        "PGRST003" => s(504),
        "P0001" => s(400),
        _ if code.starts_with("PT") => code
            .get(2..)
            .and_then(|n| n.parse::<u16>().ok())
            .map(s)
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        _ => match p2 {
            "08" | "53" => s(503),
            "09" => s(500),
            "0L" | "0P" | "28" => s(403),
            "25" | "2D" | "38" | "39" | "3B" | "40" | "54" | "55" | "57" | "58" | "F0" | "HV"
            | "XX" | "P0" => s(500),
            _ => s(400),
        },
    }
}

impl RestError {
    /// Shorthand for a query-string parse error.
    pub fn parse(what: impl Into<String>, details: impl Into<String>) -> Self {
        RestError::Parse {
            what: what.into(),
            details: details.into(),
            column: None,
        }
    }

    /// A parse error at a 1-based column, reported as Parsec's `SourcePos` is by PostgREST:
    /// `"failed to parse filter (noop.0)" (line 1, column 1)`.
    pub fn parse_at(what: impl Into<String>, column: usize, details: impl Into<String>) -> Self {
        RestError::Parse {
            what: what.into(),
            details: details.into(),
            column: Some(column),
        }
    }

    /// The `code` field.
    pub fn code(&self) -> String {
        use RestError::*;
        let c = match self {
            Parse { .. } => "PGRST100",
            RpcMethod(_) => "PGRST101",
            InvalidBody(_) => "PGRST102",
            InvalidRange(_) | OffsetOutOfRange { .. } => "PGRST103",
            PutFilters => "PGRST105",
            SchemaNotExposed { .. } => "PGRST106",
            NotAcceptable(_) => "PGRST107",
            NotEmbedded(_) => "PGRST108",
            ResponseHeaders => "PGRST111",
            ResponseStatus => "PGRST112",
            PutLimit => "PGRST114",
            PutMismatch => "PGRST115",
            Singular(_) => "PGRST116",
            Method(_) => "PGRST117",
            RelatedOrder { .. } => "PGRST118",
            EmbedFilter(_) => "PGRST120",
            RaiseParse(_) => "PGRST121",
            InvalidPreferences(_) => "PGRST122",
            AggregatesDisabled => "PGRST123",
            MaxAffected(_) => "PGRST124",
            InvalidPath => "PGRST125",
            OpenApiDisabled => "PGRST126",
            NotImplemented(_) => "PGRST127",
            MaxAffectedRpc => "PGRST128",
            NoRelationship { .. } => "PGRST200",
            AmbiguousRelationship { .. } => "PGRST201",
            FunctionNotFound { .. } => "PGRST202",
            AmbiguousFunction(_) => "PGRST203",
            ColumnNotFound { .. } => "PGRST204",
            TableNotFound { .. } => "PGRST205",
            Jwt(JwtErrorKind::SecretMissing) => "PGRST300",
            Jwt(JwtErrorKind::Invalid(_) | JwtErrorKind::NoKey) => "PGRST301",
            Jwt(JwtErrorKind::AnonymousDisabled) => "PGRST302",
            Jwt(JwtErrorKind::Claims(_)) => "PGRST303",
            Db { error, .. } => return error.code.clone(),
            Raised { body, .. } => {
                return body
                    .get("code")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
            }
            Internal(_) => "PGRSTX00",
        };
        c.to_string()
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        use RestError::*;
        let n = match self {
            Parse { .. }
            | InvalidBody(_)
            | NotEmbedded(_)
            | PutLimit
            | PutMismatch
            | RelatedOrder { .. }
            | EmbedFilter(_)
            | InvalidPreferences(_)
            | AggregatesDisabled
            | MaxAffected(_)
            | NotImplemented(_)
            | MaxAffectedRpc
            | NoRelationship { .. }
            | ColumnNotFound { .. } => 400,
            RpcMethod(_) | PutFilters | Method(_) => 405,
            InvalidRange(_) | OffsetOutOfRange { .. } => 416,
            SchemaNotExposed { .. } | NotAcceptable(_) | Singular(_) => 406,
            ResponseHeaders | ResponseStatus | RaiseParse(_) | Internal(_) => 500,
            Jwt(JwtErrorKind::SecretMissing) => 500,
            Jwt(_) => 401,
            InvalidPath | OpenApiDisabled | FunctionNotFound { .. } | TableNotFound { .. } => 404,
            AmbiguousRelationship { .. } | AmbiguousFunction(_) => 300,
            Db { error, anon } => return pg_status(&error.code, &error.message, *anon),
            Raised { status, .. } => *status,
        };
        final_status(n)
    }

    /// A reason phrase of the error's own for the status line, as PostgREST gives one: a
    /// `PTxyz` error's message, a `RAISE SQLSTATE 'PGRST'`'s `status_text`.
    pub fn reason(&self) -> Option<&str> {
        match self {
            RestError::Db { error, .. }
                if error.code.starts_with("PT") && self.status().as_u16() != 500 =>
            {
                Some(&error.message)
            }
            RestError::Raised { status_text, .. } => status_text.as_deref(),
            _ => None,
        }
    }

    /// The `message` field.
    pub fn message(&self) -> String {
        use RestError::*;
        match self {
            Parse {
                what,
                column: None,
                ..
            } => format!("\"failed to parse {what}\""),
            Parse {
                what,
                column: Some(c),
                ..
            } => format!("\"failed to parse {what}\" (line 1, column {c})"),
            RpcMethod(m) => format!("Cannot use the {m} method on RPC"),
            InvalidBody(m) => m.clone(),
            InvalidRange(_) | OffsetOutOfRange { .. } => {
                "Requested range not satisfiable".into()
            }
            PutFilters => {
                "Filters must include all and only primary key columns with 'eq' operators".into()
            }
            SchemaNotExposed { schema, .. } => format!("Invalid schema: {schema}"),
            NotAcceptable(m) => format!("None of these media types are available: {m}"),
            NotEmbedded(n) => format!("'{n}' is not an embedded resource in this request"),
            ResponseHeaders => "response.headers guc must be a JSON array composed of objects with a single key and a string value".into(),
            ResponseStatus => "response.status guc must be a valid status code".into(),
            PutLimit => "limit/offset querystring parameters are not allowed for PUT".into(),
            PutMismatch => "Payload values do not match URL in primary key column(s)".into(),
            Singular(_) => "Cannot coerce the result to a single JSON object".into(),
            Method(m) => format!("Unsupported HTTP method: {m}"),
            RelatedOrder { target, .. } => format!("A related order on '{target}' is not possible"),
            EmbedFilter(target) => format!("Bad operator on the '{target}' embedded resource"),
            RaiseParse(_) => "Could not parse JSON in the \"RAISE SQLSTATE 'PGRST'\" error".into(),
            InvalidPreferences(_) => "Invalid preferences given with handling=strict".into(),
            AggregatesDisabled => "Use of aggregate functions is not allowed".into(),
            MaxAffected(_) => "Query result exceeds max-affected preference constraint".into(),
            InvalidPath => "Invalid path specified in request URL".into(),
            OpenApiDisabled => "Root endpoint metadata is disabled".into(),
            NotImplemented(_) => "Feature not implemented".into(),
            MaxAffectedRpc => "Function must return SETOF or TABLE when max-affected preference is used with handling=strict".into(),
            NoRelationship { parent, child, .. } => format!(
                "Could not find a relationship between '{parent}' and '{child}' in the schema cache"
            ),
            AmbiguousRelationship { parent, child, .. } => format!(
                "Could not embed because more than one relationship was found for '{parent}' and '{child}'"
            ),
            FunctionNotFound {
                qualified, sent_as, ..
            } if sent_as.is_raw() => {
                format!("Could not find the function {qualified} in the schema cache")
            }
            FunctionNotFound {
                qualified, args, ..
            } if args.is_empty() => format!(
                "Could not find the function {qualified} without parameters in the schema cache"
            ),
            FunctionNotFound {
                qualified, args, ..
            } => format!(
                "Could not find the function {qualified}({}) in the schema cache",
                args.join(", ")
            ),
            AmbiguousFunction(c) => format!(
                "Could not choose the best candidate function between: {}",
                c.join(", ")
            ),
            ColumnNotFound { table, column } => {
                format!("Could not find the '{column}' column of '{table}' in the schema cache")
            }
            TableNotFound { qualified, .. } => {
                format!("Could not find the table '{qualified}' in the schema cache")
            }
            Jwt(JwtErrorKind::Invalid(m)) | Jwt(JwtErrorKind::Claims(m)) => m.clone(),
            Jwt(JwtErrorKind::AnonymousDisabled) => "Anonymous access is disabled".into(),
            Jwt(JwtErrorKind::NoKey) => "No suitable key or wrong key type".into(),
            Jwt(JwtErrorKind::SecretMissing) => "Server lacks JWT secret".into(),
            Db { error, .. } => error.message.clone(),
            Raised { body, .. } => body
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            Internal(_) => "Internal server error".into(),
        }
    }

    /// The `details` field (a string, an array, or null).
    pub fn details(&self) -> Value {
        use RestError::*;
        match self {
            Parse { details, .. } => json!(details),
            InvalidRange(d) | NotImplemented(d) => json!(d),
            Jwt(JwtErrorKind::NoKey) => json!("None of the keys was able to decode the JWT"),
            OffsetOutOfRange { offset, total } => json!(format!(
                "An offset of {offset} was requested, but there are only {total} rows."
            )),
            Singular(n) => json!(format!("The result contains {n} rows")),
            RelatedOrder { origin, target } => json!(format!(
                "'{origin}' and '{target}' do not form a many-to-one or one-to-one relationship"
            )),
            InvalidPreferences(p) => json!(format!("Invalid preferences: {}", p.join(", "))),
            EmbedFilter(_) => {
                json!("Only is null or not is null filters are allowed on embedded resources")
            }
            MaxAffected(n) => json!(format!("The query affects {n} rows")),
            NoRelationship {
                parent,
                child,
                schema,
                embed_hint,
                ..
            } => {
                let using = embed_hint
                    .as_ref()
                    .map(|h| format!("' using the hint '{h}"))
                    .unwrap_or_default();
                json!(format!(
                    "Searched for a foreign key relationship between '{parent}' and '{child}{using}' in the schema '{schema}', but no matches were found."
                ))
            }
            AmbiguousRelationship { candidates, .. } => Value::Array(candidates.clone()),
            FunctionNotFound {
                qualified,
                args,
                sent_as,
                ..
            } => {
                // PostgREST says "parameter" for one argument and "parameters" for several.
                let params = if args.is_empty() {
                    " without parameters".to_string()
                } else {
                    format!(
                        " with parameter{} {}",
                        if args.len() > 1 { "s" } else { "" },
                        args.join(", ")
                    )
                };
                let searched = match sent_as {
                    ArgSource::Text => " with a single unnamed text parameter".to_string(),
                    ArgSource::Xml => " with a single unnamed xml parameter".to_string(),
                    ArgSource::Bytea => " with a single unnamed bytea parameter".to_string(),
                    ArgSource::Json => {
                        format!("{params} or with a single unnamed json/jsonb parameter")
                    }
                    ArgSource::Query | ArgSource::Form | ArgSource::Csv => params,
                };
                json!(format!(
                    "Searched for the function {qualified}{searched}, but no matches were found in the schema cache."
                ))
            }
            Db { error, .. } => error
                .details
                .clone()
                .map(Value::String)
                .unwrap_or(Value::Null),
            Raised { body, .. } => body.get("details").cloned().unwrap_or(Value::Null),
            RaiseParse(p) => json!(match p {
                RaiseProblem::Message(m) => format!("Invalid JSON value for MESSAGE: '{m}'"),
                RaiseProblem::Detail(d) => format!("Invalid JSON value for DETAIL: '{d}'"),
                RaiseProblem::NoDetail => "DETAIL is missing in the RAISE statement".into(),
            }),
            _ => Value::Null,
        }
    }

    /// The `hint` field.
    pub fn hint(&self) -> Value {
        use RestError::*;
        match self {
            SchemaNotExposed { exposed, .. } => json!(format!(
                "Only the following schemas are exposed: {}",
                exposed.join(", ")
            )),
            NotEmbedded(n) => json!(format!(
                "Verify that '{n}' is included in the 'select' query parameter."
            )),
            AmbiguousRelationship {
                child, suggestions, ..
            } => json!(format!(
                "Try changing '{child}' to one of the following: {}. Find the desired relationship in the 'details' key.",
                suggestions
                    .iter()
                    .map(|s| format!("'{s}'"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
            // No hint for a raw body: only one parameter shape was possible.
            FunctionNotFound {
                suggestion: Some(s),
                sent_as,
                ..
            } if !sent_as.is_raw() => json!(format!("Perhaps you meant to call the function {s}")),
            AmbiguousFunction(_) => json!(
                "Try renaming the parameters or the function itself in the database so function overloading can be resolved"
            ),
            TableNotFound {
                suggestion: Some(s),
                ..
            } => json!(format!("Perhaps you meant the table '{s}'")),
            NoRelationship {
                suggestion: Some(s),
                ..
            } => json!(s),
            Db { error, .. } => error.hint.clone().map(Value::String).unwrap_or(Value::Null),
            Raised { body, .. } => body.get("hint").cloned().unwrap_or(Value::Null),
            RaiseParse(RaiseProblem::Message(_)) => json!(
                "MESSAGE must be a JSON object with obligatory keys: 'code', 'message' and optional keys: 'details', 'hint'."
            ),
            RaiseParse(_) => json!(
                "DETAIL must be a JSON object with obligatory keys: 'status', 'headers' and optional key: 'status_text'."
            ),
            _ => Value::Null,
        }
    }

    /// The JSON body `{code,message,details,hint}`.
    pub fn body(&self) -> Value {
        json!({
            "code": self.code(),
            "message": self.message(),
            "details": self.details(),
            "hint": self.hint(),
        })
    }

    /// Headers that go with the error (`Proxy-Status`, `WWW-Authenticate`, custom raise headers).
    pub fn headers(&self) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        if let Ok(v) = HeaderValue::from_str(&format!("PostgREST; error={}", self.code())) {
            h.insert("proxy-status", v);
        }
        // As PostgREST on every 503 (the database unreachable, a connection lost): clients
        // that retry, supabase-js's GETs among them, may do so at once.
        if self.status() == StatusCode::SERVICE_UNAVAILABLE {
            h.insert(http::header::RETRY_AFTER, HeaderValue::from_static("0"));
        }
        match self {
            RestError::Jwt(kind) if self.status() == StatusCode::UNAUTHORIZED => {
                let desc = match kind {
                    JwtErrorKind::AnonymousDisabled => None,
                    _ => Some(self.message().replace('"', "'")),
                };
                let value = match desc {
                    Some(d) => {
                        format!("Bearer error=\"invalid_token\", error_description=\"{d}\"")
                    }
                    None => "Bearer".to_string(),
                };
                if let Ok(v) = HeaderValue::from_str(&value) {
                    h.insert(http::header::WWW_AUTHENTICATE, v);
                }
            }
            // Every 401 from PostgreSQL (a refused anon, a role that does not exist).
            RestError::Db { .. } if self.status() == StatusCode::UNAUTHORIZED => {
                h.insert(
                    http::header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer"),
                );
            }
            RestError::OffsetOutOfRange { total, .. } => {
                if let Ok(v) = HeaderValue::from_str(&format!("*/{total}")) {
                    h.insert(http::header::CONTENT_RANGE, v);
                }
            }
            RestError::Raised { headers, .. } => {
                for (k, v) in headers {
                    if let (Ok(k), Ok(v)) = (
                        http::HeaderName::from_bytes(k.as_bytes()),
                        HeaderValue::from_str(v),
                    ) {
                        h.insert(k, v);
                    }
                }
            }
            _ => {}
        }
        h
    }

    /// Builds an error from a PostgreSQL error, decoding `RAISE SQLSTATE 'PGRST'` payloads.
    pub fn from_db(error: DbError, anon: bool) -> Self {
        if error.code != "PGRST" {
            return RestError::Db { error, anon };
        }
        // MESSAGE: an object with `code` and `message` (text) and optional `details` and
        // `hint` (text or null); the body is exactly those four, as PostgREST's.
        let text = |m: &Map<String, Value>, k: &str| match m.get(k) {
            None | Some(Value::Null) => Some(Value::Null),
            Some(Value::String(s)) => Some(Value::String(s.clone())),
            Some(_) => None,
        };
        let body = match serde_json::from_str::<Value>(&error.message) {
            Ok(Value::Object(m)) => match (
                m.get("code").and_then(Value::as_str),
                m.get("message").and_then(Value::as_str),
                text(&m, "details"),
                text(&m, "hint"),
            ) {
                (Some(code), Some(message), Some(details), Some(hint)) => Some(json!({
                    "code": code, "message": message, "details": details, "hint": hint,
                })),
                _ => None,
            },
            _ => None,
        };
        let Some(body) = body else {
            return RestError::RaiseParse(RaiseProblem::Message(error.message));
        };
        // DETAIL: an object with `status` (a number) and `headers` (text values).
        let Some(detail_text) = error.details else {
            return RestError::RaiseParse(RaiseProblem::NoDetail);
        };
        let parsed = match serde_json::from_str::<Value>(&detail_text) {
            Ok(Value::Object(d)) => {
                let status = d
                    .get("status")
                    .and_then(Value::as_u64)
                    .and_then(|s| u16::try_from(s).ok())
                    .filter(|s| (100..1000).contains(s));
                // `status_text` is optional, but text when given.
                let status_text = match d.get("status_text") {
                    None | Some(Value::Null) => Some(None),
                    Some(Value::String(t)) => Some(Some(t.clone())),
                    Some(_) => None,
                };
                let headers: Option<Vec<(String, String)>> =
                    d.get("headers").and_then(Value::as_object).and_then(|m| {
                        m.iter()
                            .map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
                            .collect()
                    });
                status.zip(headers).zip(status_text)
            }
            _ => None,
        };
        match parsed {
            Some(((status, headers), status_text)) => RestError::Raised {
                body,
                status,
                status_text,
                headers,
            },
            None => RestError::RaiseParse(RaiseProblem::Detail(detail_text)),
        }
    }
}

#[cfg(test)]
#[path = "error_tests.rs"]
mod tests;
