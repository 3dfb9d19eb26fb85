//! What PostgREST checks in a token's claims once its signature holds, and which role they
//! name. The data plane verifies signatures; everything after that is here, so that the
//! data API refuses and accepts exactly the tokens PostgREST does.

use serde_json::Value;

use crate::error::JwtErrorKind;
use crate::request::RestSettings;
use madbase_config::ClaimStep;

/// The clock skew PostgREST allows on `exp`, `nbf` and `iat`.
const SKEW_SECS: i64 = 30;

/// Seconds since the Unix epoch.
pub fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Checks `claims` as PostgREST does, in its order, and returns the role they name:
/// - `exp` in the past, `nbf` or `iat` in the future (each by more than 30 s), and any of
///   them not a number, are refused;
/// - `aud`, a string or an array of strings, must name `jwt-aud` when that is set (an empty
///   array always passes);
/// - the role is the value at `jwt-role-claim-key`, the anonymous role when there is none (and
///   PGRST302 when anonymous access is off: no `db-anon-role`); a value that is not a string is
///   taken as its JSON text (which names no role).
pub fn authorize(
    claims: &Value,
    settings: &RestSettings,
    now: i64,
) -> Result<String, JwtErrorKind> {
    let refused = |message: &str| Err(JwtErrorKind::Claims(message.to_owned()));
    for (claim, late, message) in [
        ("exp", false, "JWT expired"),
        ("nbf", true, "JWT not yet valid"),
        ("iat", true, "JWT issued at future"),
    ] {
        match claims.get(claim) {
            None => {}
            Some(Value::Number(n)) => {
                // As PostgREST's `toBoundedInteger`: a whole number that fits in 64 bits is
                // itself; any other (a fraction, a huge one) counts as 0, so an `exp` of
                // `1e30` or `now + 0.5` has expired rather than never expiring.
                let at = n.as_i64().unwrap_or_else(|| {
                    n.as_f64()
                        .filter(|f| {
                            f.fract() == 0.0 && *f >= i64::MIN as f64 && *f < i64::MAX as f64
                        })
                        .map_or(0, |f| f as i64)
                });
                let bad = if late {
                    at > now.saturating_add(SKEW_SECS)
                } else {
                    at < now.saturating_sub(SKEW_SECS)
                };
                if bad {
                    return refused(message);
                }
            }
            Some(_) => return refused(&format!("The JWT '{claim}' claim must be a number")),
        }
    }
    let aud_matches = |aud: &str| settings.jwt_aud.as_deref().is_none_or(|want| want == aud);
    let aud_ok = match claims.get("aud") {
        None | Some(Value::Null) => true,
        Some(Value::String(aud)) => aud_matches(aud),
        Some(Value::Array(list)) => {
            let Some(auds) = list.iter().map(Value::as_str).collect::<Option<Vec<_>>>() else {
                return refused("The JWT 'aud' claim must be a string or an array of strings");
            };
            auds.is_empty() || auds.into_iter().any(aud_matches)
        }
        Some(_) => return refused("The JWT 'aud' claim must be a string or an array of strings"),
    };
    if !aud_ok {
        return refused("JWT not in audience");
    }
    match role_at(claims, settings.role_claim_key.steps()) {
        Some(Value::String(role)) => Ok(role.clone()),
        Some(other) => Ok(other.to_string()),
        None => settings
            .anon_role
            .clone()
            .ok_or(JwtErrorKind::AnonymousDisabled),
    }
}

