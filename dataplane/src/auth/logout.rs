//! `POST /logout?scope=global|local|others`: ends sessions (their refresh tokens go with them).
//! Access tokens stay valid until they expire, as with GoTrue; `/user` refuses them at once.

use axum::extract::Query;
use http::StatusCode;
use serde::Deserialize;
use serde_json::json;

use super::audit;
use super::error::{AuthError, AuthResult};
use super::sessions::AuthUser;

/// The scope.
#[derive(Debug, Deserialize)]
pub struct LogoutQuery {
    scope: Option<String>,
}

/// `POST /logout`.
pub async fn logout(user: AuthUser, q: Query<LogoutQuery>) -> AuthResult<StatusCode> {
    let scope = q.scope.as_deref().unwrap_or("global");
    let db = user.project().pool.get().await?;
    match (scope, user.session_id) {
        ("local", Some(sid)) => {
            db.execute("DELETE FROM auth.sessions WHERE id = $1", &[&sid])
                .await?;
        }
        ("others", Some(sid)) => {
            db.execute(
                "DELETE FROM auth.sessions WHERE user_id = $1 AND id <> $2",
                &[&user.user_id, &sid],
            )
            .await?;
        }
        ("others", None) => {}
        ("global" | "local", _) => {
            db.execute(
                "DELETE FROM auth.sessions WHERE user_id = $1",
                &[&user.user_id],
            )
            .await?;
        }
        _ => return Err(AuthError::validation("Unsupported logout scope")),
    }
    let email = user
        .claims
        .get("email")
        .and_then(|e| e.as_str())
        .unwrap_or("");
    audit::record(
        &db,
        &user.ctx,
        Some(user.user_id),
        email,
        "logout",
        "account",
        json!({"scope": scope}),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
