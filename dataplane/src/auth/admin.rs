//! The admin API (service_role or supabase_admin bearer only): users (list with GoTrue's
//! pagination headers, get, create, update, hard and soft delete), their factors,
//! `generate_link` and `/invite`.

use axum::Json;
use axum::extract::{Path, Query};
use axum::response::{IntoResponse, Response};
use deadpool_postgres::GenericClient;
use http::HeaderValue;
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::error::{AuthError, AuthResult};
use super::otp::{self, EmailAction};
use super::sessions::Admin;
use super::signup::{self, NewUser};
use super::{Body, Ctx, RedirectQuery, audit, passwords, validate};

/// GoTrue's default page size.
pub const DEFAULT_PER_PAGE: i64 = 50;

/// `Link` header value, as GoTrue builds it (auth-js reads the first query parameter, `page`).
pub fn link_header(page: i64, per_page: i64, total: i64) -> String {
    let pages = (total + per_page - 1) / per_page;
    let mut h = String::new();
    if pages > page {
        h.push_str(&format!(
            "</admin/users?page={}&per_page={per_page}>; rel=\"next\", ",
            page + 1
        ));
    }
    h.push_str(&format!(
        "</admin/users?page={pages}&per_page={per_page}>; rel=\"last\""
    ));
    h
}

async fn user_json(db: &impl GenericClient, id: Uuid) -> AuthResult<Value> {
    db.query_opt(
        "SELECT madbase.auth_user_json(u) FROM auth.users u WHERE id = $1",
        &[&id],
    )
    .await?
    .map(|r| r.get(0))
    .ok_or_else(AuthError::user_not_found)
}

fn parse_id(id: &str) -> AuthResult<Uuid> {
    Uuid::parse_str(id).map_err(|_| AuthError::not_found("user_not_found", "User not found"))
}

/// `GET /admin/users?page=&per_page=` query.
#[derive(Debug, Deserialize)]
pub struct ListQuery {
    page: Option<String>,
    per_page: Option<String>,
}

/// `GET /admin/users`.
pub async fn list_users(admin: Admin, Query(q): Query<ListQuery>) -> AuthResult<Response> {
    let num = |v: &Option<String>, d: i64| -> AuthResult<i64> {
        match v.as_deref().filter(|s| !s.is_empty()) {
            None => Ok(d),
            Some(s) => s
                .parse::<i64>()
                .ok()
                .filter(|n| *n >= 1)
                .ok_or_else(|| AuthError::validation("Bad Pagination Parameters")),
        }
    };
    let page = num(&q.page, 1)?;
    let per_page = num(&q.per_page, DEFAULT_PER_PAGE)?.min(1000);
    let db = admin.ctx.project.pool.get().await?;
    let row = db
        .query_one(
            "SELECT (SELECT count(*) FROM auth.users),
                    coalesce((SELECT jsonb_agg(madbase.auth_user_json(u) ORDER BY u.created_at DESC, u.id)
                              FROM (SELECT * FROM auth.users ORDER BY created_at DESC, id
                                    LIMIT $1 OFFSET $2) u), '[]'::jsonb)",
            &[&per_page, &((page - 1) * per_page)],
        )
        .await?;
    let total: i64 = row.get(0);
    let users: Value = row.get(1);
    let mut resp = Json(json!({"users": users, "aud": "authenticated"})).into_response();
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&total.to_string()) {
        h.insert("x-total-count", v);
    }
    if let Ok(v) = HeaderValue::from_str(&link_header(page, per_page, total)) {
        h.insert("link", v);
    }
    Ok(resp)
}

/// `GET /admin/users/{id}`.
pub async fn get_user(admin: Admin, Path(id): Path<String>) -> AuthResult<Json<Value>> {
    let db = admin.ctx.project.pool.get().await?;
    Ok(Json(user_json(&db, parse_id(&id)?).await?))
}

/// Create/update attributes.
#[derive(Debug, Default, Deserialize)]
pub struct UserAttrs {
    email: Option<String>,
    phone: Option<String>,
    password: Option<String>,
    password_hash: Option<String>,
    email_confirm: Option<bool>,
    phone_confirm: Option<bool>,
    user_metadata: Option<Value>,
    app_metadata: Option<Value>,
    role: Option<String>,
    ban_duration: Option<String>,
    id: Option<String>,
}

