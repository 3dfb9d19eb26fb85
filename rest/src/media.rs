//! Content negotiation: which representation the `Accept` header asks for.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;

use crate::error::RestError;
use crate::schema_cache::{HandlerKind, MediaHandler, QualifiedName};
use crate::sql::Ident;

/// Output format of `EXPLAIN`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanOptions {
    /// `+json` (true) or `+text`.
    pub json: bool,
    /// `options=analyze|verbose|settings|buffers|wal`.
    pub options: Vec<String>,
    /// `for="…"`: the representation whose statement is explained (JSON when absent or not
    /// one of the built-in types).
    pub target: Option<Box<Media>>,
}

impl PlanOptions {
    /// The representation whose statement is explained.
    pub fn target(&self) -> &Media {
        const JSON: Media = Media::Json { strip_nulls: false };
        self.target.as_deref().unwrap_or(&JSON)
    }
}

/// A response representation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Media {
    /// `application/json` (an array; `nulls=stripped` drops null fields).
    Json {
        /// `nulls=stripped`.
        strip_nulls: bool,
    },
    /// `application/vnd.pgrst.object+json`: exactly one row as an object.
    Object {
        /// `nulls=stripped`.
        strip_nulls: bool,
    },
    /// `text/csv`.
    Csv,
    /// `application/vnd.pgrst.plan[+json|+text]`.
    Plan(PlanOptions),
    /// `application/openapi+json` (only for `GET /`).
    OpenApi,
    /// `application/geo+json`: a GeoJSON `FeatureCollection`, built by PostGIS's
    /// `ST_AsGeoJSON(record)` from the schema PostGIS is installed in (quoted).
    GeoJson(String),
    /// A media type handler defined in the database.
    Custom(Arc<MediaHandler>),
}

impl Media {
    /// The `Content-Type` value sent back.
    pub fn content_type(&self) -> String {
        match self {
            Media::Json { strip_nulls: false } => "application/json; charset=utf-8".into(),
            Media::Json { strip_nulls: true } => {
                "application/vnd.pgrst.array+json;nulls=stripped; charset=utf-8".into()
            }
            Media::Object { strip_nulls: false } => {
                "application/vnd.pgrst.object+json; charset=utf-8".into()
            }
            Media::Object { strip_nulls: true } => {
                "application/vnd.pgrst.object+json;nulls=stripped; charset=utf-8".into()
            }
            Media::Csv => "text/csv; charset=utf-8".into(),
            // As PostgREST renders it: the explained type and the options asked for.
            Media::Plan(p) => {
                let target = p.target().content_type();
                let target = target.split(';').next().unwrap_or_default();
                let options = if p.options.is_empty() {
                    String::new()
                } else {
                    format!("; options={}", p.options.join("|"))
                };
                format!(
                    "application/vnd.pgrst.plan+{}; for=\"{target}\"{options}; charset=utf-8",
                    if p.json { "json" } else { "text" }
                )
            }
            Media::OpenApi => "application/openapi+json; charset=utf-8".into(),
            Media::GeoJson(_) => "application/geo+json; charset=utf-8".into(),
            // A handler for a media type PostgREST knows gets its charset, as there; others
            // (`application/octet-stream`, any other) go as named.
            Media::Custom(h) => {
                const WITH_CHARSET: [&str; 7] = [
                    "text/plain",
                    "text/xml",
                    "application/json",
                    "text/csv",
                    "application/geo+json",
                    "application/openapi+json",
                    "application/x-www-form-urlencoded",
                ];
                if WITH_CHARSET
                    .iter()
                    .any(|t| h.content_type.eq_ignore_ascii_case(t))
                {
                    format!("{}; charset=utf-8", h.content_type)
                } else {
                    h.content_type.clone()
                }
            }
        }
    }

