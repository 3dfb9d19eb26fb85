//! One-time codes and email links: issuing them (`/otp`, `/magiclink`, `/recover`, `/resend`,
//! `/reauthenticate`, and for signup, invites and email changes) and the per-address
//! frequency limit.
//!
//! As GoTrue, a code is stored only as `hex(sha224(address + code))` in the user's token
//! column (`confirmation_token`, `recovery_token`, `email_change_token_*`,
//! `reauthentication_token`, `phone_change_token`) with its `*_sent_at`; links carry that hash,
//! prefixed `pkce_` when the flow is PKCE. `auth.one_time_tokens` mirrors the columns so
//! GoTrue's own lookups find the same tokens in a dumped database.

use axum::Json;
use axum::extract::Query;
use deadpool_postgres::GenericClient;
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha224};
use uuid::Uuid;

use super::error::{AuthError, AuthResult};
use super::mailer::{MailKind, MailVars, SmsSender as _};
use super::rate_limit::{Bucket, FIVE_MINUTES};
use super::sessions::AuthUser;
use super::{Body, Ctx, RedirectQuery, pkce, signup, validate};

/// GoTrue's token hash.
pub fn token_hash(address: &str, code: &str) -> String {
    hex::encode(Sha224::digest(format!("{address}{code}").as_bytes()))
}

/// A random numeric code of `len` digits.
pub fn numeric_code(len: usize) -> String {
    super::random_string(len, b"0123456789")
}

/// Percent-encodes a query component.
pub fn pct(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Which token column an email flow uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailAction {
    /// Account confirmation (`type=signup`).
    Signup,
    /// Invitation (`type=invite`).
    Invite,
    /// Magic link (`type=magiclink`).
    MagicLink,
    /// Recovery (`type=recovery`).
    Recovery,
    /// Reauthentication nonce.
    Reauthentication,
}

impl EmailAction {
    /// (token column, sent_at column, one_time_tokens type, verify type, template, amr method)
    fn columns(
        self,
    ) -> (
        &'static str,
        &'static str,
        &'static str,
        &'static str,
        MailKind,
        &'static str,
    ) {
        match self {
            EmailAction::Signup => (
                "confirmation_token",
                "confirmation_sent_at",
                "confirmation_token",
                "signup",
                MailKind::Confirmation,
                "email/signup",
            ),
            EmailAction::Invite => (
                "confirmation_token",
                "confirmation_sent_at",
                "confirmation_token",
                "invite",
                MailKind::Invite,
                "invite",
            ),
            EmailAction::MagicLink => (
                "recovery_token",
                "recovery_sent_at",
                "recovery_token",
                "magiclink",
                MailKind::MagicLink,
                "magiclink",
            ),
            EmailAction::Recovery => (
                "recovery_token",
                "recovery_sent_at",
                "recovery_token",
                "recovery",
                MailKind::Recovery,
                "recovery",
            ),
            EmailAction::Reauthentication => (
                "reauthentication_token",
                "reauthentication_sent_at",
                "reauthentication_token",
                "reauthentication",
                MailKind::Reauthentication,
                "reauthentication",
            ),
        }
    }
    /// The amr/flow-state method name.
    pub fn method(self) -> &'static str {
        self.columns().5
    }
}

/// Refuses a new email/SMS to an address sooner than the configured frequency.
pub fn check_frequency(
    sent_at: Option<i64>,
    max_frequency: u64,
    now: i64,
    sms: bool,
) -> AuthResult<()> {
    if let Some(t) = sent_at {
        let wait = t + max_frequency as i64 - now;
        if wait > 0 {
            return Err(AuthError::too_many(
                if sms {
                    "over_sms_send_rate_limit"
                } else {
                    "over_email_send_rate_limit"
                },
                format!("For security purposes, you can only request this after {wait} seconds."),
            ));
        }
    }
    Ok(())
}

