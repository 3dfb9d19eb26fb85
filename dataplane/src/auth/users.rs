//! The signed-in user's own endpoints: `GET /user`, `PUT /user` (metadata, password with the
//! reauthentication nonce when required, email and phone changes with confirmation),
//! `DELETE /user/identities/{id}`; and the public `GET /settings` and `GET /health`.

use axum::Json;
use axum::extract::Query;
use deadpool_postgres::GenericClient;
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::error::{AuthError, AuthResult};
use super::mailer::{MailKind, MailVars};
use super::otp::{self, check_frequency, mirror_one_time_token, numeric_code, token_hash};
use super::rate_limit::{Bucket, FIVE_MINUTES};
use super::sessions::AuthUser;
use super::signup::{self, UserRow};
use super::{Ctx, RedirectQuery, audit, ct_eq, passwords, pkce, validate};

/// `GET /user`: the user, bare.
pub async fn get_user(user: AuthUser) -> Json<Value> {
    Json(user.user)
}

/// `PUT /user` body.
#[derive(Debug, Default, Deserialize)]
pub struct UpdateParams {
    email: Option<String>,
    phone: Option<String>,
    password: Option<String>,
    nonce: Option<String>,
    data: Option<Value>,
    app_metadata: Option<Value>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
}

/// Sends the email-change messages: to the new address, and with secure email change also to
/// the current one (each with its own code).
pub async fn send_email_change(
    db: &impl GenericClient,
    ctx: &Ctx,
    user: &UserRow,
    new_email: &str,
    redirect_to: &str,
    pkce: bool,
) -> AuthResult<()> {
    let s = &ctx.auth().settings;
    check_frequency(
        user.email_change_sent_at,
        s.email_max_frequency,
        super::unix_now(),
        false,
    )?;
    let secure = s.secure_email_change && !user.email.is_empty() && user.email_confirmed;
    let prefix = if pkce { "pkce_" } else { "" };
    let code_new = numeric_code(s.mailer_otp_length);
    let hash_new = format!("{prefix}{}", token_hash(new_email, &code_new));
    let code_cur = numeric_code(s.mailer_otp_length);
    let hash_cur = if secure {
        format!("{prefix}{}", token_hash(&user.email, &code_cur))
    } else {
        String::new()
    };
    db.execute(
        "UPDATE auth.users SET email_change = $2, email_change_token_new = $3, email_change_token_current = $4,
             email_change_sent_at = now(), email_change_confirm_status = 0, updated_at = now()
         WHERE id = $1",
        &[&user.id, &new_email, &hash_new, &hash_cur],
    )
    .await?;
    mirror_one_time_token(db, user.id, "email_change_token_new", &hash_new, new_email).await?;
    mirror_one_time_token(
        db,
        user.id,
        "email_change_token_current",
        &hash_cur,
        &user.email,
    )
    .await?;
    let api = &ctx.auth().api_url;
    let mailer = &ctx.auth().mailer;
    let vars = |code: &str, hash: &str| MailVars {
        confirmation_url: otp::verify_link(api, hash, "email_change", redirect_to),
        token: code.to_owned(),
        token_hash: hash.to_owned(),
        email: user.email.clone(),
        new_email: new_email.to_owned(),
        redirect_to: redirect_to.to_owned(),
    };
    mailer
        .send(
            &ctx.auth().limits,
            MailKind::EmailChange,
            new_email,
            &vars(&code_new, &hash_new),
        )
        .await?;
    if secure {
        mailer
            .send(
                &ctx.auth().limits,
                MailKind::EmailChange,
                &user.email,
                &vars(&code_cur, &hash_cur),
            )
            .await?;
    }
    Ok(())
}

