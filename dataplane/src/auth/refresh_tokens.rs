//! Refresh tokens and their rotation (`grant_type=refresh_token`), as GoTrue:
//! every use revokes the token and issues a child (`parent` = the old token, same session);
//! a revoked token that is the parent of the session's active token gets that active token
//! back (the client lost the response); any other revoked token is accepted within the reuse
//! interval; after it, reuse is treated as theft: the whole session is ended and the answer is
//! `refresh_token_already_used`. The decision is the pure [`decide`].
//!
//! Tokens are opaque: 32 random lower-case letters and digits (~165 bits).

use deadpool_postgres::GenericClient;
use serde_json::Value;
use uuid::Uuid;

use super::error::{AuthError, AuthResult};
use super::sessions::{self, Extras, SessionState};
use super::{ALNUM_LOWER, Ctx, audit, random_string, unix_now};

/// Length of new refresh tokens.
pub const TOKEN_LEN: usize = 32;

/// Inserts a new active refresh token for `session_id`.
pub async fn create(
    db: &impl GenericClient,
    user_id: Uuid,
    session_id: Uuid,
    parent: Option<&str>,
) -> AuthResult<String> {
    let token = random_string(TOKEN_LEN, ALNUM_LOWER);
    db.execute(
        "INSERT INTO auth.refresh_tokens (instance_id, token, user_id, revoked, created_at, updated_at, parent, session_id)
         VALUES ('00000000-0000-0000-0000-000000000000', $1, $2, false, now(), now(), $3, $4)",
        &[&token, &user_id.to_string(), &parent, &session_id],
    )
    .await?;
    Ok(token)
}

/// What to do with a presented refresh token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Revoke it and issue a child.
    Rotate,
    /// Already rotated, and its child is the active token: hand that one out again.
    ReturnActive(String),
    /// Reuse after the interval: end the session, answer `refresh_token_already_used`.
    Reject,
}

/// The rotation rule. `revoked_at` is when the presented token was revoked (its `updated_at`),
/// `active` the session's active token as `(token, parent)`.
pub fn decide(
    presented: &str,
    revoked: bool,
    revoked_at: i64,
    active: Option<(&str, Option<&str>)>,
    now: i64,
    reuse_interval: u64,
    rotation: bool,
) -> Decision {
    if !revoked {
        return Decision::Rotate;
    }
    if let Some((token, Some(parent))) = active
        && parent == presented
    {
        return Decision::ReturnActive(token.to_owned());
    }
    if !rotation || now <= revoked_at + reuse_interval as i64 {
        return Decision::Rotate;
    }
    Decision::Reject
}

fn not_found() -> AuthError {
    AuthError::bad_request(
        "refresh_token_not_found",
        "Invalid Refresh Token: Refresh Token Not Found",
    )
}