/// Stores a fresh code for `action`, without sending it; returns `(code, hash as stored)`.
pub async fn store_email_token(
    db: &impl GenericClient,
    user_id: Uuid,
    email: &str,
    action: EmailAction,
    code_len: usize,
    pkce: bool,
) -> AuthResult<(String, String)> {
    let (col, sent_col, ott, ..) = action.columns();
    let code = numeric_code(code_len);
    let hash = token_hash(email, &code);
    let stored = if pkce { format!("pkce_{hash}") } else { hash };
    let extra = if action == EmailAction::Invite {
        ", invited_at = now()"
    } else {
        ""
    };
    db.execute(
        &format!("UPDATE auth.users SET {col} = $2, {sent_col} = now(){extra}, updated_at = now() WHERE id = $1"),
        &[&user_id, &stored],
    )
    .await?;
    mirror_one_time_token(db, user_id, ott, &stored, email).await?;
    Ok((code, stored))
}

/// Keeps `auth.one_time_tokens` in step with a user's token column.
pub async fn mirror_one_time_token(
    db: &impl GenericClient,
    user_id: Uuid,
    token_type: &str,
    token: &str,
    relates_to: &str,
) -> AuthResult<()> {
    if token.is_empty() {
        db.execute(
            "DELETE FROM auth.one_time_tokens WHERE user_id = $1 AND token_type = $2::text::auth.one_time_token_type",
            &[&user_id, &token_type],
        )
        .await?;
    } else {
        db.execute(
            "INSERT INTO auth.one_time_tokens (id, user_id, token_type, token_hash, relates_to)
             VALUES ($1, $2, $3::text::auth.one_time_token_type, $4, $5)
             ON CONFLICT (user_id, token_type) DO UPDATE
             SET token_hash = excluded.token_hash, relates_to = excluded.relates_to, updated_at = now()",
            &[&Uuid::new_v4(), &user_id, &token_type, &token, &relates_to],
        )
        .await?;
    }
    Ok(())
}

/// The verification link of an email.
pub fn verify_link(
    api_url: &str,
    stored_hash: &str,
    verify_type: &str,
    redirect_to: &str,
) -> String {
    format!(
        "{api_url}/verify?token={}&type={verify_type}&redirect_to={}",
        pct(stored_hash),
        pct(redirect_to)
    )
}

/// Issues and emails a code/link for `action` to `email`, enforcing the per-address frequency.
#[allow(clippy::too_many_arguments)]
pub async fn send_email_token(
    db: &impl GenericClient,
    ctx: &Ctx,
    user_id: Uuid,
    email: &str,
    action: EmailAction,
    redirect_to: &str,
    pkce: bool,
    last_sent: Option<i64>,
) -> AuthResult<()> {
    let s = &ctx.auth().settings;
    check_frequency(last_sent, s.email_max_frequency, super::unix_now(), false)?;
    let (code, stored) =
        store_email_token(db, user_id, email, action, s.mailer_otp_length, pkce).await?;
    let (_, _, _, vtype, kind, _) = action.columns();
    let vars = MailVars {
        confirmation_url: verify_link(&ctx.auth().api_url, &stored, vtype, redirect_to),
        token: code,
        token_hash: stored,
        email: email.to_owned(),
        new_email: String::new(),
        redirect_to: redirect_to.to_owned(),
    };
    ctx.auth()
        .mailer
        .send(&ctx.auth().limits, kind, email, &vars)
        .await
}

/// Issues and "sends" an SMS code, stored in `column` (`confirmation_token`,
/// `phone_change_token` or `reauthentication_token`).
pub async fn send_sms_token(
    db: &impl GenericClient,
    ctx: &Ctx,
    user_id: Uuid,
    phone: &str,
    column: &'static str,
    last_sent: Option<i64>,
) -> AuthResult<()> {
    let s = &ctx.auth().settings;
    check_frequency(last_sent, s.sms_max_frequency, super::unix_now(), true)?;
    let code = numeric_code(6);
    let hash = token_hash(phone, &code);
    let sent_col = match column {
        "confirmation_token" => "confirmation_sent_at",
        "phone_change_token" => "phone_change_sent_at",
        _ => "reauthentication_sent_at",
    };
    db.execute(
        &format!("UPDATE auth.users SET {column} = $2, {sent_col} = now(), updated_at = now() WHERE id = $1"),
        &[&user_id, &hash],
    )
    .await?;
    mirror_one_time_token(db, user_id, column, &hash, phone).await?;
    ctx.auth()
        .mailer
        .send_sms(phone, &format!("Your code is {code}"), &code)
}

