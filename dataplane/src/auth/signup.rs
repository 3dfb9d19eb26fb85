//! `POST /signup` (email or phone with a password, or anonymous when neither is given) and the
//! user rows every flow reads and creates.
//!
//! As GoTrue: a duplicate of a confirmed user is `user_already_exists` when confirmations are
//! off; with confirmations on the answer is 200 with an obfuscated fake user, so sign-up cannot
//! be used to learn which addresses have accounts. An unconfirmed duplicate gets a new
//! confirmation message.

use axum::Json;
use axum::extract::Query;
use deadpool_postgres::GenericClient;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio_postgres::Row;
use uuid::Uuid;

use super::error::{AuthError, AuthResult};
use super::otp::{self, EmailAction};
use super::rate_limit::{Bucket, FIVE_MINUTES};
use super::sessions::{self, Extras};
use super::{Body, Ctx, RedirectQuery, audit, passwords, pkce, validate};

/// The columns of a user the flows decide on.
#[derive(Debug, Clone)]
pub struct UserRow {
    /// Id.
    pub id: Uuid,
    /// Email or ''.
    pub email: String,
    /// Phone or ''.
    pub phone: String,
    /// Password hash.
    pub encrypted_password: Option<String>,
    /// `email_confirmed_at` is set.
    pub email_confirmed: bool,
    /// `phone_confirmed_at` is set.
    pub phone_confirmed: bool,
    /// `banned_until` is in the future.
    pub banned: bool,
    /// Anonymous.
    pub is_anonymous: bool,
    /// Unix seconds.
    pub confirmation_sent_at: Option<i64>,
    /// Unix seconds.
    pub recovery_sent_at: Option<i64>,
    /// Unix seconds.
    pub email_change_sent_at: Option<i64>,
    /// Unix seconds.
    pub phone_change_sent_at: Option<i64>,
    /// Unix seconds.
    pub reauthentication_sent_at: Option<i64>,
    /// Pending new email or ''.
    pub email_change: String,
    /// Pending new phone or ''.
    pub phone_change: String,
    /// `raw_app_meta_data`.
    pub app_metadata: Value,
    /// Token columns.
    pub confirmation_token: String,
    /// Token columns.
    pub recovery_token: String,
    /// Token columns.
    pub email_change_token_current: String,
    /// Token columns.
    pub email_change_token_new: String,
    /// Token columns.
    pub reauthentication_token: String,
    /// Token columns.
    pub phone_change_token: String,
    /// 0 none, 1 one side of a secure email change confirmed.
    pub email_change_confirm_status: i16,
    /// The user was invited and has not accepted yet.
    pub invited: bool,
}

const USER_COLS: &str = "id, coalesce(email, ''), coalesce(phone, ''), encrypted_password,
    email_confirmed_at IS NOT NULL, phone_confirmed_at IS NOT NULL, coalesce(banned_until > now(), false), is_anonymous,
    floor(extract(epoch FROM confirmation_sent_at))::bigint, floor(extract(epoch FROM recovery_sent_at))::bigint,
    floor(extract(epoch FROM email_change_sent_at))::bigint, floor(extract(epoch FROM phone_change_sent_at))::bigint,
    floor(extract(epoch FROM reauthentication_sent_at))::bigint,
    coalesce(email_change, ''), coalesce(phone_change, ''), coalesce(raw_app_meta_data, '{}'::jsonb),
    coalesce(confirmation_token, ''), coalesce(recovery_token, ''), coalesce(email_change_token_current, ''),
    coalesce(email_change_token_new, ''), coalesce(reauthentication_token, ''), coalesce(phone_change_token, ''),
    coalesce(email_change_confirm_status, 0)::smallint, invited_at IS NOT NULL AND email_confirmed_at IS NULL";

fn user_row(r: &Row) -> UserRow {
    UserRow {
        id: r.get(0),
        email: r.get(1),
        phone: r.get(2),
        encrypted_password: r.get(3),
        email_confirmed: r.get(4),
        phone_confirmed: r.get(5),
        banned: r.get(6),
        is_anonymous: r.get(7),
        confirmation_sent_at: r.get(8),
        recovery_sent_at: r.get(9),
        email_change_sent_at: r.get(10),
        phone_change_sent_at: r.get(11),
        reauthentication_sent_at: r.get(12),
        email_change: r.get(13),
        phone_change: r.get(14),
        app_metadata: r.get(15),
        confirmation_token: r.get(16),
        recovery_token: r.get(17),
        email_change_token_current: r.get(18),
        email_change_token_new: r.get(19),
        reauthentication_token: r.get(20),
        phone_change_token: r.get(21),
        email_change_confirm_status: r.get(22),
        invited: r.get(23),
    }
}

