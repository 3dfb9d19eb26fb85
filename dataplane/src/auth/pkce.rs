//! PKCE (RFC 7636) as GoTrue runs it: a flow state row (`auth.flow_state`) holds the client's
//! `code_challenge` when an email or OAuth flow starts; the flow ends with an auth code on the
//! redirect, which `POST /token?grant_type=pkce` exchanges, with the verifier, for a session.

use axum::Json;
use base64::Engine as _;
use deadpool_postgres::GenericClient;
use serde_json::Value;
use sha2::{Digest as _, Sha256};
use uuid::Uuid;

use super::error::{AuthError, AuthResult};
use super::sessions::{self, Extras};
use super::{Ctx, ct_eq, unix_now};

/// Seconds a flow state (and its auth code) stays usable.
pub const FLOW_STATE_TTL: i64 = 300;

/// The client's challenge, validated: both parts or neither.
pub fn challenge(
    challenge: Option<&str>,
    method: Option<&str>,
) -> AuthResult<Option<(String, String)>> {
    let challenge = challenge.filter(|c| !c.is_empty());
    let method = method.filter(|m| !m.is_empty());
    match (challenge, method) {
        (None, None) => Ok(None),
        (Some(c), Some(m)) => {
            let m = m.to_ascii_lowercase();
            if m != "s256" && m != "plain" {
                return Err(AuthError::validation("Code challenge method not supported"));
            }
            if !(43..=128).contains(&c.len()) {
                return Err(AuthError::validation(
                    "code challenge has to be between 43 and 128 characters",
                ));
            }
            Ok(Some((c.to_owned(), m)))
        }
        _ => Err(AuthError::validation(
            "PKCE flow requires code_challenge_method and code_challenge",
        )),
    }
}

/// Whether `verifier` answers `challenge`.
pub fn verifier_matches(verifier: &str, challenge: &str, method: &str) -> bool {
    match method {
        "s256" => {
            let digest = Sha256::digest(verifier.as_bytes());
            ct_eq(
                &base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest),
                challenge,
            )
        }
        "plain" => ct_eq(verifier, challenge),
        _ => false,
    }
}

/// Starts a flow.
pub async fn create_flow_state(
    db: &impl GenericClient,
    user_id: Option<Uuid>,
    challenge: &str,
    method: &str,
    provider: &str,
    auth_method: &str,
) -> AuthResult<Uuid> {
    let id = Uuid::new_v4();
    db.execute(
        "INSERT INTO auth.flow_state (id, user_id, code_challenge_method, code_challenge, provider_type,
             authentication_method, created_at, updated_at)
         VALUES ($1, $2, $3::text::auth.code_challenge_method, $4, $5, $6, now(), now())",
        &[&id, &user_id, &method, &challenge, &provider, &auth_method],
    )
    .await?;
    Ok(id)
}

/// Issues the auth code of the user's newest flow for `auth_method`.
pub async fn issue_auth_code(
    db: &impl GenericClient,
    user_id: Uuid,
    auth_method: &str,
) -> AuthResult<String> {
    let code = Uuid::new_v4().to_string();
    let n = db
        .execute(
            "UPDATE auth.flow_state SET auth_code = $3, auth_code_issued_at = now(), updated_at = now()
             WHERE id = (SELECT id FROM auth.flow_state WHERE user_id = $1 AND authentication_method = $2
                         ORDER BY created_at DESC LIMIT 1)",
            &[&user_id, &auth_method, &code],
        )
        .await?;
    if n == 0 {
        return Err(AuthError::not_found(
            "flow_state_not_found",
            "No associated flow state found",
        ));
    }
    Ok(code)
}

/// `POST /token?grant_type=pkce`.
pub async fn grant(ctx: &Ctx, body: &Value) -> AuthResult<Json<Value>> {
    let code = body.get("auth_code").and_then(Value::as_str).unwrap_or("");
    let verifier = body
        .get("code_verifier")
        .and_then(Value::as_str)
        .unwrap_or("");
    if code.is_empty() || verifier.is_empty() {
        return Err(AuthError::validation(
            "invalid request: both auth code and code verifier should be non-empty",
        ));
    }
    let mut db = ctx.project.pool.get().await?;
    let tx = db.transaction().await?;
    let row = tx
        .query_opt(
            "SELECT id, user_id, code_challenge, code_challenge_method::text, authentication_method,
                    provider_access_token, provider_refresh_token,
                    floor(extract(epoch FROM coalesce(auth_code_issued_at, created_at)))::bigint
             FROM auth.flow_state WHERE auth_code = $1 FOR UPDATE",
            &[&code],
        )
        .await?
        .ok_or_else(|| AuthError::not_found("flow_state_not_found", "invalid flow state, no valid flow state found"))?;
    let id: Uuid = row.get(0);
    let issued: i64 = row.get(7);
    if unix_now() > issued + FLOW_STATE_TTL {
        tx.execute("DELETE FROM auth.flow_state WHERE id = $1", &[&id])
            .await?;
        tx.commit().await?;
        return Err(AuthError::unprocessable(
            "flow_state_expired",
            "invalid flow state, flow state has expired",
        ));
    }
    let challenge: Option<String> = row.get(2);
    let method: Option<String> = row.get(3);
    if !verifier_matches(
        verifier,
        challenge.as_deref().unwrap_or(""),
        method.as_deref().unwrap_or(""),
    ) {
        return Err(AuthError::bad_request(
            "bad_code_verifier",
            "code challenge does not match previously saved code verifier",
        ));
    }
    let user_id: Option<Uuid> = row.get(1);
    let user_id = user_id.ok_or_else(|| {
        AuthError::not_found(
            "flow_state_not_found",
            "invalid flow state, no valid flow state found",
        )
    })?;
    let auth_method: String = row.get(4);
    let extras = Extras {
        provider_token: row.get(5),
        provider_refresh_token: row.get(6),
        weak_password: None,
    };
    tx.execute("DELETE FROM auth.flow_state WHERE id = $1", &[&id])
        .await?;
    let amr = if auth_method == "email/signup" || auth_method == "magiclink" {
        "otp"
    } else {
        auth_method.as_str()
    };
    let session = sessions::sign_in(&tx, ctx, user_id, amr, &extras).await?;
    tx.commit().await?;
    Ok(Json(session))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7636_example() {
        // RFC 7636 appendix B.
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(verifier_matches(verifier, challenge, "s256"));
        assert!(!verifier_matches("x", challenge, "s256"));
        assert!(verifier_matches("abc", "abc", "plain"));
        assert!(!verifier_matches(verifier, challenge, "S256?"));
    }

    #[test]
    fn challenges_need_both_parts() {
        assert_eq!(challenge(None, None).expect("none"), None);
        assert!(challenge(Some("x"), None).is_err());
        assert!(challenge(Some(&"a".repeat(43)), Some("md5")).is_err());
        assert!(challenge(Some("short"), Some("s256")).is_err());
        assert_eq!(
            challenge(Some(&"a".repeat(43)), Some("S256"))
                .expect("ok")
                .map(|c| c.1),
            Some("s256".to_owned())
        );
    }
}
