//! `POST /token`: the grants. `password` here; `refresh_token` in `refresh_tokens`, `pkce` in
//! `pkce`, `id_token` in `oauth`. Anything else is GoTrue's `unsupported_grant_type`.

use axum::Json;
use axum::extract::Query;
use serde::Deserialize;
use serde_json::{Value, json};

use super::error::{AuthError, AuthResult};
use super::rate_limit::{Bucket, FIVE_MINUTES};
use super::sessions::{self, Extras};
use super::{Body, Ctx, audit, oauth, passwords, pkce, refresh_tokens, signup, validate};

/// The grant type.
#[derive(Debug, Deserialize)]
pub struct TokenQuery {
    grant_type: Option<String>,
}

/// `POST /token?grant_type=…`.
pub async fn token(
    ctx: Ctx,
    q: Query<TokenQuery>,
    headers: http::HeaderMap,
    Body(body): Body<Value>,
) -> AuthResult<Json<Value>> {
    let auth = ctx.auth();
    auth.limits.hit(
        Bucket::Token,
        ctx.ip_key(),
        auth.settings.rate_limit_token,
        FIVE_MINUTES,
    )?;
    match q.grant_type.as_deref().unwrap_or("") {
        "password" => password(&ctx, &body).await.map(Json),
        "refresh_token" => refresh_tokens::grant(&ctx, &body).await.map(Json),
        "pkce" => pkce::grant(&ctx, &body).await,
        "id_token" => oauth::id_token_grant(&ctx, &body, &headers).await.map(Json),
        _ => Err(AuthError::bad_request(
            "invalid_credentials",
            "unsupported_grant_type",
        )),
    }
}

async fn password(ctx: &Ctx, body: &Value) -> AuthResult<Value> {
    let s = &ctx.auth().settings;
    let email = body
        .get("email")
        .and_then(Value::as_str)
        .filter(|e| !e.is_empty());
    let phone = body
        .get("phone")
        .and_then(Value::as_str)
        .filter(|e| !e.is_empty());
    let pw = body.get("password").and_then(Value::as_str).unwrap_or("");
    let mut db = ctx.project.pool.get().await?;
    let tx = db.transaction().await?;
    let (user, provider) = match (email, phone) {
        (Some(e), None) => {
            if !s.email_enabled {
                return Err(AuthError::bad_request(
                    "email_provider_disabled",
                    "Email logins are disabled",
                ));
            }
            let e = validate::email(e).map_err(|_| AuthError::invalid_credentials())?;
            (signup::find_by_email(&tx, &e).await?, "email")
        }
        (None, Some(p)) => {
            if !s.phone_enabled {
                return Err(AuthError::bad_request(
                    "phone_provider_disabled",
                    "Phone logins are disabled",
                ));
            }
            let p = validate::phone(p).map_err(|_| AuthError::invalid_credentials())?;
            (signup::find_by_phone(&tx, &p).await?, "phone")
        }
        (Some(_), Some(_)) => {
            return Err(AuthError::validation(
                "Only an email address or phone number should be provided on login.",
            ));
        }
        (None, None) => {
            return Err(AuthError::validation("missing email or phone"));
        }
    };
    let verified =
        passwords::verify(pw, user.as_ref().and_then(|u| u.encrypted_password.clone())).await?;
    let Some(user) = user.filter(|_| verified.ok) else {
        return Err(AuthError::invalid_credentials());
    };
    if user.banned {
        return Err(AuthError::bad_request("user_banned", "User is banned"));
    }
    if provider == "email" && !user.email_confirmed {
        return Err(AuthError::bad_request(
            "email_not_confirmed",
            "Email not confirmed",
        ));
    }
    if provider == "phone" && !user.phone_confirmed {
        return Err(AuthError::bad_request(
            "phone_not_confirmed",
            "Phone not confirmed",
        ));
    }
    if verified.needs_rehash {
        // Imported bcrypt (or older Argon2) hash: replace it now that the password is known.
        let new_hash = passwords::hash(pw).await?;
        tx.execute(
            "UPDATE auth.users SET encrypted_password = $2 WHERE id = $1",
            &[&user.id, &new_hash],
        )
        .await?;
    }
    let weak = passwords::weakness(&ctx.auth().policy, pw)
        .map(|(message, reasons)| json!({"message": message, "reasons": reasons}));
    let extras = Extras {
        weak_password: weak,
        ..Default::default()
    };
    let session = sessions::sign_in(&tx, ctx, user.id, "password", &extras).await?;
    let who = if user.email.is_empty() {
        &user.phone
    } else {
        &user.email
    };
    audit::record(
        &tx,
        ctx,
        Some(user.id),
        who,
        "login",
        "account",
        json!({"provider": provider}),
    )
    .await?;
    tx.commit().await?;
    Ok(session)
}