async fn find(
    db: &impl GenericClient,
    cond: &str,
    arg: &(dyn tokio_postgres::types::ToSql + Sync),
) -> AuthResult<Option<UserRow>> {
    let sql = format!(
        "SELECT {USER_COLS} FROM auth.users WHERE {cond} AND deleted_at IS NULL AND NOT is_sso_user
         ORDER BY created_at LIMIT 1 FOR UPDATE"
    );
    Ok(db.query_opt(&sql, &[arg]).await?.as_ref().map(user_row))
}

/// The (non-SSO, not deleted) user with this email.
pub async fn find_by_email(db: &impl GenericClient, email: &str) -> AuthResult<Option<UserRow>> {
    find(db, "lower(email) = lower($1)", &email).await
}

/// The user with this phone.
pub async fn find_by_phone(db: &impl GenericClient, phone: &str) -> AuthResult<Option<UserRow>> {
    find(db, "phone = $1", &phone).await
}

/// The user changing their email to this one.
pub async fn find_by_pending_email(
    db: &impl GenericClient,
    email: &str,
) -> AuthResult<Option<UserRow>> {
    find(db, "lower(email_change) = lower($1)", &email).await
}

/// The user changing their phone to this one.
pub async fn find_by_pending_phone(
    db: &impl GenericClient,
    phone: &str,
) -> AuthResult<Option<UserRow>> {
    find(db, "phone_change = $1", &phone).await
}

/// The user with this id (locked for the transaction).
pub async fn find_by_id(db: &impl GenericClient, id: Uuid) -> AuthResult<Option<UserRow>> {
    let sql = format!("SELECT {USER_COLS} FROM auth.users WHERE id = $1 FOR UPDATE");
    Ok(db.query_opt(&sql, &[&id]).await?.as_ref().map(user_row))
}

/// A user to create.
#[derive(Debug, Clone, Default)]
pub struct NewUser {
    /// Id (fresh when `None`).
    pub id: Option<Uuid>,
    /// Email.
    pub email: Option<String>,
    /// Phone.
    pub phone: Option<String>,
    /// Hash, already computed.
    pub password_hash: Option<String>,
    /// `email` or `phone` or `anonymous` or an OAuth provider.
    pub provider: String,
    /// `raw_user_meta_data`.
    pub user_metadata: Value,
    /// Extra `raw_app_meta_data` keys.
    pub app_metadata: Value,
    /// Mark the email confirmed now.
    pub email_confirmed: bool,
    /// Mark the phone confirmed now.
    pub phone_confirmed: bool,
    /// Anonymous user.
    pub anonymous: bool,
    /// Identity data for the provider identity (email/phone identities are derived).
    pub identity: Option<(String, Value)>,
    /// Database role; `authenticated` by default.
    pub role: Option<String>,
    /// Ban for this many seconds.
    pub ban_seconds: Option<i64>,
}

impl NewUser {
    /// An email user.
    pub fn email(email: &str, hash: Option<String>, data: Value, confirmed: bool) -> Self {
        NewUser {
            email: Some(email.to_owned()),
            password_hash: hash,
            provider: "email".into(),
            user_metadata: data,
            email_confirmed: confirmed,
            ..Default::default()
        }
    }
    /// A phone user.
    pub fn phone(phone: &str, hash: Option<String>, data: Value, confirmed: bool) -> Self {
        NewUser {
            phone: Some(phone.to_owned()),
            password_hash: hash,
            provider: "phone".into(),
            user_metadata: data,
            phone_confirmed: confirmed,
            ..Default::default()
        }
    }
}

fn metadata_object(v: Value) -> Value {
    if v.is_object() { v } else { json!({}) }
}