/// `ban_duration`: `none`, or a Go duration like `24h`, `30m`, `1h30m`, `90s`.
pub fn ban_seconds(v: &str) -> AuthResult<Option<i64>> {
    if v == "none" {
        return Ok(None);
    }
    let bad = || {
        AuthError::validation(
            "invalid format for ban duration: expected a duration such as \"24h\" or \"none\"",
        )
    };
    let mut total = 0f64;
    let mut num = String::new();
    let mut chars = v.chars().peekable();
    let mut any = false;
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() || c == '.' {
            num.push(c);
            continue;
        }
        let unit = if c == 'm' && chars.peek() == Some(&'s') {
            chars.next();
            0.001
        } else {
            match c {
                'h' => 3600.0,
                'm' => 60.0,
                's' => 1.0,
                _ => return Err(bad()),
            }
        };
        total += num.parse::<f64>().map_err(|_| bad())? * unit;
        num.clear();
        any = true;
    }
    if !num.is_empty() || !any {
        return Err(bad());
    }
    Ok(Some(total as i64))
}

/// `POST /admin/users`.
pub async fn create_user(admin: Admin, Body(a): Body<UserAttrs>) -> AuthResult<Json<Value>> {
    let ctx = &admin.ctx;
    let email = a
        .email
        .as_deref()
        .filter(|e| !e.is_empty())
        .map(validate::email)
        .transpose()?;
    let phone = a
        .phone
        .as_deref()
        .filter(|e| !e.is_empty())
        .map(validate::phone)
        .transpose()?;
    let hash = match (&a.password, &a.password_hash) {
        (Some(pw), _) if !pw.is_empty() => {
            passwords::check_strength(&ctx.auth().policy, pw)?;
            Some(passwords::hash(pw).await?)
        }
        (_, Some(h)) if h.starts_with("$2") || h.starts_with("$argon2") => Some(h.clone()),
        (_, Some(_)) => return Err(AuthError::validation("Invalid password hash format")),
        _ => None,
    };
    let ban = a
        .ban_duration
        .as_deref()
        .map(ban_seconds)
        .transpose()?
        .flatten();
    let id =
        a.id.as_deref()
            .map(|i| Uuid::parse_str(i).map_err(|_| AuthError::validation("Invalid user id")))
            .transpose()?;
    let mut db = ctx.project.pool.get().await?;
    let tx = db.transaction().await?;
    if let Some(e) = &email
        && signup::find_by_email(&tx, e).await?.is_some()
    {
        return Err(AuthError::unprocessable(
            "email_exists",
            "A user with this email address has already been registered",
        ));
    }
    if let Some(p) = &phone
        && signup::find_by_phone(&tx, p).await?.is_some()
    {
        return Err(AuthError::unprocessable(
            "phone_exists",
            "Phone number already registered by another user",
        ));
    }
    let provider = if email.is_some() {
        "email"
    } else if phone.is_some() {
        "phone"
    } else {
        "email"
    };
    let new = NewUser {
        id,
        email: email.clone(),
        phone: phone.clone(),
        password_hash: hash,
        provider: provider.into(),
        user_metadata: a.user_metadata.unwrap_or_else(|| json!({})),
        app_metadata: a.app_metadata.unwrap_or_else(|| json!({})),
        email_confirmed: a.email_confirm.unwrap_or(false),
        phone_confirmed: a.phone_confirm.unwrap_or(false),
        role: a.role,
        ban_seconds: ban,
        ..Default::default()
    };
    let uid = signup::create_user(&tx, ctx, new).await?;
    let body = user_json(&tx, uid).await?;
    tx.commit().await?;
    Ok(Json(body))
}

