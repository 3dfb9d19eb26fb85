//! Multi-factor authentication with TOTP (RFC 6238: HMAC-SHA1, 30 s steps, 6 digits, one step
//! of clock drift either way): enrolling a factor, challenging and verifying it (which lifts
//! the session to `aal2` and adds `totp` to its `amr`), and unenrolling.

use axum::Json;
use axum::extract::Path;
use hmac::{Hmac, Mac as _};
use serde::Deserialize;
use serde_json::{Value, json};
use sha1::Sha1;
use uuid::Uuid;

use super::error::{AuthError, AuthResult};
use super::rate_limit::Bucket;
use super::sessions::{self, AuthUser, Extras};
use super::{Body, ct_eq, otp::pct, refresh_tokens, unix_now};

/// Seconds a challenge stays open.
pub const CHALLENGE_TTL: i64 = 300;

const B32: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// RFC 4648 base32 without padding.
pub fn base32_encode(bytes: &[u8]) -> String {
    let mut out = String::new();
    let (mut buf, mut bits) = (0u32, 0u32);
    for &b in bytes {
        buf = (buf << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            out.push(B32[((buf >> (bits - 5)) & 31) as usize] as char);
            bits -= 5;
        }
    }
    if bits > 0 {
        out.push(B32[((buf << (5 - bits)) & 31) as usize] as char);
    }
    out
}

/// Decodes base32 (case-insensitive, padding and spaces ignored).
pub fn base32_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let (mut buf, mut bits) = (0u32, 0u32);
    for c in s.chars().filter(|c| *c != '=' && !c.is_whitespace()) {
        let v = B32
            .iter()
            .position(|&x| x as char == c.to_ascii_uppercase())? as u32;
        buf = (buf << 5) | v;
        bits += 5;
        if bits >= 8 {
            out.push((buf >> (bits - 8)) as u8);
            bits -= 8;
        }
    }
    Some(out)
}

/// The TOTP code of `secret` for the 30-second step containing `unix`.
pub fn totp(secret: &[u8], unix: i64) -> String {
    let counter = (unix / 30) as u64;
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(secret) else {
        return String::new();
    };
    mac.update(&counter.to_be_bytes());
    let h = mac.finalize().into_bytes();
    let off = (h[19] & 0x0f) as usize;
    let bin = (u32::from(h[off] & 0x7f) << 24)
        | (u32::from(h[off + 1]) << 16)
        | (u32::from(h[off + 2]) << 8)
        | u32::from(h[off + 3]);
    format!("{:06}", bin % 1_000_000)
}

/// Whether `code` is valid for `secret` at `unix`, allowing one step of drift.
pub fn totp_valid(secret: &[u8], code: &str, unix: i64) -> bool {
    code.len() == 6
        && [-30, 0, 30]
            .iter()
            .any(|d| ct_eq(&totp(secret, unix + d), code))
}

/// `POST /factors` body.
#[derive(Debug, Default, Deserialize)]
pub struct EnrollParams {
    friendly_name: Option<String>,
    factor_type: Option<String>,
    issuer: Option<String>,
}

fn qr_svg(uri: &str) -> AuthResult<String> {
    let code = qrcode::QrCode::new(uri.as_bytes()).map_err(AuthError::internal)?;
    Ok(code
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(200, 200)
        .build())
}

