//! Sessions: creating one at sign-in (row in `auth.sessions`, its first refresh token, the
//! `amr` claim row), minting access tokens with GoTrue's claims, and authenticating the
//! bearer of a user or admin request.
//!
//! Session validity (`not_after` from the timebox setting, the inactivity timeout) is decided
//! by [`session_state`], a pure function the refresh grant and `GET /user` share.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use deadpool_postgres::GenericClient;
use serde_json::{Value, json};
use uuid::Uuid;

use super::error::{AuthError, AuthResult};
use super::{Ctx, refresh_tokens, unix_now};
use crate::http::jwt::JwtError;
use crate::server::project::ProjectContext;

/// The data claims are built from.
#[derive(Debug, Clone)]
pub struct ClaimsInput {
    /// User id.
    pub user_id: Uuid,
    /// Session id.
    pub session_id: Uuid,
    /// Email or ''.
    pub email: String,
    /// Phone or ''.
    pub phone: String,
    /// `raw_app_meta_data`.
    pub app_metadata: Value,
    /// `raw_user_meta_data`.
    pub user_metadata: Value,
    /// Database role (`authenticated`).
    pub role: String,
    /// `aal1`/`aal2`.
    pub aal: String,
    /// `[{method, timestamp}]`, newest first.
    pub amr: Value,
    /// Anonymous user.
    pub is_anonymous: bool,
}

/// GoTrue's access-token claims.
pub fn build_claims(input: &ClaimsInput, issuer: &str, iat: i64, exp_secs: u64) -> Value {
    json!({
        "aud": "authenticated",
        "exp": iat + exp_secs as i64,
        "iat": iat,
        "iss": issuer,
        "sub": input.user_id.to_string(),
        "email": input.email,
        "phone": input.phone,
        "app_metadata": input.app_metadata,
        "user_metadata": input.user_metadata,
        "role": input.role,
        "aal": input.aal,
        "amr": input.amr,
        "session_id": input.session_id.to_string(),
        "is_anonymous": input.is_anonymous,
    })
}

/// Whether a session may still be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionState {
    /// Usable.
    Valid,
    /// Past `not_after` (the timebox).
    TimedOut,
    /// Not refreshed for longer than the inactivity timeout.
    Inactive,
}

/// Decides a session's state at `now` (all Unix seconds).
pub fn session_state(
    not_after: Option<i64>,
    last_active: i64,
    inactivity_timeout: u64,
    now: i64,
) -> SessionState {
    if not_after.is_some_and(|t| now >= t) {
        return SessionState::TimedOut;
    }
    if inactivity_timeout > 0 && now - last_active >= inactivity_timeout as i64 {
        return SessionState::Inactive;
    }
    SessionState::Valid
}

/// Optional parts of a token response.
#[derive(Debug, Default, Clone)]
pub struct Extras {
    /// OAuth provider access token.
    pub provider_token: Option<String>,
    /// OAuth provider refresh token.
    pub provider_refresh_token: Option<String>,
    /// `weak_password` for a sign-in whose password fails the current policy.
    pub weak_password: Option<Value>,
}

/// Mints an access token for `session_id` and returns `(token, exp, user JSON)`.
pub async fn access_token(
    db: &impl GenericClient,
    ctx: &Ctx,
    session_id: Uuid,
) -> AuthResult<(String, i64, Value)> {
    let row = db
        .query_opt(
            "SELECT u.id, coalesce(u.email, ''), coalesce(u.phone, ''),
                    coalesce(u.raw_app_meta_data, '{}'::jsonb), coalesce(u.raw_user_meta_data, '{}'::jsonb),
                    coalesce(nullif(u.role, ''), 'authenticated'), u.is_anonymous,
                    coalesce(s.aal::text, 'aal1'),
                    coalesce((SELECT jsonb_agg(jsonb_build_object(
                                  'method', c.authentication_method,
                                  'timestamp', floor(extract(epoch FROM c.updated_at))::bigint)
                                  ORDER BY c.updated_at DESC)
                              FROM auth.mfa_amr_claims c WHERE c.session_id = s.id), '[]'::jsonb),
                    madbase.auth_user_json(u)
             FROM auth.sessions s JOIN auth.users u ON u.id = s.user_id
             WHERE s.id = $1",
            &[&session_id],
        )
        .await?
        .ok_or_else(|| AuthError::forbidden("session_not_found", "Session not found"))?;
    let input = ClaimsInput {
        user_id: row.get(0),
        session_id,
        email: row.get(1),
        phone: row.get(2),
        app_metadata: row.get(3),
        user_metadata: row.get(4),
        role: row.get(5),
        is_anonymous: row.get(6),
        aal: row.get(7),
        amr: row.get(8),
    };
    let auth = ctx.auth();
    let iat = unix_now();
    let claims = build_claims(&input, &auth.issuer, iat, auth.settings.jwt_exp);
    let exp = iat + auth.settings.jwt_exp as i64;
    Ok((ctx.auth().signing.sign_user_token(&claims), exp, row.get(9)))
}

