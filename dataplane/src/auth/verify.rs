//! `/verify`: redeeming email links and codes (signup, invite, magic link, recovery, email
//! change) and SMS codes (sms, phone change).
//!
//! `POST` answers with a session (or, for the first half of a secure email change, GoTrue's
//! `{msg, code: "200"}`); `GET` (the link in the email) answers 303 to `redirect_to` with the
//! tokens in the fragment, or `?code=` for PKCE, or the error in the fragment. A code works
//! once: redeeming clears it in the same transaction, so a replay is `otp_expired`.

use axum::Json;
use axum::extract::Query;
use axum::response::{IntoResponse, Redirect, Response};
use deadpool_postgres::GenericClient;
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::error::{AuthError, AuthResult};
use super::otp::{mirror_one_time_token, pct, token_hash};
use super::rate_limit::{Bucket, FIVE_MINUTES};
use super::sessions::{self, Extras};
use super::signup::{self, UserRow};
use super::{Body, Ctx, audit, ct_eq, pkce, unix_now, users, validate};

/// `/verify` parameters (body for POST, query for GET).
#[derive(Debug, Default, Deserialize)]
pub struct VerifyParams {
    #[serde(rename = "type")]
    kind: Option<String>,
    token: Option<String>,
    token_hash: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    redirect_to: Option<String>,
}

const SINGLE_CONFIRMATION: &str =
    "Confirmation link accepted. Please proceed to confirm link sent to the other email";

/// What redeeming did.
enum Outcome {
    /// Sign the user in; `kind` is the effective type.
    SignIn(Uuid, String),
    /// One half of a secure email change.
    HalfEmailChange,
}

/// Which stored token matched: the column name.
fn matches(stored: &str, hash: &str) -> bool {
    !stored.is_empty()
        && (ct_eq(stored, hash) || stored.strip_prefix("pkce_").is_some_and(|s| ct_eq(s, hash)))
}

async fn find_by_token_hash(
    db: &impl GenericClient,
    kind: &str,
    hash: &str,
) -> AuthResult<Option<UserRow>> {
    let cols: &[&str] = match kind {
        "email" => &["confirmation_token", "recovery_token"],
        "signup" | "invite" => &["confirmation_token"],
        "recovery" | "magiclink" => &["recovery_token"],
        "email_change" => &["email_change_token_current", "email_change_token_new"],
        _ => return Err(AuthError::validation("Invalid email verification type")),
    };
    let bare = hash.strip_prefix("pkce_").unwrap_or(hash);
    let cond = cols
        .iter()
        .map(|c| format!("{c} = $1 OR {c} = 'pkce_' || $1"))
        .collect::<Vec<_>>()
        .join(" OR ");
    let id: Option<Uuid> = db
        .query_opt(
            &format!("SELECT id FROM auth.users WHERE {cond} LIMIT 1"),
            &[&bare],
        )
        .await?
        .map(|r| r.get(0));
    match id {
        Some(id) => signup::find_by_id(db, id).await,
        None => Ok(None),
    }
}

fn fresh(sent_at: Option<i64>, exp: u64) -> bool {
    sent_at.is_some_and(|t| unix_now() <= t + exp as i64)
}