    /// The response body from the main statement's `body` text: a handler over `bytea` sends
    /// its bytes (rendered as hex by [`Media::custom_body`]), everything else the text.
    pub fn body(&self, text: Bytes) -> Result<Bytes, RestError> {
        match self {
            Media::Custom(h) if h.bytea => hex_decode(&text)
                .map(Bytes::from)
                .ok_or_else(|| RestError::Internal("handler body is not hex".into())),
            _ => Ok(text),
        }
    }

    /// The body expression of a handler over `arg`: the rows (`_postgrest_t`, which an
    /// aggregate bound to a relation reads as that relation's type) or a function's value
    /// (`scalar`). `NULL` is an empty body.
    pub fn custom_body(h: &MediaHandler, arg: &str, scalar: bool) -> String {
        let value = match &h.kind {
            HandlerKind::Aggregate { function, target } => {
                let f = Ident::qualified(&function.0, &function.1);
                match target {
                    Some(t) if !scalar => format!("{f}({arg}::{})", Ident::qualified(&t.0, &t.1)),
                    _ => format!("{f}({arg})"),
                }
            }
            HandlerKind::Function => format!("(array_agg({arg}))[1]"),
        };
        if h.bytea {
            format!("coalesce(encode(({value})::bytea, 'hex'), '')")
        } else if h.xml {
            // As PostgREST sends it: through xml's output function, which drops the newline
            // after the (omitted) XML declaration, i.e. a leading one; a cast to text keeps it.
            format!("coalesce(pg_catalog.xml_out(({value})::xml)::text, '')")
        } else {
            format!("coalesce(({value})::text, '')")
        }
    }

    /// Whether the response is a single object.
    pub fn is_singular(&self) -> bool {
        matches!(self, Media::Object { .. })
    }
}

fn hex_decode(b: &[u8]) -> Option<Vec<u8>> {
    let digit = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    if !b.len().is_multiple_of(2) {
        return None;
    }
    b.chunks(2)
        .map(|p| Some(digit(p[0])? << 4 | digit(p[1])?))
        .collect()
}

/// The database's media type handlers a request may use (see [`negotiate`]).
pub struct Handlers<'a> {
    /// All handlers, by what they serve and media type.
    pub all: &'a HashMap<(Option<QualifiedName>, String), Arc<MediaHandler>>,
    /// What the request reads: a relation, or a function and the relation it returns.
    pub targets: Vec<QualifiedName>,
    /// Whether the request keeps the default `select` (`*`): handlers bound to a relation or
    /// function apply only then, as their input is the whole row.
    pub default_select: bool,
    /// Whether the request calls a function.
    pub rpc: bool,
}

impl Handlers<'_> {
    /// PostgREST's order: the target's any handler, the target's handler for `mime`, then an
    /// `anyelement` handler for `mime` (which overrides a built-in one). A function's own
    /// handler serves only calls of it.
    fn find(&self, mime: &str) -> Option<Media> {
        let get = |target: Option<&QualifiedName>, mime: &str| {
            self.all
                .get(&(target.cloned(), mime.to_string()))
                .filter(|h| self.rpc || !matches!(h.kind, HandlerKind::Function))
        };
        let bound: &[QualifiedName] = if self.default_select {
            &self.targets
        } else {
            &[]
        };
        bound
            .iter()
            .find_map(|t| get(Some(t), "*/*"))
            .or_else(|| bound.iter().find_map(|t| get(Some(t), mime)))
            .or_else(|| get(None, mime))
            .map(|h| Media::Custom(h.clone()))
    }
}

fn param<'a>(params: &'a [(String, String)], key: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v.as_str())
}