/// GoTrue's token response.
pub fn token_response(
    access: String,
    exp: i64,
    expires_in: u64,
    refresh: String,
    user: Value,
    extras: &Extras,
) -> Value {
    let mut v = json!({
        "access_token": access,
        "token_type": "bearer",
        "expires_in": expires_in,
        "expires_at": exp,
        "refresh_token": refresh,
        "user": user,
    });
    if let Some(t) = &extras.provider_token {
        v["provider_token"] = json!(t);
    }
    if let Some(t) = &extras.provider_refresh_token {
        v["provider_refresh_token"] = json!(t);
    }
    if let Some(w) = &extras.weak_password {
        v["weak_password"] = w.clone();
    }
    v
}

/// Signs `user_id` in: a new session authenticated by `method` (GoTrue's amr names:
/// `password`, `otp`, `magiclink`, `oauth`, `anonymous`, `recovery`, `invite`, …), its first
/// refresh token and the token response. Runs in the caller's transaction.
pub async fn sign_in(
    db: &impl GenericClient,
    ctx: &Ctx,
    user_id: Uuid,
    method: &str,
    extras: &Extras,
) -> AuthResult<Value> {
    let session_id = Uuid::new_v4();
    let timebox = ctx.auth().settings.sessions_timebox as f64;
    db.execute(
        "INSERT INTO auth.sessions (id, user_id, created_at, updated_at, aal, not_after, user_agent, ip)
         VALUES ($1, $2, now(), now(), 'aal1',
                 CASE WHEN $3::float8 > 0 THEN now() + make_interval(secs => $3::float8) END,
                 $4, $5::text::inet)",
        &[&session_id, &user_id, &timebox, &ctx.user_agent, &ctx.ip],
    )
    .await?;
    add_amr(db, session_id, method).await?;
    db.execute(
        "UPDATE auth.users SET last_sign_in_at = now(), updated_at = now() WHERE id = $1",
        &[&user_id],
    )
    .await?;
    let refresh = refresh_tokens::create(db, user_id, session_id, None).await?;
    let (access, exp, user) = access_token(db, ctx, session_id).await?;
    Ok(token_response(
        access,
        exp,
        ctx.auth().settings.jwt_exp,
        refresh,
        user,
        extras,
    ))
}

/// Records (or refreshes the time of) an authentication method on a session.
pub async fn add_amr(db: &impl GenericClient, session_id: Uuid, method: &str) -> AuthResult<()> {
    db.execute(
        "INSERT INTO auth.mfa_amr_claims (session_id, created_at, updated_at, authentication_method, id)
         VALUES ($1, now(), now(), $2, $3)
         ON CONFLICT (session_id, authentication_method) DO UPDATE SET updated_at = now()",
        &[&session_id, &method, &Uuid::new_v4()],
    )
    .await?;
    Ok(())
}

/// The bearer of a user request: a verified access token whose user and session exist.
pub struct AuthUser {
    /// The verified claims.
    pub claims: Value,
    /// `sub`.
    pub user_id: Uuid,
    /// `session_id`, when the token has one.
    pub session_id: Option<Uuid>,
    /// The user as GoTrue renders it, loaded with the checks.
    pub user: Value,
    /// Request context.
    pub ctx: Ctx,
}

impl AuthUser {
    /// The project.
    pub fn project(&self) -> &Arc<ProjectContext> {
        &self.ctx.project
    }
}

fn bearer(parts: &Parts) -> AuthResult<String> {
    bearer_token(&parts.headers)
}

/// The bearer token of a request, or GoTrue's 401 `no_authorization`.
pub fn bearer_token(headers: &http::HeaderMap) -> AuthResult<String> {
    let value = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let (scheme, token) = value.split_once(' ').unwrap_or(("", ""));
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(AuthError::new(
            http::StatusCode::UNAUTHORIZED,
            "no_authorization",
            "This endpoint requires a valid Bearer token",
        ));
    }
    Ok(token.trim().to_owned())
}

fn bad_jwt(detail: &str) -> AuthError {
    AuthError::forbidden(
        "bad_jwt",
        format!("invalid JWT: unable to parse or verify signature, {detail}"),
    )
}