/// `PUT /admin/users/{id}`.
pub async fn update_user(
    admin: Admin,
    Path(id): Path<String>,
    Body(a): Body<UserAttrs>,
) -> AuthResult<Json<Value>> {
    let ctx = &admin.ctx;
    let id = parse_id(&id)?;
    let mut db = ctx.project.pool.get().await?;
    let tx = db.transaction().await?;
    let u = signup::find_by_id(&tx, id)
        .await?
        .ok_or_else(AuthError::user_not_found)?;
    if let Some(e) = a.email.as_deref().filter(|e| !e.is_empty()) {
        let e = validate::email(e)?;
        if e != u.email {
            if signup::find_by_email(&tx, &e).await?.is_some() {
                return Err(AuthError::unprocessable(
                    "email_exists",
                    "A user with this email address has already been registered",
                ));
            }
            tx.execute(
                "UPDATE auth.users SET email = $2, is_anonymous = false WHERE id = $1",
                &[&id, &e],
            )
            .await?;
            super::users::upsert_email_identity(&tx, id, &e).await?;
        }
    }
    if let Some(p) = a.phone.as_deref().filter(|e| !e.is_empty()) {
        let p = validate::phone(p)?;
        if p != u.phone {
            if signup::find_by_phone(&tx, &p).await?.is_some() {
                return Err(AuthError::unprocessable(
                    "phone_exists",
                    "Phone number already registered by another user",
                ));
            }
            tx.execute(
                "UPDATE auth.users SET phone = $2, is_anonymous = false WHERE id = $1",
                &[&id, &p],
            )
            .await?;
        }
    }
    if let Some(pw) = a.password.as_deref().filter(|p| !p.is_empty()) {
        passwords::check_strength(&ctx.auth().policy, pw)?;
        let h = passwords::hash(pw).await?;
        tx.execute(
            "UPDATE auth.users SET encrypted_password = $2 WHERE id = $1",
            &[&id, &h],
        )
        .await?;
    }
    if let Some(true) = a.email_confirm {
        tx.execute("UPDATE auth.users SET email_confirmed_at = coalesce(email_confirmed_at, now()) WHERE id = $1", &[&id]).await?;
    }
    if let Some(true) = a.phone_confirm {
        tx.execute("UPDATE auth.users SET phone_confirmed_at = coalesce(phone_confirmed_at, now()) WHERE id = $1", &[&id]).await?;
    }
    if let Some(m) = a.user_metadata.filter(Value::is_object) {
        tx.execute(
            "UPDATE auth.users SET raw_user_meta_data = jsonb_strip_nulls(coalesce(raw_user_meta_data, '{}'::jsonb) || $2) WHERE id = $1",
            &[&id, &m],
        )
        .await?;
    }
    if let Some(m) = a.app_metadata.filter(Value::is_object) {
        tx.execute(
            "UPDATE auth.users SET raw_app_meta_data = jsonb_strip_nulls(coalesce(raw_app_meta_data, '{}'::jsonb) || $2) WHERE id = $1",
            &[&id, &m],
        )
        .await?;
    }
    if let Some(role) = a.role.filter(|r| !r.is_empty()) {
        tx.execute(
            "UPDATE auth.users SET role = $2 WHERE id = $1",
            &[&id, &role],
        )
        .await?;
    }
    if let Some(b) = a.ban_duration.as_deref() {
        let secs = ban_seconds(b)?.map(|s| s as f64);
        tx.execute(
            "UPDATE auth.users SET banned_until = CASE WHEN $2::float8 IS NULL THEN NULL ELSE now() + make_interval(secs => $2::float8) END WHERE id = $1",
            &[&id, &secs],
        )
        .await?;
        if secs.is_some() {
            tx.execute("DELETE FROM auth.sessions WHERE user_id = $1", &[&id])
                .await?;
        }
    }
    tx.execute(
        "UPDATE auth.users SET updated_at = now() WHERE id = $1",
        &[&id],
    )
    .await?;
    audit::record(
        &tx,
        ctx,
        None,
        "service_role",
        "user_modified",
        "user",
        json!({"user_id": id}),
    )
    .await?;
    let body = user_json(&tx, id).await?;
    tx.commit().await?;
    Ok(Json(body))
}

/// `DELETE /admin/users/{id}` body.
#[derive(Debug, Default, Deserialize)]
pub struct DeleteParams {
    should_soft_delete: Option<bool>,
}

/// `DELETE /admin/users/{id}`: hard delete, or soft (identities and sessions removed, personal
/// fields cleared, `deleted_at` set), as GoTrue.
pub async fn delete_user(
    admin: Admin,
    Path(id): Path<String>,
    Body(p): Body<DeleteParams>,
) -> AuthResult<Json<Value>> {
    let ctx = &admin.ctx;
    let id = parse_id(&id)?;
    let mut db = ctx.project.pool.get().await?;
    let tx = db.transaction().await?;
    let body = user_json(&tx, id).await?;
    if p.should_soft_delete.unwrap_or(false) {
        tx.execute("DELETE FROM auth.identities WHERE user_id = $1", &[&id])
            .await?;
        tx.execute("DELETE FROM auth.sessions WHERE user_id = $1", &[&id])
            .await?;
        tx.execute("DELETE FROM auth.mfa_factors WHERE user_id = $1", &[&id])
            .await?;
        tx.execute(
            "UPDATE auth.users SET email = NULL, phone = NULL, encrypted_password = '', raw_user_meta_data = '{}'::jsonb,
                 raw_app_meta_data = '{}'::jsonb, deleted_at = now(), updated_at = now(),
                 confirmation_token = '', recovery_token = '', email_change = '', email_change_token_new = '',
                 email_change_token_current = '', phone_change = '', phone_change_token = '', reauthentication_token = ''
             WHERE id = $1",
            &[&id],
        )
        .await?;
        tx.execute(
            "DELETE FROM auth.one_time_tokens WHERE user_id = $1",
            &[&id],
        )
        .await?;
    } else {
        tx.execute("DELETE FROM auth.users WHERE id = $1", &[&id])
            .await?;
    }
    audit::record(
        &tx,
        ctx,
        None,
        "service_role",
        "user_deleted",
        "team",
        json!({"user_id": id}),
    )
    .await?;
    tx.commit().await?;
    let _ = body;
    Ok(Json(json!({})))
}