/// Inserts a user and its identity (email/phone/provider); anonymous users get none.
pub async fn create_user(db: &impl GenericClient, ctx: &Ctx, u: NewUser) -> AuthResult<Uuid> {
    let id = u.id.unwrap_or_else(Uuid::new_v4);
    let mut app = json!({"provider": u.provider, "providers": [u.provider]});
    if u.anonymous {
        app = json!({"provider": "anonymous", "providers": ["anonymous"]});
    }
    if let Value::Object(extra) = metadata_object(u.app_metadata.clone()) {
        for (k, v) in extra {
            if k != "provider" && k != "providers" {
                app[k] = v;
            }
        }
    }
    let user_metadata = metadata_object(u.user_metadata.clone());
    let ban = u.ban_seconds.map(|s| s as f64);
    let inserted = db
        .execute(
            "INSERT INTO auth.users (instance_id, id, aud, role, email, phone, encrypted_password,
                 email_confirmed_at, phone_confirmed_at, raw_app_meta_data, raw_user_meta_data,
                 created_at, updated_at, is_anonymous, is_super_admin, confirmation_token, recovery_token,
                 email_change_token_new, email_change, email_change_token_current, phone_change,
                 phone_change_token, reauthentication_token, banned_until)
             VALUES ('00000000-0000-0000-0000-000000000000', $1, 'authenticated', $2, $3, $4, $5,
                 CASE WHEN $6 THEN now() END, CASE WHEN $7 THEN now() END, $8, $9,
                 now(), now(), $10, false, '', '', '', '', '', '', '', '',
                 CASE WHEN $11::float8 IS NOT NULL THEN now() + make_interval(secs => $11::float8) END)
             ON CONFLICT DO NOTHING",
            &[
                &id,
                &u.role.clone().unwrap_or_else(|| "authenticated".into()),
                &u.email,
                &u.phone,
                &u.password_hash.clone().unwrap_or_default(),
                &u.email_confirmed,
                &u.phone_confirmed,
                &app,
                &user_metadata,
                &u.anonymous,
                &ban,
            ],
        )
        .await?;
    if inserted == 0 {
        return Err(if u.phone.is_some() && u.email.is_none() {
            AuthError::unprocessable(
                "phone_exists",
                "Phone number already registered by another user",
            )
        } else {
            AuthError::unprocessable(
                "email_exists",
                "A user with this email address has already been registered",
            )
        });
    }
    let identity = match (&u.identity, &u.email, &u.phone) {
        (Some((provider_id, data)), _, _) => {
            Some((u.provider.clone(), provider_id.clone(), data.clone()))
        }
        (None, Some(email), _) if !u.anonymous => {
            let mut data = json!({"sub": id.to_string(), "email": email,
                                  "email_verified": u.email_confirmed, "phone_verified": false});
            if let Value::Object(m) = &user_metadata {
                for (k, v) in m {
                    if data.get(k).is_none() {
                        data[k] = v.clone();
                    }
                }
            }
            Some(("email".to_owned(), id.to_string(), data))
        }
        (None, None, Some(phone)) if !u.anonymous => Some((
            "phone".to_owned(),
            id.to_string(),
            json!({"sub": id.to_string(), "phone": phone, "email_verified": false, "phone_verified": u.phone_confirmed}),
        )),
        _ => None,
    };
    if let Some((provider, provider_id, data)) = identity {
        add_identity(db, id, &provider, &provider_id, &data).await?;
    }
    audit::record(
        db,
        ctx,
        Some(id),
        u.email.as_deref().or(u.phone.as_deref()).unwrap_or(""),
        "user_signedup",
        "team",
        json!({"provider": u.provider}),
    )
    .await?;
    Ok(id)
}

/// Links an identity to a user and adds its provider to `app_metadata.providers`.
pub async fn add_identity(
    db: &impl GenericClient,
    user_id: Uuid,
    provider: &str,
    provider_id: &str,
    data: &Value,
) -> AuthResult<()> {
    db.execute(
        "INSERT INTO auth.identities (provider_id, user_id, identity_data, provider, last_sign_in_at, created_at, updated_at, id)
         VALUES ($1, $2, $3, $4, now(), now(), now(), gen_random_uuid())",
        &[&provider_id, &user_id, data, &provider],
    )
    .await?;
    db.execute(
        "UPDATE auth.users SET raw_app_meta_data = jsonb_set(
             coalesce(raw_app_meta_data, '{}'::jsonb) || jsonb_build_object('provider', coalesce(raw_app_meta_data->>'provider', $2)),
             '{providers}',
             (SELECT coalesce(jsonb_agg(DISTINCT p), '[]'::jsonb) FROM (
                 SELECT jsonb_array_elements_text(coalesce(raw_app_meta_data->'providers', '[]'::jsonb)) AS p
                 UNION SELECT $2) s)),
             updated_at = now()
         WHERE id = $1",
        &[&user_id, &provider],
    )
    .await?;
    Ok(())
}