/// The value `steps` lead to, if any.
fn role_at<'a>(claims: &'a Value, steps: &[ClaimStep]) -> Option<&'a Value> {
    let mut at = claims;
    for step in steps {
        at = match (step, at) {
            (ClaimStep::Key(k), Value::Object(o)) => o.get(k)?,
            (ClaimStep::Index(i), Value::Array(a)) => a.get(*i)?,
            (ClaimStep::Filter(how, text), Value::Array(a)) => a
                .iter()
                .find(|v| v.as_str().is_some_and(|s| how.matches(s, text)))?,
            _ => return None,
        };
    }
    Some(at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use madbase_config::RoleClaimKey;
    use serde_json::json;

    const NOW: i64 = 1_800_000_000;

    fn check(claims: Value) -> Result<String, JwtErrorKind> {
        authorize(&claims, &RestSettings::default(), NOW)
    }

    fn refusal(message: &str) -> Result<String, JwtErrorKind> {
        Err(JwtErrorKind::Claims(message.into()))
    }

    #[test]
    fn times_are_checked_with_thirty_seconds_of_skew() {
        assert_eq!(check(json!({"role": "r", "exp": NOW - 29})), Ok("r".into()));
        assert_eq!(check(json!({"exp": NOW - 31})), refusal("JWT expired"));
        // As PostgREST: a number that is not a whole 64-bit one counts as 0.
        assert_eq!(
            check(json!({"exp": (NOW + 60) as f64 + 0.5})),
            refusal("JWT expired")
        );
        assert_eq!(check(json!({"exp": 1e30})), refusal("JWT expired"));
        assert_eq!(check(json!({"exp": u64::MAX})), refusal("JWT expired"));
        assert_eq!(check(json!({"exp": (NOW + 60) as f64})), Ok("anon".into()));
        assert_eq!(
            check(json!({"nbf": (NOW + 3600) as f64 + 0.5})),
            Ok("anon".into())
        );
        assert_eq!(check(json!({"iat": 1e19})), Ok("anon".into()));
        assert_eq!(check(json!({"nbf": NOW + 30})), Ok("anon".into()));
        assert_eq!(
            check(json!({"nbf": NOW + 31})),
            refusal("JWT not yet valid")
        );
        assert_eq!(
            check(json!({"iat": NOW + 31})),
            refusal("JWT issued at future")
        );
        // A time claim that is present must be a number: `null` is not one.
        assert_eq!(
            check(json!({"exp": null})),
            refusal("The JWT 'exp' claim must be a number")
        );
        assert_eq!(
            check(json!({"iat": null})),
            refusal("The JWT 'iat' claim must be a number")
        );
        assert_eq!(
            check(json!({"exp": "tomorrow"})),
            refusal("The JWT 'exp' claim must be a number")
        );
        assert_eq!(
            check(json!({"nbf": [1]})),
            refusal("The JWT 'nbf' claim must be a number")
        );
        // exp is checked first, as PostgREST does.
        assert_eq!(
            check(json!({"exp": NOW - 100, "nbf": NOW + 100})),
            refusal("JWT expired")
        );
    }

    #[test]
    fn the_audience_must_match_when_one_is_set() {
        assert_eq!(check(json!({"aud": "anything"})), Ok("anon".into()));
        assert_eq!(
            check(json!({"aud": 5})),
            refusal("The JWT 'aud' claim must be a string or an array of strings")
        );
        assert_eq!(
            check(json!({"aud": ["a", 1]})),
            refusal("The JWT 'aud' claim must be a string or an array of strings")
        );
        let settings = RestSettings {
            jwt_aud: Some("app".into()),
            ..RestSettings::default()
        };
        let with = |claims: Value| authorize(&claims, &settings, NOW);
        assert_eq!(with(json!({"aud": "app", "role": "x"})), Ok("x".into()));
        assert_eq!(with(json!({"aud": ["other", "app"]})), Ok("anon".into()));
        assert_eq!(with(json!({"aud": []})), Ok("anon".into()));
        assert_eq!(with(json!({})), Ok("anon".into()));
        assert_eq!(
            with(json!({"aud": "authenticated"})),
            refusal("JWT not in audience")
        );
        assert_eq!(
            with(json!({"aud": ["a", "b"]})),
            refusal("JWT not in audience")
        );
    }

    #[test]
    fn the_role_is_found_where_the_key_says() {
        let at = |key: &str, claims: Value| {
            let settings = RestSettings {
                role_claim_key: RoleClaimKey::parse(key).expect("key"),
                ..RestSettings::default()
            };
            authorize(&claims, &settings, NOW)
        };
        assert_eq!(
            at(
                ".app_metadata.role",
                json!({"role": "authenticated", "app_metadata": {"role": "admin"}})
            ),
            Ok("admin".into())
        );
        assert_eq!(
            at(".app_metadata.role", json!({"role": "x"})),
            Ok("anon".into())
        );
        assert_eq!(
            at(
                ".\"https://example.com/role\"",
                json!({"https://example.com/role": "editor"})
            ),
            Ok("editor".into())
        );
        assert_eq!(
            at(".roles[1]", json!({"roles": ["a", "b"]})),
            Ok("b".into())
        );
        assert_eq!(
            at(".roles[2]", json!({"roles": ["a", "b"]})),
            Ok("anon".into())
        );
        assert_eq!(
            at(
                ".roles[?(@ ^== \"app_\")]",
                json!({"roles": [1, "user", "app_writer", "app_x"]})
            ),
            Ok("app_writer".into())
        );
        assert_eq!(
            at(".roles[?(@ == \"none\")]", json!({"roles": ["a"]})),
            Ok("anon".into())
        );
        // Not a string: its JSON text, which names no role and so fails in the database.
        assert_eq!(at(".role", json!({"role": 7})), Ok("7".into()));
        assert_eq!(at(".role", json!({"role": null})), Ok("null".into()));
        assert_eq!(at(".role.name", json!({"role": "flat"})), Ok("anon".into()));
        let no_anon = RestSettings {
            anon_role: None,
            ..RestSettings::default()
        };
        assert_eq!(
            authorize(&json!({"sub": "x"}), &no_anon, NOW),
            Err(JwtErrorKind::AnonymousDisabled)
        );
        assert_eq!(
            authorize(&json!({"role": "web"}), &no_anon, NOW),
            Ok("web".into())
        );
    }
}
