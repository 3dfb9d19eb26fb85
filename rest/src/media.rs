//! Content negotiation: which representation the `Accept` header asks for.

use crate::error::RestError;

/// Output format of `EXPLAIN`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanOptions {
    /// `+json` (true) or `+text`.
    pub json: bool,
    /// `options=analyze|verbose|settings|buffers|wal`.
    pub options: Vec<String>,
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
}

impl Media {
    /// The `Content-Type` value sent back.
    pub fn content_type(&self) -> String {
        match self {
            Media::Json { strip_nulls: false } => "application/json; charset=utf-8".into(),
            Media::Json { strip_nulls: true } => {
                "application/vnd.pgrst.array+json; nulls=stripped; charset=utf-8".into()
            }
            Media::Object { strip_nulls: false } => {
                "application/vnd.pgrst.object+json; charset=utf-8".into()
            }
            Media::Object { strip_nulls: true } => {
                "application/vnd.pgrst.object+json; nulls=stripped; charset=utf-8".into()
            }
            Media::Csv => "text/csv; charset=utf-8".into(),
            Media::Plan(p) if p.json => {
                "application/vnd.pgrst.plan+json; for=\"application/json\"; charset=utf-8".into()
            }
            Media::Plan(_) => {
                "application/vnd.pgrst.plan+text; for=\"application/json\"; charset=utf-8".into()
            }
            Media::OpenApi => "application/openapi+json; charset=utf-8".into(),
            Media::GeoJson(_) => "application/geo+json; charset=utf-8".into(),
        }
    }

    /// Whether the response is a single object.
    pub fn is_singular(&self) -> bool {
        matches!(self, Media::Object { .. })
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
) -> Option<Media> {
    let stripped = param(params, "nulls") == Some("stripped");
    Some(match mime {
        "*/*" | "application/*" if root => Media::OpenApi,
        "*/*" | "application/*" | "application/json" => Media::Json { strip_nulls: false },
        "application/openapi+json" if root => Media::OpenApi,
        "application/vnd.pgrst.array+json" => Media::Json {
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
            json: mime != "application/vnd.pgrst.plan+text",
            options: param(params, "options")
                .map(|o| o.split('|').map(|s| s.trim().to_string()).collect())
                .unwrap_or_default(),
        }),
        _ => return None,
    })
}

/// Picks the representation for an `Accept` header value (`root` for `GET /`). `postgis` is
/// the quoted schema of the PostGIS extension: without it `application/geo+json` is not
/// available.
pub fn negotiate(
    accept: Option<&str>,
    root: bool,
    postgis: Option<&str>,
) -> Result<Media, RestError> {
    let Some(accept) = accept.map(str::trim).filter(|a| !a.is_empty()) else {
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
        if let Some(m) = candidate(mime, params, root, postgis) {
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
    fn negotiates_supported_types() {
        assert_eq!(
            negotiate(None, false, None).expect("default"),
            Media::Json { strip_nulls: false }
        );
        assert!(
            negotiate(Some("application/vnd.pgrst.object+json"), false, None)
                .expect("object")
                .is_singular()
        );
        assert_eq!(
            negotiate(Some("text/csv"), false, None).expect("csv"),
            Media::Csv
        );
        assert_eq!(
            negotiate(
                Some("application/vnd.pgrst.array+json;nulls=stripped"),
                false,
                None,
            )
            .expect("stripped"),
            Media::Json { strip_nulls: true }
        );
        let plan = negotiate(
            Some("application/vnd.pgrst.plan+text; for=\"application/json\"; options=analyze|verbose"),
            false,
            None,
        )
        .expect("plan");
        assert_eq!(
            plan,
            Media::Plan(PlanOptions {
                json: false,
                options: vec!["analyze".into(), "verbose".into()]
            })
        );
        assert_eq!(
            negotiate(Some("*/*"), true, None).expect("root"),
            Media::OpenApi
        );
    }

    #[test]
    fn geojson_needs_postgis() {
        let e = negotiate(Some("application/geo+json"), false, None).expect_err("no PostGIS");
        assert_eq!(e.code(), "PGRST107");
        assert_eq!(
            negotiate(Some("application/geo+json"), false, Some("\"gis\"")).expect("PostGIS"),
            Media::GeoJson("\"gis\"".into())
        );
        // Preferred over JSON by position, and skipped for a later type without PostGIS.
        assert_eq!(
            negotiate(Some("application/geo+json, application/json"), false, None).expect("json"),
            Media::Json { strip_nulls: false }
        );
    }

    #[test]
    fn unknown_type_is_406() {
        let e = negotiate(Some("unknown/unknown"), false, None).expect_err("406");
        assert_eq!(e.code(), "PGRST107");
        assert_eq!(e.status().as_u16(), 406);
        assert_eq!(
            e.message(),
            "None of these media types are available: unknown/unknown"
        );
    }
}
