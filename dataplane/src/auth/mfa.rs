//! Multi-factor authentication: enrolling a factor, challenging and verifying it (which lifts
//! the session to `aal2` and adds the factor's method to its `amr`), and unenrolling.
//!
//! TOTP factors follow RFC 6238 (HMAC-SHA1, 30 s steps, 6 digits, one step of clock drift
//! either way; `amr` method `totp`). Phone factors (opt-in, as GoTrue:
//! `MADBASE_AUTH_MFA_PHONE_ENROLL_ENABLED` / `_VERIFY_ENABLED`) get a fresh numeric code by SMS
//! on each challenge, through the pluggable SMS sender; the challenge keeps only a hash of the
//! code, and a correct code verifies it once (`amr` method `mfa/phone`).

use axum::Json;
use axum::extract::Path;
use hmac::{Hmac, Mac as _};
use serde::Deserialize;
use serde_json::{Value, json};
use sha1::Sha1;
use uuid::Uuid;

use super::error::{AuthError, AuthResult};
use super::mailer::SmsSender as _;
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
    phone: Option<String>,
}

/// The stored form of a phone challenge's code: a hash bound to the challenge.
fn phone_code_hash(challenge: Uuid, code: &str) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(
        format!("{challenge}:{code}").as_bytes(),
    ))
}

fn phone_enroll_disabled() -> AuthError {
    AuthError::unprocessable(
        "mfa_phone_enroll_not_enabled",
        "MFA enroll is disabled for Phone",
    )
}

fn phone_verify_disabled() -> AuthError {
    AuthError::unprocessable(
        "mfa_phone_verify_not_enabled",
        "MFA verification is disabled for Phone",
    )
}

/// Most factors, and most verified factors, one user may have (GoTrue's defaults).
const MAX_FACTORS: i64 = 10;

/// GoTrue's checks before a new factor: the factor limits, and once a factor is verified, new
/// ones only from an `aal2` session (so a stolen password cannot add the thief's factor).
async fn check_new_factor(
    db: &impl deadpool_postgres::GenericClient,
    user: &AuthUser,
) -> AuthResult<()> {
    let row = db
        .query_one(
            "SELECT count(*), count(*) FILTER (WHERE status = 'verified')
             FROM auth.mfa_factors WHERE user_id = $1",
            &[&user.user_id],
        )
        .await?;
    let (all, verified): (i64, i64) = (row.get(0), row.get(1));
    if all >= MAX_FACTORS || verified >= MAX_FACTORS {
        return Err(AuthError::unprocessable(
            "too_many_enrolled_mfa_factors",
            "Maximum number of verified factors reached, unenroll to continue",
        ));
    }
    let aal = user
        .claims
        .get("aal")
        .and_then(Value::as_str)
        .unwrap_or("aal1");
    if verified > 0 && aal != "aal2" {
        return Err(AuthError::forbidden(
            "insufficient_aal",
            "AAL2 required to enroll a new factor",
        ));
    }
    Ok(())
}