fn candidate(
    mime: &str,
    params: &[(String, String)],
    root: bool,
    postgis: Option<&str>,
    handlers: Option<&Handlers>,
) -> Option<Media> {
    let stripped = param(params, "nulls") == Some("stripped");
    Some(match mime {
        "*/*" | "application/*" if root => Media::OpenApi,
        "*/*" | "application/*" | "application/json" => Media::Json { strip_nulls: false },
        "application/openapi+json" if root => Media::OpenApi,
        // `GET /` produces its description as OpenAPI or JSON, nothing else (PostgREST's 406).
        _ if root => return None,
        "application/vnd.pgrst.array+json" | "application/vnd.pgrst.array" => Media::Json {
            strip_nulls: stripped,
        },
        "application/vnd.pgrst.object+json" | "application/vnd.pgrst.object" => Media::Object {
            strip_nulls: stripped,
        },
        "text/csv" => Media::Csv,
        "application/geo+json" if !root => Media::GeoJson(postgis?.to_string()),
        "application/vnd.pgrst.plan"
        | "application/vnd.pgrst.plan+json"
        | "application/vnd.pgrst.plan+text" => Media::Plan(PlanOptions {
            json: mime == "application/vnd.pgrst.plan+json",
            options: param(params, "options")
                .map(|o| o.split('|').map(|s| s.trim().to_string()).collect())
                .unwrap_or_default(),
            target: param(params, "for")
                .map(|f| f.trim().trim_matches('"').to_ascii_lowercase())
                // A database handler explains its own statement, as PostgREST's.
                .and_then(|f| {
                    let custom = (!f.starts_with("application/vnd.pgrst."))
                        .then(|| handlers.and_then(|h| h.find(&f)))
                        .flatten();
                    custom.or_else(|| candidate(&f, &[], root, postgis, handlers))
                })
                .filter(|m| !matches!(m, Media::Plan(_)))
                .map(Box::new),
        }),
        _ => return None,
    })
}

/// Picks the representation for an `Accept` header value (`root` for `GET /`). `postgis` is
/// the quoted schema of the PostGIS extension: without it `application/geo+json` is not
/// available.
///
/// `handlers` are the database's media type handlers, checked before the built-in types except
/// PostgREST's own vendor types (`application/vnd.pgrst.*`), which cannot be overridden. A
/// request without `Accept` accepts anything (`*/*`).
pub fn negotiate(
    accept: Option<&str>,
    root: bool,
    postgis: Option<&str>,
    handlers: Option<&Handlers>,
) -> Result<Media, RestError> {
    let Some(accept) = accept.map(str::trim).filter(|a| !a.is_empty()) else {
        if let Some(m) = handlers.and_then(|h| h.find("*/*")) {
            return Ok(m);
        }
        return Ok(if root {
            Media::OpenApi
        } else {
            Media::Json { strip_nulls: false }
        });
    };
    // (q, position, media type, parameters)
    type Range = (f32, usize, String, Vec<(String, String)>);
    let mut ranges: Vec<Range> = Vec::new();
    for (i, part) in split_outside_quotes(accept, ',').into_iter().enumerate() {
        let mut pieces = split_outside_quotes(&part, ';').into_iter();
        let mime = pieces
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        let mut params = Vec::new();
        let mut q = 1.0f32;
        for p in pieces {
            let (k, v) = p.split_once('=').unwrap_or((p.as_str(), ""));
            let (k, v) = (k.trim().to_string(), v.trim().trim_matches('"').to_string());
            if k == "q" {
                q = v.parse().unwrap_or(1.0);
            } else {
                params.push((k, v));
            }
        }
        ranges.push((q, i, mime, params));
    }
    ranges.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    for (q, _, mime, params) in &ranges {
        if *q <= 0.0 {
            continue;
        }
        if !mime.starts_with("application/vnd.pgrst.")
            && let Some(m) = handlers.and_then(|h| h.find(mime))
        {
            return Ok(m);
        }
        if let Some(m) = candidate(mime, params, root, postgis, handlers) {
            return Ok(m);
        }
    }
    Err(RestError::NotAcceptable(accept.to_string()))
}