/// Checks a reauthentication nonce and consumes it.
async fn check_nonce(
    db: &impl GenericClient,
    ctx: &Ctx,
    user: &UserRow,
    nonce: &str,
) -> AuthResult<()> {
    let invalid =
        || AuthError::unprocessable("reauthentication_not_valid", "Requires reauthentication");
    let exp = if user.email.is_empty() {
        ctx.auth().settings.sms_otp_exp
    } else {
        ctx.auth().settings.mailer_otp_exp
    };
    let fresh = user
        .reauthentication_sent_at
        .is_some_and(|t| super::unix_now() <= t + exp as i64);
    let address = if user.email.is_empty() {
        &user.phone
    } else {
        &user.email
    };
    if user.reauthentication_token.is_empty()
        || !fresh
        || !ct_eq(&token_hash(address, nonce), &user.reauthentication_token)
    {
        return Err(invalid());
    }
    db.execute(
        "UPDATE auth.users SET reauthentication_token = '', reauthentication_sent_at = NULL WHERE id = $1",
        &[&user.id],
    )
    .await?;
    mirror_one_time_token(db, user.id, "reauthentication_token", "", "").await?;
    Ok(())
}

/// `PUT /user`: the user, bare, after the changes.
pub async fn update_user(
    user: AuthUser,
    q: Query<RedirectQuery>,
    super::Body(p): super::Body<UpdateParams>,
) -> AuthResult<Json<Value>> {
    let ctx = &user.ctx;
    let auth = ctx.auth();
    let s = &auth.settings;
    auth.limits
        .hit(Bucket::Otp, ctx.ip_key(), s.rate_limit_otp, FIVE_MINUTES)?;
    if p.app_metadata.is_some() {
        return Err(AuthError::forbidden(
            "not_admin",
            "Updating app_metadata requires admin privileges",
        ));
    }
    let challenge = pkce::challenge(
        p.code_challenge.as_deref(),
        p.code_challenge_method.as_deref(),
    )?;
    let redirect = validate::redirect(&s.site_url, &s.uri_allow_list, q.redirect_to.as_deref());
    let new_email = p
        .email
        .as_deref()
        .filter(|e| !e.is_empty())
        .map(validate::email)
        .transpose()?;
    let new_phone = p
        .phone
        .as_deref()
        .filter(|e| !e.is_empty())
        .map(validate::phone)
        .transpose()?;
    let new_hash = match p.password.as_deref() {
        Some(pw) if !pw.is_empty() => {
            passwords::check_strength(&auth.policy, pw)?;
            Some(pw.to_owned())
        }
        _ => None,
    };
    let mut db = ctx.project.pool.get().await?;
    let tx = db.transaction().await?;
    let u = signup::find_by_id(&tx, user.user_id)
        .await?
        .ok_or_else(AuthError::user_not_found)?;
    if let Some(data) = &p.data {
        if !data.is_object() {
            return Err(AuthError::validation("data must be an object"));
        }
        tx.execute(
            "UPDATE auth.users SET raw_user_meta_data = jsonb_strip_nulls(coalesce(raw_user_meta_data, '{}'::jsonb) || $2), updated_at = now() WHERE id = $1",
            &[&u.id, data],
        )
        .await?;
    }
    if let Some(pw) = new_hash {
        if u.is_anonymous
            && u.email.is_empty()
            && u.phone.is_empty()
            && new_email.is_none()
            && new_phone.is_none()
        {
            return Err(AuthError::unprocessable(
                "validation_failed",
                "Updating password of an anonymous user without an email or phone is not allowed",
            ));
        }
        if s.secure_password_change {
            let recent: bool = match user.session_id {
                Some(sid) => tx
                    .query_opt("SELECT created_at > now() - interval '24 hours' FROM auth.sessions WHERE id = $1", &[&sid])
                    .await?
                    .map(|r| r.get(0))
                    .unwrap_or(false),
                None => false,
            };
            if !recent {
                match p.nonce.as_deref().filter(|n| !n.is_empty()) {
                    None => {
                        return Err(AuthError::bad_request(
                            "reauthentication_needed",
                            "Password update requires reauthentication",
                        ));
                    }
                    Some(n) => check_nonce(&tx, ctx, &u, n).await?,
                }
            }
        }
        let same = passwords::verify(&pw, u.encrypted_password.clone()).await?;
        if same.ok {
            return Err(AuthError::unprocessable(
                "same_password",
                "New password should be different from the old password.",
            ));
        }
        let hash = passwords::hash(&pw).await?;
        tx.execute(
            "UPDATE auth.users SET encrypted_password = $2, updated_at = now() WHERE id = $1",
            &[&u.id, &hash],
        )
        .await?;
        audit::record(
            &tx,
            ctx,
            Some(u.id),
            &u.email,
            "user_updated_password",
            "user",
            Value::Null,
        )
        .await?;
    }
    if let Some(email) = new_email.filter(|e| *e != u.email) {
        if signup::find_by_email(&tx, &email).await?.is_some() {
            return Err(AuthError::unprocessable(
                "email_exists",
                "A user with this email address has already been registered",
            ));
        }
        if s.mailer_autoconfirm {
            tx.execute(
                "UPDATE auth.users SET email = $2, email_confirmed_at = now(), is_anonymous = false, email_change = '', updated_at = now() WHERE id = $1",
                &[&u.id, &email],
            )
            .await?;
            upsert_email_identity(&tx, u.id, &email).await?;
        } else {
            if let Some((c, m)) = &challenge {
                pkce::create_flow_state(&tx, Some(u.id), c, m, "email", "email_change").await?;
            }
            send_email_change(&tx, ctx, &u, &email, &redirect, challenge.is_some()).await?;
        }
        audit::record(
            &tx,
            ctx,
            Some(u.id),
            &u.email,
            "user_modified",
            "user",
            Value::Null,
        )
        .await?;
    }
    if let Some(phone) = new_phone.filter(|ph| *ph != u.phone) {
        if signup::find_by_phone(&tx, &phone).await?.is_some() {
            return Err(AuthError::unprocessable(
                "phone_exists",
                "Phone number already registered by another user",
            ));
        }
        if s.sms_autoconfirm {
            tx.execute(
                "UPDATE auth.users SET phone = $2, phone_confirmed_at = now(), is_anonymous = false, phone_change = '', updated_at = now() WHERE id = $1",
                &[&u.id, &phone],
            )
            .await?;
        } else {
            tx.execute(
                "UPDATE auth.users SET phone_change = $2 WHERE id = $1",
                &[&u.id, &phone],
            )
            .await?;
            otp::send_sms_token(
                &tx,
                ctx,
                u.id,
                &phone,
                "phone_change_token",
                u.phone_change_sent_at,
            )
            .await?;
        }
    }
    let body: Value = tx
        .query_one(
            "SELECT madbase.auth_user_json(u) FROM auth.users u WHERE id = $1",
            &[&u.id],
        )
        .await?
        .get(0);
    tx.commit().await?;
    Ok(Json(body))
}