/// Redeems a code or link; runs in the caller's transaction.
async fn redeem(
    db: &impl GenericClient,
    ctx: &Ctx,
    p: &VerifyParams,
    link: bool,
) -> AuthResult<Outcome> {
    let s = &ctx.auth().settings;
    let kind = p.kind.as_deref().unwrap_or("");
    if kind.is_empty() {
        return Err(AuthError::validation("Verify requires a verification type"));
    }
    let expired = || {
        if link {
            AuthError::link_expired()
        } else {
            AuthError::otp_expired()
        }
    };
    let token = p.token.as_deref().unwrap_or("");
    let by_hash = p
        .token_hash
        .as_deref()
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .or_else(|| {
            // A link carries the stored hash in `token`.
            (link && !token.is_empty()).then(|| token.to_owned())
        });
    let (user, hash) = if let Some(h) = by_hash {
        let u = find_by_token_hash(db, kind, &h).await?;
        (u, h.strip_prefix("pkce_").unwrap_or(&h).to_owned())
    } else if matches!(kind, "sms" | "phone_change") {
        let phone = validate::phone(p.phone.as_deref().unwrap_or(""))?;
        let u = if kind == "sms" {
            signup::find_by_phone(db, &phone).await?
        } else {
            signup::find_by_pending_phone(db, &phone).await?
        };
        (u, token_hash(&phone, token))
    } else {
        if token.is_empty() {
            return Err(AuthError::validation(
                "Verify requires a token or a token hash",
            ));
        }
        let email = validate::email(p.email.as_deref().unwrap_or(""))?;
        let u = if kind == "email_change" {
            match signup::find_by_pending_email(db, &email).await? {
                Some(u) => Some(u),
                None => signup::find_by_email(db, &email).await?,
            }
        } else {
            signup::find_by_email(db, &email).await?
        };
        (u, token_hash(&email, token))
    };
    let user = user.ok_or_else(expired)?;
    if user.banned {
        return Err(AuthError::forbidden("user_banned", "User is banned"));
    }
    let mail_exp = s.mailer_otp_exp;
    let effective = match kind {
        "email"
            if matches(&user.confirmation_token, &hash)
                && fresh(user.confirmation_sent_at, mail_exp) =>
        {
            "signup"
        }
        "email"
            if matches(&user.recovery_token, &hash) && fresh(user.recovery_sent_at, mail_exp) =>
        {
            "magiclink"
        }
        "signup" | "invite"
            if matches(&user.confirmation_token, &hash)
                && fresh(user.confirmation_sent_at, mail_exp) =>
        {
            kind
        }
        "recovery" | "magiclink"
            if matches(&user.recovery_token, &hash) && fresh(user.recovery_sent_at, mail_exp) =>
        {
            kind
        }
        "email_change"
            if (matches(&user.email_change_token_current, &hash)
                || matches(&user.email_change_token_new, &hash))
                && fresh(user.email_change_sent_at, mail_exp) =>
        {
            kind
        }
        "sms"
            if matches(&user.confirmation_token, &hash)
                && fresh(user.confirmation_sent_at, s.sms_otp_exp) =>
        {
            kind
        }
        "phone_change"
            if matches(&user.phone_change_token, &hash)
                && fresh(user.phone_change_sent_at, s.sms_otp_exp) =>
        {
            kind
        }
        "email" | "signup" | "invite" | "recovery" | "magiclink" | "email_change" | "sms"
        | "phone_change" => {
            return Err(expired());
        }
        _ => return Err(AuthError::validation("Unsupported verification type")),
    };
    match effective {
        "signup" | "invite" => {
            db.execute(
                "UPDATE auth.users SET email_confirmed_at = coalesce(email_confirmed_at, now()), confirmation_token = '',
                     is_anonymous = false, updated_at = now() WHERE id = $1",
                &[&user.id],
            )
            .await?;
            mirror_one_time_token(db, user.id, "confirmation_token", "", "").await?;
            users::upsert_email_identity(db, user.id, &user.email).await?;
        }
        "recovery" | "magiclink" => {
            db.execute(
                "UPDATE auth.users SET recovery_token = '', email_confirmed_at = coalesce(email_confirmed_at, now()),
                     updated_at = now() WHERE id = $1",
                &[&user.id],
            )
            .await?;
            mirror_one_time_token(db, user.id, "recovery_token", "", "").await?;
        }
        "sms" => {
            db.execute(
                "UPDATE auth.users SET phone_confirmed_at = coalesce(phone_confirmed_at, now()), confirmation_token = '',
                     is_anonymous = false, updated_at = now() WHERE id = $1",
                &[&user.id],
            )
            .await?;
            mirror_one_time_token(db, user.id, "confirmation_token", "", "").await?;
        }
        "phone_change" => {
            db.execute(
                "UPDATE auth.users SET phone = phone_change, phone_change = '', phone_change_token = '',
                     phone_confirmed_at = now(), is_anonymous = false, updated_at = now() WHERE id = $1",
                &[&user.id],
            )
            .await?;
            mirror_one_time_token(db, user.id, "phone_change_token", "", "").await?;
        }
        _ => {
            // email_change: with both tokens set (secure change), the first confirmation only
            // clears its own token.
            let both = !user.email_change_token_current.is_empty()
                && !user.email_change_token_new.is_empty();
            if both && user.email_change_confirm_status == 0 {
                let col = if matches(&user.email_change_token_current, &hash) {
                    "email_change_token_current"
                } else {
                    "email_change_token_new"
                };
                db.execute(
                    &format!("UPDATE auth.users SET {col} = '', email_change_confirm_status = 1, updated_at = now() WHERE id = $1"),
                    &[&user.id],
                )
                .await?;
                mirror_one_time_token(db, user.id, col, "", "").await?;
                return Ok(Outcome::HalfEmailChange);
            }
            db.execute(
                "UPDATE auth.users SET email = email_change, email_change = '', email_change_token_current = '',
                     email_change_token_new = '', email_change_confirm_status = 0, email_confirmed_at = now(),
                     is_anonymous = false, updated_at = now() WHERE id = $1",
                &[&user.id],
            )
            .await?;
            mirror_one_time_token(db, user.id, "email_change_token_current", "", "").await?;
            mirror_one_time_token(db, user.id, "email_change_token_new", "", "").await?;
            users::upsert_email_identity(db, user.id, &user.email_change).await?;
        }
    }
    audit::record(
        db,
        ctx,
        Some(user.id),
        &user.email,
        "user_signedup_or_verified",
        "user",
        json!({"type": effective}),
    )
    .await?;
    Ok(Outcome::SignIn(user.id, effective.to_owned()))
}