/// `POST /otp` body.
#[derive(Debug, Default, Deserialize)]
pub struct OtpParams {
    email: Option<String>,
    phone: Option<String>,
    #[serde(default)]
    data: Option<Value>,
    create_user: Option<bool>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
}

/// The per-client budget shared by `/otp`, `/recover` and `/resend`: every one of them sends
/// an email or an SMS.
fn limit_otp_sends(ctx: &Ctx) -> AuthResult<()> {
    let auth = ctx.auth();
    auth.limits.hit(
        Bucket::Otp,
        ctx.ip_key(),
        auth.settings.rate_limit_otp,
        FIVE_MINUTES,
    )
}

/// `POST /otp`: a magic link / code by email, or a code by SMS. Always `{}` on success.
pub async fn otp(
    ctx: Ctx,
    q: Query<RedirectQuery>,
    Body(p): Body<OtpParams>,
) -> AuthResult<Json<Value>> {
    let auth = ctx.auth();
    limit_otp_sends(&ctx)?;
    let create = p.create_user.unwrap_or(true);
    let redirect = validate::redirect(
        &auth.settings.site_url,
        &auth.settings.uri_allow_list,
        q.redirect_to.as_deref(),
    );
    let challenge = pkce::challenge(
        p.code_challenge.as_deref(),
        p.code_challenge_method.as_deref(),
    )?;
    let mut db = ctx.project.pool.get().await?;
    let tx = db.transaction().await?;
    match (
        p.email.as_deref().filter(|e| !e.is_empty()),
        p.phone.as_deref().filter(|e| !e.is_empty()),
    ) {
        (Some(email), None) => {
            if !auth.settings.email_enabled {
                return Err(AuthError::bad_request(
                    "email_provider_disabled",
                    "Email logins are disabled",
                ));
            }
            let email = validate::email(email)?;
            let found = signup::find_by_email(&tx, &email).await?;
            let user = match found {
                Some(u) => u,
                None => {
                    refuse_otp_signup(create, auth.settings.disable_signup)?;
                    let data = p.data.clone().unwrap_or_else(|| json!({}));
                    let id = signup::create_user(
                        &tx,
                        &ctx,
                        signup::NewUser::email(
                            &email,
                            None,
                            data,
                            auth.settings.mailer_autoconfirm,
                        ),
                    )
                    .await?;
                    signup::find_by_id(&tx, id)
                        .await?
                        .ok_or_else(|| AuthError::internal("user vanished"))?
                }
            };
            let action = if user.email_confirmed {
                EmailAction::MagicLink
            } else {
                EmailAction::Signup
            };
            let last = if action == EmailAction::MagicLink {
                user.recovery_sent_at
            } else {
                user.confirmation_sent_at
            };
            if let Some((c, m)) = &challenge {
                pkce::create_flow_state(&tx, Some(user.id), c, m, "email", action.method()).await?;
            }
            send_email_token(
                &tx,
                &ctx,
                user.id,
                &email,
                action,
                &redirect,
                challenge.is_some(),
                last,
            )
            .await?;
            super::audit::record(
                &tx,
                &ctx,
                Some(user.id),
                &email,
                "user_recovery_requested",
                "user",
                Value::Null,
            )
            .await?;
        }
        (None, Some(phone)) => {
            if !auth.settings.phone_enabled {
                return Err(AuthError::bad_request(
                    "phone_provider_disabled",
                    "Unsupported phone provider",
                ));
            }
            let phone = validate::phone(phone)?;
            let user = match signup::find_by_phone(&tx, &phone).await? {
                Some(u) => u,
                None => {
                    refuse_otp_signup(create, auth.settings.disable_signup)?;
                    let data = p.data.clone().unwrap_or_else(|| json!({}));
                    let id = signup::create_user(
                        &tx,
                        &ctx,
                        signup::NewUser::phone(&phone, None, data, false),
                    )
                    .await?;
                    signup::find_by_id(&tx, id)
                        .await?
                        .ok_or_else(|| AuthError::internal("user vanished"))?
                }
            };
            send_sms_token(
                &tx,
                &ctx,
                user.id,
                &phone,
                "confirmation_token",
                user.confirmation_sent_at,
            )
            .await?;
        }
        _ => {
            return Err(AuthError::validation(
                "Only an email address or phone number should be provided",
            ));
        }
    }
    tx.commit().await?;
    Ok(Json(json!({})))
}