/// `POST /factors` with `factor_type: phone`: a new, unverified phone factor. Unverified
/// factors for the same number are replaced; a verified one blocks a second.
async fn enroll_phone(user: &AuthUser, p: &EnrollParams) -> AuthResult<Json<Value>> {
    if !user.ctx.auth().settings.mfa_phone_enroll_enabled {
        return Err(phone_enroll_disabled());
    }
    let raw = p.phone.as_deref().map(str::trim).unwrap_or("");
    if raw.is_empty() {
        return Err(AuthError::validation(
            "Phone number required to enroll Phone factor",
        ));
    }
    let phone = super::validate::phone(raw)?;
    let name = p.friendly_name.clone().unwrap_or_default();
    let mut db = user.project().pool.get().await?;
    let tx = db.transaction().await?;
    // Serialises enrolments of one user, so the checks below hold until commit.
    tx.execute(
        "SELECT 1 FROM auth.users WHERE id = $1 FOR UPDATE",
        &[&user.user_id],
    )
    .await?;
    let verified_exists = tx
        .query_opt(
            "SELECT 1 FROM auth.mfa_factors
             WHERE user_id = $1 AND factor_type = 'phone' AND phone = $2 AND status = 'verified'",
            &[&user.user_id, &phone],
        )
        .await?
        .is_some();
    if verified_exists {
        return Err(AuthError::unprocessable(
            "mfa_verified_factor_exists",
            "A verified phone factor already exists, unenroll the existing factor to continue",
        ));
    }
    tx.execute(
        "DELETE FROM auth.mfa_factors
         WHERE user_id = $1 AND factor_type = 'phone' AND phone = $2 AND status = 'unverified'",
        &[&user.user_id, &phone],
    )
    .await?;
    check_new_factor(&tx, user).await?;
    let id = Uuid::new_v4();
    let inserted = tx
        .execute(
            "INSERT INTO auth.mfa_factors (id, user_id, friendly_name, factor_type, status, created_at, updated_at, phone)
             VALUES ($1, $2, $3, 'phone', 'unverified', now(), now(), $4)
             ON CONFLICT DO NOTHING",
            &[&id, &user.user_id, &name, &phone],
        )
        .await?;
    if inserted == 0 {
        return Err(AuthError::unprocessable(
            "mfa_factor_name_conflict",
            format!("A factor with the friendly name \"{name}\" for this user already exists"),
        ));
    }
    super::audit::record(
        &tx,
        &user.ctx,
        Some(user.user_id),
        "",
        "factor_in_progress",
        "factor",
        json!({"factor_id": id, "factor_type": "phone"}),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(json!({
        "id": id,
        "type": "phone",
        "friendly_name": name,
        "phone": raw,
    })))
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
        Some("phone") => return enroll_phone(&user, &p).await,
        Some("webauthn") => {
            return Err(AuthError::unprocessable(
                "mfa_webauthn_enroll_not_enabled",
                "MFA enroll is disabled for WebAuthn",
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
    check_new_factor(&db, &user).await?;
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

/// `POST /factors/{id}/challenge` body.
#[derive(Debug, Default, Deserialize)]
pub struct ChallengeParams {
    channel: Option<String>,
}

/// `POST /factors/{id}/challenge`: a challenge to verify against; for a phone factor, a new
/// code sent by SMS (at most one per `MADBASE_AUTH_MFA_PHONE_MAX_FREQUENCY`).
pub async fn challenge(
    user: AuthUser,
    Path(id): Path<String>,
    Body(p): Body<ChallengeParams>,
) -> AuthResult<Json<Value>> {
    mfa_limit(&user)?;
    let fid = parse_factor(&id)?;
    let settings = &user.ctx.auth().settings;
    let mut db = user.project().pool.get().await?;
    let tx = db.transaction().await?;
    let owned = tx
        .query_opt(
            "SELECT factor_type::text, phone,
                    floor(extract(epoch FROM last_challenged_at))::bigint
             FROM auth.mfa_factors WHERE id = $1 AND user_id = $2 FOR UPDATE",
            &[&fid, &user.user_id],
        )
        .await?
        .ok_or_else(|| AuthError::not_found("mfa_factor_not_found", "Factor not found"))?;
    let kind: String = owned.get(0);
    let cid = Uuid::new_v4();
    let ip = user.ctx.ip.clone().unwrap_or_else(|| "0.0.0.0".into());
    let mut sms = None;
    let otp_hash = if kind == "phone" {
        if !settings.mfa_phone_verify_enabled {
            return Err(phone_verify_disabled());
        }
        match p.channel.as_deref().unwrap_or("sms") {
            "sms" => {}
            _ => {
                return Err(AuthError::validation(
                    "Invalid channel: only sms is supported",
                ));
            }
        }
        let last: Option<i64> = owned.get(2);
        super::otp::check_frequency(last, settings.mfa_phone_max_frequency, unix_now(), true)?;
        let code = super::otp::numeric_code(settings.mfa_phone_otp_length);
        let phone: Option<String> = owned.get(1);
        sms = Some((phone.unwrap_or_default(), code.clone()));
        tx.execute(
            "UPDATE auth.mfa_factors SET last_challenged_at = now(), updated_at = now() WHERE id = $1",
            &[&fid],
        )
        .await?;
        Some(phone_code_hash(cid, &code))
    } else {
        None
    };
    tx.execute(
        "INSERT INTO auth.mfa_challenges (id, factor_id, created_at, ip_address, otp_code)
         VALUES ($1, $2, now(), $3::text::inet, $4)",
        &[&cid, &fid, &ip, &otp_hash],
    )
    .await?;
    super::audit::record(
        &tx,
        &user.ctx,
        Some(user.user_id),
        "",
        "challenge_created",
        "factor",
        json!({"factor_id": fid}),
    )
    .await?;
    // Sent before the commit: a failed send leaves no challenge and no rate-limit mark.
    if let Some((phone, code)) = sms {
        user.ctx
            .auth()
            .mailer
            .send_sms(&phone, &format!("Your code is {code}"), &code)?;
    }
    tx.commit().await?;
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
        .query_opt("SELECT secret, status::text, factor_type::text FROM auth.mfa_factors WHERE id = $1 AND user_id = $2 FOR UPDATE", &[&fid, &user.user_id])
        .await?
        .ok_or_else(|| AuthError::not_found("mfa_factor_not_found", "Factor not found"))?;
    let ch = tx
        .query_opt(
            "SELECT floor(extract(epoch FROM created_at))::bigint, verified_at IS NOT NULL, otp_code
             FROM auth.mfa_challenges WHERE id = $1 AND factor_id = $2 FOR UPDATE",
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
    let code = p.code.as_deref().unwrap_or("").trim();
    let kind: String = factor.get(2);
    let method = if kind == "phone" {
        if !ctx.auth().settings.mfa_phone_verify_enabled {
            return Err(phone_verify_disabled());
        }
        let stored: Option<String> = ch.get(2);
        let ok = !code.is_empty() && stored.is_some_and(|h| ct_eq(&h, &phone_code_hash(cid, code)));
        if !ok {
            return Err(AuthError::unprocessable(
                "mfa_verification_failed",
                "Invalid MFA Phone code entered",
            ));
        }
        "mfa/phone"
    } else {
        let secret: Option<String> = factor.get(0);
        let secret = secret.and_then(|s| base32_decode(&s)).unwrap_or_default();
        if !totp_valid(&secret, code, unix_now()) {
            return Err(AuthError::unprocessable(
                "mfa_verification_failed",
                "Invalid TOTP code entered",
            ));
        }
        "totp"
    };
    tx.execute(
        "UPDATE auth.mfa_challenges SET verified_at = now() WHERE id = $1",
        &[&cid],
    )
    .await?;
    tx.execute("UPDATE auth.mfa_factors SET status = 'verified', updated_at = now(), last_challenged_at = CASE WHEN factor_type = 'phone' THEN last_challenged_at ELSE now() END WHERE id = $1", &[&fid])
        .await?;
    tx.execute(
        "UPDATE auth.sessions SET aal = 'aal2', factor_id = $2, updated_at = now() WHERE id = $1",
        &[&session_id, &fid],
    )
    .await?;
    sessions::add_amr(&tx, session_id, method).await?;
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
    fn phone_codes_are_stored_hashed_and_bound_to_their_challenge() {
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let h = phone_code_hash(a, "123456");
        assert!(!h.contains("123456"));
        assert_eq!(h, phone_code_hash(a, "123456"));
        assert_ne!(
            h,
            phone_code_hash(b, "123456"),
            "a code is good for one challenge"
        );
        assert_ne!(h, phone_code_hash(a, "123457"));
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