/// `POST /token?grant_type=refresh_token`.
pub async fn grant(ctx: &Ctx, body: &Value) -> AuthResult<Value> {
    let presented = body
        .get("refresh_token")
        .and_then(Value::as_str)
        .unwrap_or("");
    if presented.is_empty() {
        return Err(AuthError::validation("refresh_token required"));
    }
    // Too short or too long to be one of ours: not found, as GoTrue answers it.
    if presented.len() < 12 || presented.len() > 255 {
        return Err(not_found());
    }
    let settings = &ctx.auth().settings;
    let mut db = ctx.project.pool.get().await?;
    let tx = db.transaction().await?;
    // Locks the token and its session: concurrent refreshes of one session queue here.
    let row = tx
        .query_opt(
            "SELECT rt.revoked, floor(extract(epoch FROM rt.updated_at))::bigint, rt.session_id,
                    s.id IS NOT NULL, s.user_id,
                    floor(extract(epoch FROM s.not_after))::bigint,
                    floor(extract(epoch FROM coalesce(s.refreshed_at AT TIME ZONE 'UTC', s.updated_at, s.created_at)))::bigint,
                    coalesce(u.banned_until > now(), false), coalesce(u.email, '')
             FROM auth.refresh_tokens rt
             LEFT JOIN auth.sessions s ON s.id = rt.session_id
             LEFT JOIN auth.users u ON u.id = s.user_id
             WHERE rt.token = $1
             FOR UPDATE OF rt",
            &[&presented],
        )
        .await?
        .ok_or_else(not_found)?;
    let revoked: Option<bool> = row.get(0);
    let revoked_at: i64 = row.get(1);
    if !row.get::<_, bool>(3) {
        return Err(AuthError::bad_request(
            "session_not_found",
            "Invalid Refresh Token: No Valid Session Found",
        ));
    }
    let session_id: Uuid = row.get(2);
    let user_id: Uuid = row.get(4);
    if row.get::<_, bool>(7) {
        return Err(AuthError::bad_request(
            "user_banned",
            "Invalid Refresh Token: User Banned",
        ));
    }
    let now = unix_now();
    match sessions::session_state(
        row.get(5),
        row.get(6),
        settings.sessions_inactivity_timeout,
        now,
    ) {
        SessionState::Valid => {}
        SessionState::Inactive => {
            return Err(AuthError::bad_request(
                "session_expired",
                "Invalid Refresh Token: Session Expired (Inactivity)",
            ));
        }
        SessionState::TimedOut => {
            return Err(AuthError::bad_request(
                "session_expired",
                "Invalid Refresh Token: Session Expired",
            ));
        }
    }
    tx.execute(
        "SELECT 1 FROM auth.sessions WHERE id = $1 FOR UPDATE",
        &[&session_id],
    )
    .await?;
    let revoked = revoked.unwrap_or(false);
    let active = if revoked {
        tx.query_opt(
            "SELECT token, parent FROM auth.refresh_tokens
             WHERE session_id = $1 AND revoked = false ORDER BY id DESC LIMIT 1",
            &[&session_id],
        )
        .await?
        .map(|r| (r.get::<_, String>(0), r.get::<_, Option<String>>(1)))
    } else {
        None
    };
    let decision = decide(
        presented,
        revoked,
        revoked_at,
        active.as_ref().map(|(t, p)| (t.as_str(), p.as_deref())),
        now,
        settings.refresh_token_reuse_interval,
        settings.refresh_token_rotation,
    );
    let email: String = row.get(8);
    let issued = match decision {
        Decision::Reject => {
            tx.execute("DELETE FROM auth.sessions WHERE id = $1", &[&session_id])
                .await?;
            audit::record(
                &tx,
                ctx,
                Some(user_id),
                &email,
                "token_revoked",
                "token",
                serde_json::json!({"reason": "refresh token reused"}),
            )
            .await?;
            tx.commit().await?;
            tracing::warn!(%session_id, "refresh token reused after rotation; session ended");
            return Err(AuthError::bad_request(
                "refresh_token_already_used",
                "Invalid Refresh Token: Already Used",
            ));
        }
        Decision::ReturnActive(token) => token,
        Decision::Rotate => {
            if !revoked {
                tx.execute(
                    "UPDATE auth.refresh_tokens SET revoked = true, updated_at = now() WHERE token = $1",
                    &[&presented],
                )
                .await?;
            }
            create(&tx, user_id, session_id, Some(presented)).await?
        }
    };
    tx.execute(
        "UPDATE auth.sessions SET refreshed_at = now() AT TIME ZONE 'UTC', updated_at = now() WHERE id = $1",
        &[&session_id],
    )
    .await?;
    audit::record(
        &tx,
        ctx,
        Some(user_id),
        &email,
        "token_refreshed",
        "token",
        Value::Null,
    )
    .await?;
    let (access, exp, user) = sessions::access_token(&tx, ctx, session_id).await?;
    tx.commit().await?;
    Ok(sessions::token_response(
        access,
        exp,
        settings.jwt_exp,
        issued,
        user,
        &Extras::default(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_decisions() {
        let now = 1_000;
        // An active token rotates.
        assert_eq!(decide("a", false, 0, None, now, 10, true), Decision::Rotate);
        // The parent of the active token gets the active token back, however late.
        assert_eq!(
            decide("a", true, 0, Some(("b", Some("a"))), now, 10, true),
            Decision::ReturnActive("b".into())
        );
        // Another revoked token: allowed within the interval…
        assert_eq!(
            decide("a", true, 995, Some(("c", Some("b"))), now, 10, true),
            Decision::Rotate
        );
        // …and theft after it.
        assert_eq!(
            decide("a", true, 900, Some(("c", Some("b"))), now, 10, true),
            Decision::Reject
        );
        assert_eq!(
            decide("a", true, 900, None, now, 10, true),
            Decision::Reject
        );
        // Without rotation, reuse is never an error.
        assert_eq!(decide("a", true, 0, None, now, 10, false), Decision::Rotate);
    }
}