/// `GET /admin/users/{id}/factors`.
pub async fn list_factors(admin: Admin, Path(id): Path<String>) -> AuthResult<Json<Value>> {
    let db = admin.ctx.project.pool.get().await?;
    let user = user_json(&db, parse_id(&id)?).await?;
    Ok(Json(
        user.get("factors").cloned().unwrap_or_else(|| json!([])),
    ))
}

/// `DELETE /admin/users/{id}/factors/{factor_id}`.
pub async fn delete_factor(
    admin: Admin,
    Path((id, fid)): Path<(String, String)>,
) -> AuthResult<Json<Value>> {
    let uid = parse_id(&id)?;
    let fid = Uuid::parse_str(&fid)
        .map_err(|_| AuthError::not_found("mfa_factor_not_found", "Factor not found"))?;
    let db = admin.ctx.project.pool.get().await?;
    let row = db
        .query_opt(
            "DELETE FROM auth.mfa_factors WHERE id = $1 AND user_id = $2
             RETURNING jsonb_build_object('id', id, 'friendly_name', coalesce(friendly_name, ''), 'factor_type', factor_type, 'status', status)",
            &[&fid, &uid],
        )
        .await?
        .ok_or_else(|| AuthError::not_found("mfa_factor_not_found", "Factor not found"))?;
    Ok(Json(row.get(0)))
}

/// `POST /admin/generate_link` body.
#[derive(Debug, Default, Deserialize)]
pub struct LinkParams {
    #[serde(rename = "type")]
    kind: Option<String>,
    email: Option<String>,
    new_email: Option<String>,
    password: Option<String>,
    data: Option<Value>,
    redirect_to: Option<String>,
}

/// `POST /admin/generate_link`: creates the link without sending it; the user's fields
/// flattened with `action_link`, `email_otp`, `hashed_token`, `verification_type`,
/// `redirect_to`.
pub async fn generate_link(
    admin: Admin,
    q: Query<RedirectQuery>,
    Body(p): Body<LinkParams>,
) -> AuthResult<Json<Value>> {
    let ctx = &admin.ctx;
    let s = &ctx.auth().settings;
    let kind = p.kind.as_deref().unwrap_or("");
    let email = validate::email(p.email.as_deref().unwrap_or(""))?;
    let redirect = validate::redirect(
        &s.site_url,
        &s.uri_allow_list,
        q.redirect_to.as_deref().or(p.redirect_to.as_deref()),
    );
    let mut db = ctx.project.pool.get().await?;
    let tx = db.transaction().await?;
    let existing = signup::find_by_email(&tx, &email).await?;
    let data = p.data.clone().unwrap_or_else(|| json!({}));
    let (user_id, action, vtype) = match kind {
        "signup" => {
            let pw = p.password.as_deref().unwrap_or("");
            passwords::check_strength(&ctx.auth().policy, pw)?;
            let id = match existing {
                Some(u) if u.email_confirmed => {
                    return Err(AuthError::unprocessable(
                        "email_exists",
                        "A user with this email address has already been registered",
                    ));
                }
                Some(u) => u.id,
                None => {
                    let h = passwords::hash(pw).await?;
                    signup::create_user(&tx, ctx, NewUser::email(&email, Some(h), data, false))
                        .await?
                }
            };
            (id, Some(EmailAction::Signup), "signup")
        }
        "invite" => {
            let id = match existing {
                Some(u) if u.email_confirmed => {
                    return Err(AuthError::unprocessable(
                        "email_exists",
                        "A user with this email address has already been registered",
                    ));
                }
                Some(u) => u.id,
                None => {
                    signup::create_user(&tx, ctx, NewUser::email(&email, None, data, false)).await?
                }
            };
            (id, Some(EmailAction::Invite), "invite")
        }
        "magiclink" | "recovery" => {
            let u = existing.ok_or_else(AuthError::user_not_found)?;
            let action = if kind == "recovery" {
                EmailAction::Recovery
            } else {
                EmailAction::MagicLink
            };
            (u.id, Some(action), kind)
        }
        "email_change_current" | "email_change_new" => {
            let u = existing.ok_or_else(AuthError::user_not_found)?;
            let new_email = validate::email(p.new_email.as_deref().unwrap_or(""))?;
            if signup::find_by_email(&tx, &new_email).await?.is_some() {
                return Err(AuthError::unprocessable(
                    "email_exists",
                    "A user with this email address has already been registered",
                ));
            }
            (u.id, None, "email_change")
        }
        _ => return Err(AuthError::validation("Invalid link type")),
    };
    let (otp_code, hashed) = match action {
        Some(a) => {
            otp::store_email_token(&tx, user_id, &email, a, s.mailer_otp_length, false).await?
        }
        None => {
            let new_email = validate::email(p.new_email.as_deref().unwrap_or(""))?;
            let code = otp::numeric_code(s.mailer_otp_length);
            let target = if kind == "email_change_current" {
                &email
            } else {
                &new_email
            };
            let h = otp::token_hash(target, &code);
            let col = if kind == "email_change_current" {
                "email_change_token_current"
            } else {
                "email_change_token_new"
            };
            tx.execute(
                &format!("UPDATE auth.users SET email_change = $2, {col} = $3, email_change_sent_at = now(), email_change_confirm_status = 0 WHERE id = $1"),
                &[&user_id, &new_email, &h],
            )
            .await?;
            otp::mirror_one_time_token(&tx, user_id, col, &h, target).await?;
            (code, h)
        }
    };
    let mut body = user_json(&tx, user_id).await?;
    body["action_link"] = json!(otp::verify_link(
        &ctx.auth().api_url,
        &hashed,
        vtype,
        &redirect
    ));
    body["email_otp"] = json!(otp_code);
    body["hashed_token"] = json!(hashed);
    body["verification_type"] = json!(vtype);
    body["redirect_to"] = json!(redirect);
    audit::record(
        &tx,
        ctx,
        None,
        "service_role",
        "user_generated_link",
        "team",
        json!({"type": kind}),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(body))
}