/// `POST /factors`: a new, unverified TOTP factor with its secret and QR code.
pub async fn enroll(user: AuthUser, Body(p): Body<EnrollParams>) -> AuthResult<Json<Value>> {
    if user
        .claims
        .get("is_anonymous")
        .and_then(Value::as_bool)
        .unwrap_or(false)
    {
        return Err(AuthError::forbidden(
            "no_authorization",
            "Anonymous users cannot enroll factors",
        ));
    }
    match p.factor_type.as_deref() {
        Some("totp") => {}
        Some("phone") | Some("webauthn") => {
            return Err(AuthError::unprocessable(
                "mfa_factor_type_not_supported",
                "Only TOTP factors are supported",
            ));
        }
        _ => {
            return Err(AuthError::validation(
                "factor_type needs to be totp, phone or webauthn",
            ));
        }
    }
    let mut secret = [0u8; 20];
    rand::fill(&mut secret);
    let secret_b32 = base32_encode(&secret);
    let issuer = p
        .issuer
        .clone()
        .filter(|i| !i.is_empty())
        .unwrap_or_else(|| {
            user.ctx
                .auth()
                .settings
                .site_url
                .split("://")
                .nth(1)
                .unwrap_or("madbase")
                .split('/')
                .next()
                .unwrap_or("madbase")
                .to_owned()
        });
    let account = user
        .user
        .get("email")
        .and_then(Value::as_str)
        .filter(|e| !e.is_empty())
        .or_else(|| user.user.get("phone").and_then(Value::as_str))
        .unwrap_or("")
        .to_owned();
    let uri = format!(
        "otpauth://totp/{}:{}?secret={secret_b32}&issuer={}",
        pct(&issuer),
        pct(&account),
        pct(&issuer)
    );
    let id = Uuid::new_v4();
    let name = p.friendly_name.clone().unwrap_or_default();
    let db = user.project().pool.get().await?;
    let inserted = db
        .execute(
            "INSERT INTO auth.mfa_factors (id, user_id, friendly_name, factor_type, status, created_at, updated_at, secret)
             VALUES ($1, $2, $3, 'totp', 'unverified', now(), now(), $4)
             ON CONFLICT DO NOTHING",
            &[&id, &user.user_id, &name, &secret_b32],
        )
        .await?;
    if inserted == 0 {
        return Err(AuthError::unprocessable(
            "mfa_factor_name_conflict",
            format!("A factor with the friendly name \"{name}\" for this user already exists"),
        ));
    }
    Ok(Json(json!({
        "id": id,
        "type": "totp",
        "friendly_name": name,
        "totp": {"qr_code": qr_svg(&uri)?, "secret": secret_b32, "uri": uri},
    })))
}

fn parse_factor(id: &str) -> AuthResult<Uuid> {
    Uuid::parse_str(id)
        .map_err(|_| AuthError::not_found("mfa_factor_not_found", "Factor not found"))
}

fn mfa_limit(user: &AuthUser) -> AuthResult<()> {
    user.ctx.auth().limits.hit(
        Bucket::Mfa,
        user.ctx.ip_key(),
        15,
        std::time::Duration::from_secs(60),
    )
}

/// `POST /factors/{id}/challenge`.
pub async fn challenge(user: AuthUser, Path(id): Path<String>) -> AuthResult<Json<Value>> {
    mfa_limit(&user)?;
    let fid = parse_factor(&id)?;
    let db = user.project().pool.get().await?;
    let owned = db
        .query_opt(
            "SELECT factor_type::text FROM auth.mfa_factors WHERE id = $1 AND user_id = $2",
            &[&fid, &user.user_id],
        )
        .await?
        .ok_or_else(|| AuthError::not_found("mfa_factor_not_found", "Factor not found"))?;
    let kind: String = owned.get(0);
    let cid = Uuid::new_v4();
    let ip = user.ctx.ip.clone().unwrap_or_else(|| "0.0.0.0".into());
    db.execute(
        "INSERT INTO auth.mfa_challenges (id, factor_id, created_at, ip_address) VALUES ($1, $2, now(), $3::text::inet)",
        &[&cid, &fid, &ip],
    )
    .await?;
    Ok(Json(
        json!({"id": cid, "type": kind, "expires_at": unix_now() + CHALLENGE_TTL}),
    ))
}

/// `POST /factors/{id}/verify` body.
#[derive(Debug, Default, Deserialize)]
pub struct VerifyParams {
    challenge_id: Option<String>,
    code: Option<String>,
}