fn split_outside_quotes(s: &str, sep: char) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in s.chars() {
        if c == '"' {
            quoted = !quoted;
        }
        if c == sep && !quoted {
            out.push(std::mem::take(&mut cur));
        } else {
            cur.push(c);
        }
    }
    out.push(cur);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handler_bodies_decode_from_hex_and_refuse_anything_else() {
        assert_eq!(hex_decode(b"00ff7A"), Some(vec![0, 255, 122]));
        assert_eq!(hex_decode(b""), Some(vec![]));
        for bad in ["0", "0g", "\\x00", "é1"] {
            assert_eq!(hex_decode(bad.as_bytes()), None, "{bad}");
        }
    }

    #[test]
    fn negotiates_supported_types() {
        assert_eq!(
            negotiate(None, false, None, None).expect("default"),
            Media::Json { strip_nulls: false }
        );
        assert!(
            negotiate(Some("application/vnd.pgrst.object+json"), false, None, None)
                .expect("object")
                .is_singular()
        );
        assert_eq!(
            negotiate(Some("text/csv"), false, None, None).expect("csv"),
            Media::Csv
        );
        // The root describes the API as OpenAPI or JSON only.
        for other in [
            "text/csv",
            "application/vnd.pgrst.object+json",
            "application/vnd.pgrst.plan",
        ] {
            assert_eq!(
                negotiate(Some(other), true, None, None).map_err(|e| e.code()),
                Err("PGRST107".to_string()),
                "{other}"
            );
        }
        assert_eq!(
            negotiate(
                Some("application/vnd.pgrst.array+json;nulls=stripped"),
                false,
                None,
                None
            )
            .expect("stripped"),
            Media::Json { strip_nulls: true }
        );
        // As PostgREST: without `+json` too, and named back without a space before `nulls`.
        let stripped = negotiate(
            Some("application/vnd.pgrst.array;nulls=stripped"),
            false,
            None,
            None,
        )
        .expect("stripped");
        assert_eq!(stripped, Media::Json { strip_nulls: true });
        assert_eq!(
            stripped.content_type(),
            "application/vnd.pgrst.array+json;nulls=stripped; charset=utf-8"
        );
        let plan = negotiate(Some("application/vnd.pgrst.plan+text; for=\"application/json\"; options=analyze|verbose"), false, None, None)
        .expect("plan");
        assert_eq!(
            plan,
            Media::Plan(PlanOptions {
                json: false,
                options: vec!["analyze".into(), "verbose".into()],
                target: Some(Box::new(Media::Json { strip_nulls: false })),
            })
        );
        // The explained type and the options are named back, as PostgREST does.
        let plan = negotiate(
            Some("application/vnd.pgrst.plan+json; for=\"application/vnd.pgrst.object\"; options=buffers"),
            false,
            None,
            None,
        )
        .expect("plan");
        assert_eq!(
            plan.content_type(),
            "application/vnd.pgrst.plan+json; for=\"application/vnd.pgrst.object+json\"; options=buffers; charset=utf-8"
        );
        assert!(matches!(&plan, Media::Plan(p) if p.target().is_singular()));
        assert_eq!(
            negotiate(Some("*/*"), true, None, None).expect("root"),
            Media::OpenApi
        );
    }

    #[test]
    fn geojson_needs_postgis() {
        let e = negotiate(Some("application/geo+json"), false, None, None).expect_err("no PostGIS");
        assert_eq!(e.code(), "PGRST107");
        assert_eq!(
            negotiate(Some("application/geo+json"), false, Some("\"gis\""), None).expect("PostGIS"),
            Media::GeoJson("\"gis\"".into())
        );
        // Preferred over JSON by position, and skipped for a later type without PostGIS.
        assert_eq!(
            negotiate(
                Some("application/geo+json, application/json"),
                false,
                None,
                None
            )
            .expect("json"),
            Media::Json { strip_nulls: false }
        );
    }

    #[test]
    fn unknown_type_is_406() {
        let e = negotiate(Some("unknown/unknown"), false, None, None).expect_err("406");
        assert_eq!(e.code(), "PGRST107");
        assert_eq!(e.status().as_u16(), 406);
        assert_eq!(
            e.message(),
            "None of these media types are available: unknown/unknown"
        );
    }
}