/// `POST /invite` body.
#[derive(Debug, Default, Deserialize)]
pub struct InviteParams {
    email: Option<String>,
    data: Option<Value>,
}

/// `POST /invite`: creates (or re-invites) the user and emails the invitation.
pub async fn invite(
    admin: Admin,
    q: Query<RedirectQuery>,
    Body(p): Body<InviteParams>,
) -> AuthResult<Json<Value>> {
    let ctx: &Ctx = &admin.ctx;
    let s = &ctx.auth().settings;
    let email = validate::email(p.email.as_deref().unwrap_or(""))?;
    let redirect = validate::redirect(&s.site_url, &s.uri_allow_list, q.redirect_to.as_deref());
    let mut db = ctx.project.pool.get().await?;
    let tx = db.transaction().await?;
    let (id, last) = match signup::find_by_email(&tx, &email).await? {
        Some(u) if u.email_confirmed => {
            return Err(AuthError::unprocessable(
                "email_exists",
                "A user with this email address has already been registered",
            ));
        }
        Some(u) => (u.id, u.confirmation_sent_at),
        None => {
            let data = p.data.unwrap_or_else(|| json!({}));
            (
                signup::create_user(&tx, ctx, NewUser::email(&email, None, data, false)).await?,
                None,
            )
        }
    };
    otp::send_email_token(
        &tx,
        ctx,
        id,
        &email,
        EmailAction::Invite,
        &redirect,
        false,
        last,
    )
    .await?;
    audit::record(
        &tx,
        ctx,
        None,
        "service_role",
        "user_invited",
        "team",
        json!({"user_email": email}),
    )
    .await?;
    let body = user_json(&tx, id).await?;
    tx.commit().await?;
    Ok(Json(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_header_matches_gotrue() {
        assert_eq!(
            link_header(1, 50, 120),
            "</admin/users?page=2&per_page=50>; rel=\"next\", </admin/users?page=3&per_page=50>; rel=\"last\""
        );
        assert_eq!(
            link_header(3, 50, 120),
            "</admin/users?page=3&per_page=50>; rel=\"last\""
        );
        assert_eq!(
            link_header(1, 50, 0),
            "</admin/users?page=0&per_page=50>; rel=\"last\""
        );
    }

    #[test]
    fn ban_durations() {
        assert_eq!(ban_seconds("none").expect("none"), None);
        assert_eq!(ban_seconds("24h").expect("24h"), Some(86_400));
        assert_eq!(ban_seconds("1h30m").expect("mixed"), Some(5_400));
        assert_eq!(ban_seconds("90s").expect("s"), Some(90));
        for bad in ["", "24", "1d", "abc", "h"] {
            assert!(ban_seconds(bad).is_err(), "{bad}");
        }
    }
}