/// Creates or updates the email identity of a user whose email became confirmed.
pub async fn upsert_email_identity(
    db: &impl GenericClient,
    user_id: Uuid,
    email: &str,
) -> AuthResult<()> {
    let updated = db
        .execute(
            "UPDATE auth.identities SET identity_data = identity_data || jsonb_build_object('email', $2::text, 'email_verified', true),
                 updated_at = now()
             WHERE user_id = $1 AND provider = 'email'",
            &[&user_id, &email],
        )
        .await?;
    if updated == 0 {
        let data = json!({"sub": user_id.to_string(), "email": email, "email_verified": true, "phone_verified": false});
        signup::add_identity(db, user_id, "email", &user_id.to_string(), &data).await?;
    }
    Ok(())
}

/// `GET /settings`.
pub async fn settings(ctx: Ctx) -> Json<Value> {
    let s = &ctx.auth().settings;
    let o = &ctx.auth().oauth;
    Json(json!({
        "external": {
            "anonymous_users": s.anonymous_users,
            "email": s.email_enabled,
            "phone": s.phone_enabled,
            "github": o.enabled("github"),
            "google": o.enabled("google"),
            "gitlab": o.enabled("gitlab"),
            "oidc": o.enabled("oidc"),
        },
        "disable_signup": s.disable_signup,
        "mailer_autoconfirm": s.mailer_autoconfirm,
        "phone_autoconfirm": s.sms_autoconfirm,
        "sms_provider": if ctx.auth().mailer.dev() { "dev" } else { "" },
        "saml_enabled": false,
        "passkeys_enabled": false,
    }))
}

/// `GET /health`.
pub async fn health() -> Json<Value> {
    Json(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "name": "GoTrue",
        "description": "MadBase's GoTrue-compatible auth API",
    }))
}