/// `POST /factors/{id}/verify`: a new token pair for the same session, now `aal2`.
pub async fn verify(
    user: AuthUser,
    Path(id): Path<String>,
    Body(p): Body<VerifyParams>,
) -> AuthResult<Json<Value>> {
    mfa_limit(&user)?;
    let fid = parse_factor(&id)?;
    let cid = p
        .challenge_id
        .as_deref()
        .and_then(|c| Uuid::parse_str(c).ok())
        .ok_or_else(|| AuthError::not_found("mfa_challenge_not_found", "Challenge not found"))?;
    let session_id = user
        .session_id
        .ok_or_else(|| AuthError::forbidden("session_not_found", "Session not found"))?;
    let ctx = &user.ctx;
    let mut db = ctx.project.pool.get().await?;
    let tx = db.transaction().await?;
    let factor = tx
        .query_opt("SELECT secret, status::text FROM auth.mfa_factors WHERE id = $1 AND user_id = $2 FOR UPDATE", &[&fid, &user.user_id])
        .await?
        .ok_or_else(|| AuthError::not_found("mfa_factor_not_found", "Factor not found"))?;
    let ch = tx
        .query_opt(
            "SELECT floor(extract(epoch FROM created_at))::bigint, verified_at IS NOT NULL FROM auth.mfa_challenges
             WHERE id = $1 AND factor_id = $2 FOR UPDATE",
            &[&cid, &fid],
        )
        .await?
        .ok_or_else(|| AuthError::not_found("mfa_challenge_not_found", "Challenge not found"))?;
    if ch.get::<_, bool>(1) || unix_now() > ch.get::<_, i64>(0) + CHALLENGE_TTL {
        tx.execute("DELETE FROM auth.mfa_challenges WHERE id = $1", &[&cid])
            .await?;
        tx.commit().await?;
        return Err(AuthError::unprocessable(
            "mfa_challenge_expired",
            "MFA challenge has expired, verify against another challenge or create a new challenge.",
        ));
    }
    let secret: Option<String> = factor.get(0);
    let secret = secret.and_then(|s| base32_decode(&s)).unwrap_or_default();
    if !totp_valid(&secret, p.code.as_deref().unwrap_or("").trim(), unix_now()) {
        return Err(AuthError::unprocessable(
            "mfa_verification_failed",
            "Invalid TOTP code entered",
        ));
    }
    tx.execute(
        "UPDATE auth.mfa_challenges SET verified_at = now() WHERE id = $1",
        &[&cid],
    )
    .await?;
    tx.execute("UPDATE auth.mfa_factors SET status = 'verified', updated_at = now(), last_challenged_at = now() WHERE id = $1", &[&fid])
        .await?;
    tx.execute(
        "UPDATE auth.sessions SET aal = 'aal2', factor_id = $2, updated_at = now() WHERE id = $1",
        &[&session_id, &fid],
    )
    .await?;
    sessions::add_amr(&tx, session_id, "totp").await?;
    tx.execute("UPDATE auth.refresh_tokens SET revoked = true, updated_at = now() WHERE session_id = $1 AND revoked = false", &[&session_id])
        .await?;
    let refresh = refresh_tokens::create(&tx, user.user_id, session_id, None).await?;
    let (access, exp, body) = sessions::access_token(&tx, ctx, session_id).await?;
    super::audit::record(
        &tx,
        ctx,
        Some(user.user_id),
        "",
        "verification_attempted",
        "user",
        json!({"factor_id": fid, "factor_status": "verified"}),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(sessions::token_response(
        access,
        exp,
        ctx.auth().settings.jwt_exp,
        refresh,
        body,
        &Extras::default(),
    )))
}

/// `DELETE /factors/{id}`: a verified factor can only be removed from an `aal2` session.
pub async fn unenroll(user: AuthUser, Path(id): Path<String>) -> AuthResult<Json<Value>> {
    let fid = parse_factor(&id)?;
    let db = user.project().pool.get().await?;
    let status: String = db
        .query_opt(
            "SELECT status::text FROM auth.mfa_factors WHERE id = $1 AND user_id = $2",
            &[&fid, &user.user_id],
        )
        .await?
        .ok_or_else(|| AuthError::not_found("mfa_factor_not_found", "Factor not found"))?
        .get(0);
    let aal = user
        .claims
        .get("aal")
        .and_then(Value::as_str)
        .unwrap_or("aal1");
    if status == "verified" && aal != "aal2" {
        return Err(AuthError::new(
            http::StatusCode::UNAUTHORIZED,
            "insufficient_aal",
            "AAL2 required to unenroll verified factor",
        ));
    }
    db.execute("DELETE FROM auth.mfa_factors WHERE id = $1", &[&fid])
        .await?;
    Ok(Json(json!({"id": fid})))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6238_sha1_vectors() {
        // RFC 6238 appendix B, SHA-1 secret "12345678901234567890", last 6 digits.
        let secret = b"12345678901234567890";
        for (t, code) in [
            (59, "287082"),
            (1_111_111_109, "081804"),
            (1_234_567_890, "005924"),
            (2_000_000_000, "279037"),
        ] {
            assert_eq!(totp(secret, t), code, "t={t}");
        }
        assert!(totp_valid(secret, "287082", 59 + 30), "one step of drift");
        assert!(!totp_valid(secret, "287082", 59 + 90));
        assert!(!totp_valid(secret, "28708", 59));
    }

    #[test]
    fn base32_round_trip() {
        assert_eq!(base32_encode(b"foobar"), "MZXW6YTBOI");
        assert_eq!(
            base32_decode("mzxw6ytboi======").expect("decode"),
            b"foobar"
        );
        let bytes: Vec<u8> = (0..20).collect();
        assert_eq!(base32_decode(&base32_encode(&bytes)).expect("rt"), bytes);
        assert!(base32_decode("1!").is_none());
    }
}