/// `POST /magiclink` (legacy): `/otp` by email.
pub async fn magiclink(
    ctx: Ctx,
    q: Query<RedirectQuery>,
    Body(p): Body<OtpParams>,
) -> AuthResult<Json<Value>> {
    if p.email.as_deref().is_none_or(str::is_empty) {
        return Err(AuthError::validation("Password recovery requires an email"));
    }
    otp(ctx, q, Body(p)).await
}

/// `POST /recover` body.
#[derive(Debug, Default, Deserialize)]
pub struct RecoverParams {
    email: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
}

/// `POST /recover`: a recovery email; `{}` also for unknown addresses (no enumeration).
pub async fn recover(
    ctx: Ctx,
    q: Query<RedirectQuery>,
    Body(p): Body<RecoverParams>,
) -> AuthResult<Json<Value>> {
    let auth = ctx.auth();
    limit_otp_sends(&ctx)?;
    let email = validate::email(p.email.as_deref().unwrap_or(""))?;
    let challenge = pkce::challenge(
        p.code_challenge.as_deref(),
        p.code_challenge_method.as_deref(),
    )?;
    let redirect = validate::redirect(
        &auth.settings.site_url,
        &auth.settings.uri_allow_list,
        q.redirect_to.as_deref(),
    );
    let mut db = ctx.project.pool.get().await?;
    let tx = db.transaction().await?;
    let Some(user) = signup::find_by_email(&tx, &email).await? else {
        return Ok(Json(json!({})));
    };
    if let Some((c, m)) = &challenge {
        pkce::create_flow_state(&tx, Some(user.id), c, m, "email", "recovery").await?;
    }
    send_email_token(
        &tx,
        &ctx,
        user.id,
        &email,
        EmailAction::Recovery,
        &redirect,
        challenge.is_some(),
        user.recovery_sent_at,
    )
    .await?;
    super::audit::record(
        &tx,
        &ctx,
        Some(user.id),
        &email,
        "user_recovery_requested",
        "user",
        Value::Null,
    )
    .await?;
    tx.commit().await?;
    Ok(Json(json!({})))
}

/// `POST /resend` body.
#[derive(Debug, Default, Deserialize)]
pub struct ResendParams {
    #[serde(rename = "type")]
    kind: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
}

/// `POST /resend`: the signup confirmation, email change or SMS code again.
pub async fn resend(
    ctx: Ctx,
    q: Query<RedirectQuery>,
    Body(p): Body<ResendParams>,
) -> AuthResult<Json<Value>> {
    let auth = ctx.auth();
    limit_otp_sends(&ctx)?;
    let redirect = validate::redirect(
        &auth.settings.site_url,
        &auth.settings.uri_allow_list,
        q.redirect_to.as_deref(),
    );
    let challenge = pkce::challenge(
        p.code_challenge.as_deref(),
        p.code_challenge_method.as_deref(),
    )?;
    let kind = p.kind.as_deref().unwrap_or("");
    let mut db = ctx.project.pool.get().await?;
    let tx = db.transaction().await?;
    match kind {
        "signup" | "email_change" => {
            let email = validate::email(p.email.as_deref().unwrap_or(""))?;
            let user = if kind == "signup" {
                signup::find_by_email(&tx, &email).await?
            } else {
                signup::find_by_pending_email(&tx, &email).await?
            };
            let Some(user) = user else {
                return Ok(Json(json!({})));
            };
            if kind == "signup" {
                if user.email_confirmed {
                    return Err(AuthError::unprocessable(
                        "email_exists",
                        "Email address already confirmed",
                    ));
                }
                if let Some((c, m)) = &challenge {
                    pkce::create_flow_state(&tx, Some(user.id), c, m, "email", "email/signup")
                        .await?;
                }
                send_email_token(
                    &tx,
                    &ctx,
                    user.id,
                    &email,
                    EmailAction::Signup,
                    &redirect,
                    challenge.is_some(),
                    user.confirmation_sent_at,
                )
                .await?;
            } else {
                super::users::send_email_change(
                    &tx,
                    &ctx,
                    &user,
                    &user.email_change.clone(),
                    &redirect,
                    challenge.is_some(),
                )
                .await?;
            }
        }
        "sms" | "phone_change" => {
            let phone = validate::phone(p.phone.as_deref().unwrap_or(""))?;
            let user = if kind == "sms" {
                signup::find_by_phone(&tx, &phone).await?
            } else {
                signup::find_by_pending_phone(&tx, &phone).await?
            };
            let Some(user) = user else {
                return Ok(Json(json!({})));
            };
            if kind == "sms" {
                send_sms_token(
                    &tx,
                    &ctx,
                    user.id,
                    &phone,
                    "confirmation_token",
                    user.confirmation_sent_at,
                )
                .await?;
            } else {
                send_sms_token(
                    &tx,
                    &ctx,
                    user.id,
                    &phone,
                    "phone_change_token",
                    user.phone_change_sent_at,
                )
                .await?;
            }
        }
        _ => {
            return Err(AuthError::validation(
                "Missing one of these types: signup, email_change, sms, phone_change",
            ));
        }
    }
    tx.commit().await?;
    Ok(Json(json!({})))
}