/// Verifies a user access token's signature, expiry, audience and subject.
pub fn verify_user_token(
    project: &ProjectContext,
    token: &str,
) -> AuthResult<(Value, Uuid, Option<Uuid>)> {
    let claims = project.jwt.verify(token).map_err(|e| match e {
        JwtError::Expired => bad_jwt("token has invalid claims: token is expired"),
        JwtError::BadSignature => bad_jwt("signature is invalid"),
        JwtError::Malformed(m) => bad_jwt(&m),
    })?;
    let aud_ok = match claims.get("aud") {
        Some(Value::String(a)) => a == "authenticated",
        Some(Value::Array(list)) => list.iter().any(|a| a == "authenticated"),
        None => true,
        _ => false,
    };
    if !aud_ok {
        return Err(bad_jwt(
            "token has invalid claims: token has invalid audience",
        ));
    }
    let sub = claims
        .get("sub")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| AuthError::forbidden("bad_jwt", "invalid claim: missing sub claim"))?;
    let user_id = Uuid::parse_str(sub)
        .map_err(|_| AuthError::forbidden("bad_jwt", "invalid claim: sub claim must be a UUID"))?;
    let session_id = claims
        .get("session_id")
        .and_then(Value::as_str)
        .and_then(|s| Uuid::parse_str(s).ok());
    Ok((claims, user_id, session_id))
}

impl<S: Send + Sync> FromRequestParts<S> for AuthUser {
    type Rejection = AuthError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AuthError> {
        let ctx = Ctx::from_request_parts(parts, state).await?;
        let token = bearer(parts)?;
        let (claims, user_id, session_id) = verify_user_token(&ctx.project, &token)?;
        let db = ctx.project.pool.get().await?;
        let row = db
            .query_opt(
                "SELECT madbase.auth_user_json(u),
                        $2::uuid IS NULL OR EXISTS (SELECT 1 FROM auth.sessions s
                                                    WHERE s.id = $2 AND s.user_id = u.id)
                 FROM auth.users u WHERE u.id = $1",
                &[&user_id, &session_id],
            )
            .await?
            .ok_or_else(|| {
                AuthError::forbidden(
                    "user_not_found",
                    "User from sub claim in JWT does not exist",
                )
            })?;
        if !row.get::<_, bool>(1) {
            return Err(AuthError::forbidden(
                "session_not_found",
                "Session from session_id claim in JWT does not exist",
            ));
        }
        Ok(AuthUser {
            claims,
            user_id,
            session_id,
            user: row.get(0),
            ctx,
        })
    }
}

/// The bearer of an admin request: a token whose `role` is `service_role` or `supabase_admin`.
pub struct Admin {
    /// Request context.
    pub ctx: Ctx,
}

impl<S: Send + Sync> FromRequestParts<S> for Admin {
    type Rejection = AuthError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AuthError> {
        let ctx = Ctx::from_request_parts(parts, state).await?;
        let token = bearer(parts)?;
        let claims = ctx.project.jwt.verify(&token).map_err(|e| match e {
            JwtError::Expired => bad_jwt("token has invalid claims: token is expired"),
            JwtError::BadSignature => bad_jwt("signature is invalid"),
            JwtError::Malformed(m) => bad_jwt(&m),
        })?;
        let role = claims.get("role").and_then(Value::as_str).unwrap_or("");
        if role != "service_role" && role != "supabase_admin" {
            return Err(AuthError::forbidden("not_admin", "User not allowed"));
        }
        Ok(Admin { ctx })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> ClaimsInput {
        ClaimsInput {
            user_id: Uuid::nil(),
            session_id: Uuid::max(),
            email: String::new(),
            phone: "15550001".into(),
            app_metadata: json!({"provider": "phone", "providers": ["phone"]}),
            user_metadata: json!({}),
            role: "authenticated".into(),
            aal: "aal1".into(),
            amr: json!([{"method": "password", "timestamp": 1_700_000_000}]),
            is_anonymous: false,
        }
    }

    #[test]
    fn claims_have_gotrues_shape() {
        let c = build_claims(&input(), "http://x/auth/v1", 1_700_000_000, 3600);
        assert_eq!(c["aud"], "authenticated", "aud is a string");
        assert_eq!(c["exp"], 1_700_003_600);
        assert_eq!(c["email"], "", "email is present even when empty");
        assert_eq!(c["phone"], "15550001");
        assert_eq!(c["amr"][0]["method"], "password");
        assert_eq!(c["session_id"], Uuid::max().to_string());
        let keys: Vec<&String> = c.as_object().expect("object").keys().collect();
        for k in [
            "aud",
            "exp",
            "iat",
            "iss",
            "sub",
            "email",
            "phone",
            "app_metadata",
            "user_metadata",
            "role",
            "aal",
            "amr",
            "session_id",
            "is_anonymous",
        ] {
            assert!(keys.iter().any(|x| *x == k), "{k} missing");
        }
    }

    #[test]
    fn session_validity() {
        use SessionState::*;
        assert_eq!(session_state(None, 0, 0, 1_000_000), Valid);
        assert_eq!(session_state(Some(100), 0, 0, 100), TimedOut);
        assert_eq!(session_state(Some(200), 90, 10, 100), Inactive);
        assert_eq!(session_state(Some(200), 95, 10, 100), Valid);
    }
}
