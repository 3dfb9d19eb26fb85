//! The `Prefer` header (RFC 7240) as PostgREST reads it, and the `Preference-Applied` echo.

use http::HeaderMap;

use crate::error::RestError;

/// `return=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Return {
    /// `minimal`.
    Minimal,
    /// `headers-only`.
    HeadersOnly,
    /// `representation`.
    Representation,
}

/// `count=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Count {
    /// `exact`.
    Exact,
    /// `planned`.
    Planned,
    /// `estimated`.
    Estimated,
}

/// `resolution=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    /// `merge-duplicates`.
    Merge,
    /// `ignore-duplicates`.
    Ignore,
}

/// All preferences of one request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Preferences {
    /// `return=`.
    pub return_: Option<Return>,
    /// `count=`.
    pub count: Option<Count>,
    /// `resolution=`.
    pub resolution: Option<Resolution>,
    /// `missing=default` (true) / `missing=null`.
    pub missing_default: Option<bool>,
    /// `handling=strict` (true) / `lenient`.
    pub strict: Option<bool>,
    /// `tx=commit` (false) / `rollback` (true).
    pub rollback: Option<bool>,
    /// `max-affected=`.
    pub max_affected: Option<i64>,
    /// `timezone=`.
    pub timezone: Option<String>,
    /// `params=single-object` (removed in PostgREST 13; still honoured here for v12 clients).
    pub single_object: bool,
    /// Preferences that were not understood.
    pub invalid: Vec<String>,
}

impl Preferences {
    /// Parses every `Prefer` header; unknown ones are kept in `invalid` (see
    /// [`Preferences::refusal`]).
    pub fn parse(headers: &HeaderMap) -> Preferences {
        let mut p = Preferences::default();
        for v in headers.get_all("prefer") {
            let Ok(v) = v.to_str() else { continue };
            for part in v.split(',') {
                let part = part.trim();
                if part.is_empty() {
                    continue;
                }
                let (k, val) = part.split_once('=').unwrap_or((part, ""));
                let (k, val) = (k.trim(), val.trim());
                let ok = match (k, val) {
                    ("return", "minimal") => set(&mut p.return_, Return::Minimal),
                    ("return", "headers-only") => set(&mut p.return_, Return::HeadersOnly),
                    ("return", "representation") => set(&mut p.return_, Return::Representation),
                    ("count", "exact") => set(&mut p.count, Count::Exact),
                    ("count", "planned") => set(&mut p.count, Count::Planned),
                    ("count", "estimated") => set(&mut p.count, Count::Estimated),
                    ("resolution", "merge-duplicates") => set(&mut p.resolution, Resolution::Merge),
                    ("resolution", "ignore-duplicates") => {
                        set(&mut p.resolution, Resolution::Ignore)
                    }
                    ("missing", "default") => set(&mut p.missing_default, true),
                    ("missing", "null") => set(&mut p.missing_default, false),
                    ("handling", "strict") => set(&mut p.strict, true),
                    ("handling", "lenient") => set(&mut p.strict, false),
                    ("tx", "commit") => set(&mut p.rollback, false),
                    ("tx", "rollback") => set(&mut p.rollback, true),
                    ("max-affected", n) => match n.parse::<i64>() {
                        Ok(n) if n >= 0 => set(&mut p.max_affected, n),
                        _ => false,
                    },
                    ("timezone", tz) if !tz.is_empty() => set(&mut p.timezone, tz.to_string()),
                    ("params", "single-object") => {
                        p.single_object = true;
                        true
                    }
                    _ => false,
                };
                if !ok {
                    p.invalid.push(part.to_string());
                }
            }
        }
        p
    }

    /// With `handling=strict`, unknown preferences are an error.
    pub fn refusal(&self) -> Option<RestError> {
        (self.is_strict() && !self.invalid.is_empty())
            .then(|| RestError::InvalidPreferences(self.invalid.clone()))
    }

    /// Whether `handling=strict`.
    pub fn is_strict(&self) -> bool {
        self.strict == Some(true)
    }
}

/// First value wins, like PostgREST.
fn set<T>(slot: &mut Option<T>, v: T) -> bool {
    if slot.is_none() {
        *slot = Some(v);
    }
    true
}

/// Builds the `Preference-Applied` value from what was honoured.
#[derive(Debug, Default)]
pub struct Applied(Vec<String>);

impl Applied {
    /// Records one applied preference.
    pub fn push(&mut self, s: impl Into<String>) {
        self.0.push(s.into());
    }

    /// The header value, if anything was applied, in PostgREST's order.
    pub fn header(&self) -> Option<String> {
        const ORDER: [&str; 9] = [
            "resolution",
            "missing",
            "return",
            "count",
            "params",
            "tx",
            "handling",
            "timezone",
            "max-affected",
        ];
        let rank = |s: &&str| {
            let key = s.split('=').next().unwrap_or_default();
            ORDER.iter().position(|k| *k == key).unwrap_or(ORDER.len())
        };
        let mut applied: Vec<&str> = self.0.iter().map(String::as_str).collect();
        applied.sort_by_key(rank);
        (!applied.is_empty()).then(|| applied.join(", "))
    }
}

impl Return {
    /// Wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Return::Minimal => "return=minimal",
            Return::HeadersOnly => "return=headers-only",
            Return::Representation => "return=representation",
        }
    }
}

impl Count {
    /// Wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Count::Exact => "count=exact",
            Count::Planned => "count=planned",
            Count::Estimated => "count=estimated",
        }
    }
}

impl Resolution {
    /// Wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Resolution::Merge => "resolution=merge-duplicates",
            Resolution::Ignore => "resolution=ignore-duplicates",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn prefs(values: &[&str]) -> Result<Preferences, RestError> {
        let mut h = HeaderMap::new();
        for v in values {
            h.append("prefer", HeaderValue::from_str(v).expect("header"));
        }
        let p = Preferences::parse(&h);
        match p.refusal() {
            Some(e) => Err(e),
            None => Ok(p),
        }
    }

    #[test]
    fn reads_comma_separated_and_repeated_headers() {
        let p = prefs(&["count=exact, return=representation", "tx=rollback"]).expect("ok");
        assert_eq!(p.count, Some(Count::Exact));
        assert_eq!(p.return_, Some(Return::Representation));
        assert_eq!(p.rollback, Some(true));
    }

    #[test]
    fn strict_rejects_unknown_lenient_ignores() {
        let e = prefs(&["handling=strict, foo, bar=baz"]).expect_err("strict");
        assert_eq!(e.code(), "PGRST122");
        assert_eq!(
            e.details(),
            serde_json::json!("Invalid preferences: foo, bar=baz")
        );
        let p = prefs(&["foo, return=minimal"]).expect("lenient");
        assert_eq!(p.return_, Some(Return::Minimal));
    }

    #[test]
    fn max_affected_and_missing() {
        let p = prefs(&["handling=strict, max-affected=5, missing=default"]).expect("ok");
        assert_eq!(p.max_affected, Some(5));
        assert_eq!(p.missing_default, Some(true));
    }
}