/// `POST /signup` body.
#[derive(Debug, Default, Deserialize)]
pub struct SignupParams {
    email: Option<String>,
    phone: Option<String>,
    password: Option<String>,
    #[serde(default)]
    data: Option<Value>,
    channel: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
}

/// The obfuscated user GoTrue answers a duplicate sign-up with when confirmations are on.
pub fn obfuscated_user(
    email: &str,
    phone: &str,
    provider: &str,
    data: &Value,
    now_rfc3339: &str,
) -> Value {
    json!({
        "id": Uuid::new_v4(),
        "aud": "authenticated",
        "role": "",
        "email": email,
        "phone": phone,
        "confirmation_sent_at": now_rfc3339,
        "app_metadata": {"provider": provider, "providers": [provider]},
        "user_metadata": metadata_object(data.clone()),
        "identities": [],
        "created_at": now_rfc3339,
        "updated_at": now_rfc3339,
        "is_anonymous": false,
    })
}

/// `POST /signup`.
pub async fn signup(
    ctx: Ctx,
    q: Query<RedirectQuery>,
    Body(p): Body<SignupParams>,
) -> AuthResult<Json<Value>> {
    let auth = ctx.auth();
    let s = &auth.settings;
    let email = p.email.as_deref().map(str::trim).filter(|e| !e.is_empty());
    let phone = p.phone.as_deref().map(str::trim).filter(|e| !e.is_empty());
    if email.is_none() && phone.is_none() {
        return anonymous(ctx, p.data.unwrap_or_else(|| json!({}))).await;
    }
    if s.disable_signup {
        return Err(AuthError::unprocessable(
            "signup_disabled",
            "Signups not allowed for this instance",
        ));
    }
    auth.limits
        .hit(Bucket::Otp, ctx.ip_key(), s.rate_limit_otp, FIVE_MINUTES)?;
    if email.is_some() && phone.is_some() {
        return Err(AuthError::validation(
            "Only an email address or phone number should be provided on signup.",
        ));
    }
    if let Some(ch) = p.channel.as_deref()
        && ch != "sms"
        && ch != "whatsapp"
    {
        return Err(AuthError::validation(
            "Invalid channel, supported values are 'sms' or 'whatsapp'",
        ));
    }
    let password = p.password.clone().unwrap_or_default();
    if password.is_empty() {
        return Err(AuthError::validation("Signup requires a valid password"));
    }
    passwords::check_strength(&auth.policy, &password)?;
    let challenge = pkce::challenge(
        p.code_challenge.as_deref(),
        p.code_challenge_method.as_deref(),
    )?;
    let data = metadata_object(p.data.clone().unwrap_or_else(|| json!({})));
    let redirect = validate::redirect(&s.site_url, &s.uri_allow_list, q.redirect_to.as_deref());
    let (provider, address) = match (email, phone) {
        (Some(e), _) => {
            if !s.email_enabled {
                return Err(AuthError::bad_request(
                    "email_provider_disabled",
                    "Email signups are disabled",
                ));
            }
            ("email", validate::email(e)?)
        }
        (_, Some(ph)) => {
            if !s.phone_enabled {
                return Err(AuthError::bad_request(
                    "phone_provider_disabled",
                    "Phone signups are disabled",
                ));
            }
            ("phone", validate::phone(ph)?)
        }
        _ => unreachable!("one of email or phone is set, checked above"),
    };
    let autoconfirm = if provider == "email" {
        s.mailer_autoconfirm
    } else {
        s.sms_autoconfirm
    };
    let hash = passwords::hash(&password).await?;
    let mut db = ctx.project.pool.get().await?;
    let tx = db.transaction().await?;
    let existing = if provider == "email" {
        find_by_email(&tx, &address).await?
    } else {
        find_by_phone(&tx, &address).await?
    };
    let user_id = match existing {
        Some(u)
            if (provider == "email" && u.email_confirmed)
                || (provider == "phone" && u.phone_confirmed) =>
        {
            audit::record(
                &tx,
                &ctx,
                Some(u.id),
                &address,
                "user_repeated_signup",
                "user",
                json!({"provider": provider}),
            )
            .await?;
            tx.commit().await?;
            if s.mailer_autoconfirm || s.sms_autoconfirm {
                return Err(AuthError::unprocessable(
                    "user_already_exists",
                    "User already registered",
                ));
            }
            let now: String = db
                .query_one("SELECT madbase.auth_ts(now())", &[])
                .await?
                .get(0);
            let (e, ph) = if provider == "email" {
                (address.as_str(), "")
            } else {
                ("", address.as_str())
            };
            return Ok(Json(obfuscated_user(e, ph, provider, &data, &now)));
        }
        Some(u) => u.id,
        None => {
            let new = if provider == "email" {
                NewUser::email(&address, Some(hash), data.clone(), autoconfirm)
            } else {
                NewUser::phone(&address, Some(hash), data.clone(), autoconfirm)
            };
            create_user(&tx, &ctx, new).await?
        }
    };
    let user = find_by_id(&tx, user_id)
        .await?
        .ok_or_else(|| AuthError::internal("user vanished"))?;
    let confirmed = if provider == "email" {
        user.email_confirmed
    } else {
        user.phone_confirmed
    };
    if confirmed {
        let session = sessions::sign_in(&tx, &ctx, user_id, "password", &Extras::default()).await?;
        audit::record(
            &tx,
            &ctx,
            Some(user_id),
            &address,
            "login",
            "account",
            json!({"provider": provider}),
        )
        .await?;
        tx.commit().await?;
        return Ok(Json(session));
    }
    if provider == "email" {
        if let Some((c, m)) = &challenge {
            pkce::create_flow_state(
                &tx,
                Some(user_id),
                c,
                m,
                "email",
                EmailAction::Signup.method(),
            )
            .await?;
        }
        otp::send_email_token(
            &tx,
            &ctx,
            user_id,
            &address,
            EmailAction::Signup,
            &redirect,
            challenge.is_some(),
            user.confirmation_sent_at,
        )
        .await?;
    } else {
        otp::send_sms_token(
            &tx,
            &ctx,
            user_id,
            &address,
            "confirmation_token",
            user.confirmation_sent_at,
        )
        .await?;
    }
    audit::record(
        &tx,
        &ctx,
        Some(user_id),
        &address,
        "user_confirmation_requested",
        "user",
        json!({"provider": provider}),
    )
    .await?;
    let body: Value = tx
        .query_one(
            "SELECT madbase.auth_user_json(u) FROM auth.users u WHERE id = $1",
            &[&user_id],
        )
        .await?
        .get(0);
    tx.commit().await?;
    Ok(Json(body))
}