/// `POST /verify`.
pub async fn verify_post(
    ctx: Ctx,
    q: Query<super::RedirectQuery>,
    Body(p): Body<VerifyParams>,
) -> AuthResult<Json<Value>> {
    let auth = ctx.auth();
    auth.limits.hit(
        Bucket::Verify,
        ctx.ip_key(),
        auth.settings.rate_limit_verify,
        FIVE_MINUTES,
    )?;
    let _ = q;
    let mut db = ctx.project.pool.get().await?;
    let tx = db.transaction().await?;
    match redeem(&tx, &ctx, &p, false).await? {
        Outcome::HalfEmailChange => {
            tx.commit().await?;
            Ok(Json(json!({"msg": SINGLE_CONFIRMATION, "code": "200"})))
        }
        Outcome::SignIn(user_id, _) => {
            let session = sessions::sign_in(&tx, &ctx, user_id, "otp", &Extras::default()).await?;
            tx.commit().await?;
            Ok(Json(session))
        }
    }
}

/// The fragment of a redirect carrying an error, as GoTrue writes it.
pub fn error_fragment(e: &AuthError) -> String {
    let oauth = if e.status.is_server_error() {
        "server_error"
    } else {
        "access_denied"
    };
    format!(
        "error={oauth}&error_code={}&error_description={}&sb=",
        pct(e.code),
        pct(&e.message)
    )
}

/// `GET /verify` (the link in the email).
pub async fn verify_get(ctx: Ctx, Query(p): Query<VerifyParams>) -> Response {
    let auth = ctx.auth();
    let redirect = validate::redirect(
        &auth.settings.site_url,
        &auth.settings.uri_allow_list,
        p.redirect_to.as_deref(),
    );
    let pkce_flow = p.token.as_deref().is_some_and(|t| t.starts_with("pkce_"));
    let result: AuthResult<String> = async {
        auth.limits.hit(Bucket::Verify, ctx.ip_key(), auth.settings.rate_limit_verify, FIVE_MINUTES)?;
        let mut db = ctx.project.pool.get().await?;
        let tx = db.transaction().await?;
        let target = match redeem(&tx, &ctx, &p, true).await? {
            Outcome::HalfEmailChange => format!("{redirect}#message={}&sb=", pct(SINGLE_CONFIRMATION)),
            Outcome::SignIn(user_id, kind) if pkce_flow => {
                let method = match kind.as_str() {
                    "signup" => "email/signup",
                    other => other,
                };
                let code = pkce::issue_auth_code(&tx, user_id, method).await?;
                let sep = if redirect.contains('?') { '&' } else { '?' };
                format!("{redirect}{sep}code={}", pct(&code))
            }
            Outcome::SignIn(user_id, kind) => {
                let session = sessions::sign_in(&tx, &ctx, user_id, "otp", &Extras::default()).await?;
                let get = |k: &str| session.get(k).map(|v| v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string())).unwrap_or_default();
                format!(
                    "{redirect}#access_token={}&expires_at={}&expires_in={}&refresh_token={}&token_type=bearer&type={}&sb=",
                    get("access_token"),
                    get("expires_at"),
                    get("expires_in"),
                    get("refresh_token"),
                    pct(&kind)
                )
            }
        };
        tx.commit().await?;
        Ok(target)
    }
    .await;
    match result {
        Ok(target) => Redirect::to(&target).into_response(),
        Err(e) => {
            if let Some(d) = &e.internal {
                tracing::error!(detail = %d, "verify failed");
            }
            let frag = error_fragment(&e);
            let target = if pkce_flow {
                let sep = if redirect.contains('?') { '&' } else { '?' };
                format!("{redirect}{sep}{frag}#{frag}")
            } else {
                format!("{redirect}#{frag}")
            };
            Redirect::to(&target).into_response()
        }
    }
}