/// `GET /reauthenticate`: a nonce for a password change, by email (or SMS).
pub async fn reauthenticate(user: AuthUser) -> AuthResult<Json<Value>> {
    let ctx = &user.ctx;
    let mut db = ctx.project.pool.get().await?;
    let tx = db.transaction().await?;
    let u = signup::find_by_id(&tx, user.user_id)
        .await?
        .ok_or_else(AuthError::user_not_found)?;
    if !u.email.is_empty() {
        if !u.email_confirmed {
            return Err(AuthError::unprocessable(
                "email_not_confirmed",
                "Please verify your email first.",
            ));
        }
        send_email_token(
            &tx,
            ctx,
            u.id,
            &u.email,
            EmailAction::Reauthentication,
            "",
            false,
            u.reauthentication_sent_at,
        )
        .await?;
    } else if !u.phone.is_empty() {
        send_sms_token(
            &tx,
            ctx,
            u.id,
            &u.phone,
            "reauthentication_token",
            u.reauthentication_sent_at,
        )
        .await?;
    } else {
        return Err(AuthError::unprocessable(
            "reauthentication_not_valid",
            "Reauthentication requires an email or a phone number",
        ));
    }
    tx.commit().await?;
    Ok(Json(json!({})))
}

/// GoTrue's refusals when an OTP request would create a user: the client asked not to
/// (`create_user: false`), or sign-ups are disabled for the project.
fn refuse_otp_signup(create: bool, disable_signup: bool) -> Result<(), AuthError> {
    if !create {
        return Err(AuthError::unprocessable(
            "otp_disabled",
            "Signups not allowed for otp",
        ));
    }
    if disable_signup {
        return Err(AuthError::unprocessable(
            "signup_disabled",
            "Signups not allowed for this instance",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_hash_is_gotrues() {
        // hex(sha224("a@b.co" + "123456")), as GoTrue's crypto.GenerateTokenHash.
        let h = token_hash("a@b.co", "123456");
        assert_eq!(h.len(), 56);
        assert_eq!(h, hex::encode(Sha224::digest(b"a@b.co123456")));
    }

    #[test]
    fn frequency_limit_names_the_wait() {
        assert!(check_frequency(None, 60, 100, false).is_ok());
        assert!(check_frequency(Some(30), 60, 100, false).is_ok());
        let e = check_frequency(Some(90), 60, 100, false).expect_err("too soon");
        assert_eq!(
            (e.status.as_u16(), e.code),
            (429, "over_email_send_rate_limit")
        );
        assert!(e.message.contains("after 50 seconds"));
        assert_eq!(
            check_frequency(Some(90), 60, 100, true)
                .expect_err("sms")
                .code,
            "over_sms_send_rate_limit"
        );
    }

    #[test]
    fn links_are_encoded() {
        assert_eq!(
            verify_link("http://h/auth/v1", "pkce_ab", "signup", "http://app/a?b=c"),
            "http://h/auth/v1/verify?token=pkce_ab&type=signup&redirect_to=http%3A%2F%2Fapp%2Fa%3Fb%3Dc"
        );
        assert_eq!(numeric_code(6).len(), 6);
    }
}