async fn anonymous(ctx: Ctx, data: Value) -> AuthResult<Json<Value>> {
    let s = &ctx.auth().settings;
    if !s.anonymous_users {
        return Err(AuthError::unprocessable(
            "anonymous_provider_disabled",
            "Anonymous sign-ins are disabled",
        ));
    }
    if s.disable_signup {
        return Err(AuthError::unprocessable(
            "signup_disabled",
            "Signups not allowed for this instance",
        ));
    }
    ctx.auth()
        .limits
        .hit(Bucket::Otp, ctx.ip_key(), s.rate_limit_otp, FIVE_MINUTES)?;
    let mut db = ctx.project.pool.get().await?;
    let tx = db.transaction().await?;
    let id = create_user(
        &tx,
        &ctx,
        NewUser {
            provider: "anonymous".into(),
            user_metadata: data,
            anonymous: true,
            ..Default::default()
        },
    )
    .await?;
    let session = sessions::sign_in(&tx, &ctx, id, "anonymous", &Extras::default()).await?;
    tx.commit().await?;
    Ok(Json(session))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn obfuscated_user_reveals_nothing() {
        let a = obfuscated_user("a@b.co", "", "email", &json!({"x": 1}), "t");
        let b = obfuscated_user("a@b.co", "", "email", &json!({"x": 1}), "t");
        assert_ne!(a["id"], b["id"], "a fresh id every time");
        assert_eq!(a["identities"], json!([]));
        assert_eq!(a["role"], "");
        assert!(a.get("email_confirmed_at").is_none());
        assert_eq!(a["user_metadata"]["x"], 1);
    }
}
