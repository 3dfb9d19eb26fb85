//! A signed-in user's identities (`/user/identities`, auth-js `linkIdentity` and
//! `unlinkIdentity`): linking another OAuth/OIDC identity (the OAuth round trip starts here and
//! ends in `oauth`'s callback, or an ID token on `grant_type=id_token` with `link_identity`),
//! and unlinking one. Both need manual linking on (`MADBASE_AUTH_SECURITY_MANUAL_LINKING_ENABLED`,
//! GoTrue's `GOTRUE_SECURITY_MANUAL_LINKING_ENABLED`), else 404 `manual_linking_disabled`.
//!
//! After an unlink the user's email and phone follow the identities that remain, as GoTrue
//! does: a removed phone identity takes the phone with it, and an email no identity vouches for
//! any more is replaced by the best remaining identity's email.

use axum::Json;
use axum::extract::{Path, Query};
use axum::response::{IntoResponse, Response};
use deadpool_postgres::GenericClient;
use serde_json::{Value, json};
use uuid::Uuid;

use super::error::{AuthError, AuthResult};
use super::oauth::{self, AuthorizeQuery, Profile};
use super::otp::{self, EmailAction};
use super::sessions::{self, AuthUser};
use super::{Ctx, audit, signup};

fn require_manual_linking(ctx: &Ctx) -> AuthResult<()> {
    if ctx.auth().settings.manual_linking_enabled {
        Ok(())
    } else {
        Err(AuthError::not_found(
            "manual_linking_disabled",
            "Manual linking is disabled",
        ))
    }
}

/// `GET /user/identities/authorize?provider=…`: starts an OAuth flow whose callback links the
/// identity to the caller; `{url}` with `skip_http_redirect=true` (what auth-js sends), else 302.
pub async fn authorize(user: AuthUser, Query(q): Query<AuthorizeQuery>) -> Response {
    let run = async {
        require_manual_linking(&user.ctx)?;
        oauth::authorize_url(&user.ctx, &q, Some(user.user_id)).await
    };
    match run.await {
        Ok(url) if q.skip_http_redirect.as_deref() == Some("true") => {
            Json(json!({ "url": url })).into_response()
        }
        Ok(url) => (http::StatusCode::FOUND, [(http::header::LOCATION, url)]).into_response(),
        Err(e) => e.into_response(),
    }
}

/// The user an ID-token grant with `link_identity: true` links to: the bearer of the request.
pub async fn id_token_target(ctx: &Ctx, headers: &http::HeaderMap) -> AuthResult<Uuid> {
    require_manual_linking(ctx)?;
    let token = sessions::bearer_token(headers)?;
    let (_, user_id, _) = sessions::verify_user_token(&ctx.project, &token)?;
    Ok(user_id)
}

/// What linking did.
#[derive(Debug)]
pub enum Linked {
    /// Linked; sign the user in.
    Done(Uuid),
    /// Linked, and the identity's unverified email became the user's (unconfirmed) email with
    /// a confirmation sent: commit, then answer this error instead of a session (GoTrue's
    /// 422 `email_not_confirmed`).
    Unconfirmed(AuthError),
}

/// Links the identity in `prof` to `target` (callback or ID-token grant of a linking flow), in
/// the caller's transaction. An identity already linked (to this or another user) is
/// `identity_already_exists`. A user without an email takes the identity's: a verified one
/// confirmed, which also ends its anonymity; an unverified one to be confirmed by email first.
pub async fn link(
    db: &impl GenericClient,
    ctx: &Ctx,
    target: Uuid,
    provider: &str,
    prof: &Profile,
) -> AuthResult<Linked> {
    let owner: Option<Uuid> = db
        .query_opt(
            "SELECT user_id FROM auth.identities WHERE provider_id = $1 AND provider = $2",
            &[&prof.sub, &provider],
        )
        .await?
        .map(|r| r.get(0));
    match owner {
        Some(u) if u == target => {
            return Err(AuthError::unprocessable(
                "identity_already_exists",
                "Identity is already linked",
            ));
        }
        Some(_) => {
            return Err(AuthError::unprocessable(
                "identity_already_exists",
                "Identity is already linked to another user",
            ));
        }
        None => {}
    }
    let email: String = db
        .query_opt(
            "SELECT coalesce(email, '') FROM auth.users WHERE id = $1 FOR UPDATE",
            &[&target],
        )
        .await?
        .ok_or_else(|| AuthError::unprocessable("user_not_found", "Linking target user not found"))?
        .get(0);
    signup::add_identity(db, target, provider, &prof.sub, &prof.data).await?;
    let mut outcome = Linked::Done(target);
    if email.is_empty()
        && let Some(new_email) = prof.email.as_deref()
    {
        let taken = db
            .query_opt(
                "SELECT 1 FROM auth.users WHERE lower(email) = lower($1) AND id <> $2",
                &[&new_email, &target],
            )
            .await?
            .is_some();
        if taken {
            return Err(AuthError::bad_request(
                "email_exists",
                "A user with this email address has already been registered",
            ));
        }
        if prof.email_verified {
            db.execute(
                "UPDATE auth.users SET email = $2, email_confirmed_at = coalesce(email_confirmed_at, now()),
                     is_anonymous = false, updated_at = now()
                 WHERE id = $1",
                &[&target, &new_email],
            )
            .await?;
        } else {
            db.execute(
                "UPDATE auth.users SET email = $2, email_confirmed_at = NULL, updated_at = now() WHERE id = $1",
                &[&target, &new_email],
            )
            .await?;
            let site = &ctx.auth().settings.site_url;
            otp::send_email_token(
                db,
                ctx,
                target,
                new_email,
                EmailAction::Signup,
                site,
                false,
                None,
            )
            .await?;
            outcome = Linked::Unconfirmed(AuthError::unprocessable(
                "email_not_confirmed",
                format!(
                    "Unverified email with {provider}. A confirmation email has been sent to your {provider} email"
                ),
            ));
        }
    }
    providers_from_identities(db, target).await?;
    audit::record(
        db,
        ctx,
        Some(target),
        "",
        "identity_linked",
        "account",
        json!({"provider": provider, "provider_id": prof.sub}),
    )
    .await?;
    Ok(outcome)
}

/// `DELETE /user/identities/{identity_id}` (auth-js `unlinkIdentity`): `{}`.
pub async fn unlink(user: AuthUser, Path(id): Path<String>) -> AuthResult<Json<Value>> {
    require_manual_linking(&user.ctx)?;
    let id = Uuid::parse_str(&id)
        .map_err(|_| AuthError::not_found("validation_failed", "identity_id must be an UUID"))?;
    let mut db = user.project().pool.get().await?;
    let tx = db.transaction().await?;
    // Lock the user so two concurrent unlinks cannot both pass the "more than one" check.
    tx.execute(
        "SELECT 1 FROM auth.users WHERE id = $1 FOR UPDATE",
        &[&user.user_id],
    )
    .await?;
    let count: i64 = tx
        .query_one(
            "SELECT count(*) FROM auth.identities WHERE user_id = $1",
            &[&user.user_id],
        )
        .await?
        .get(0);
    if count <= 1 {
        return Err(AuthError::unprocessable(
            "single_identity_not_deletable",
            "User must have at least 1 identity after unlinking",
        ));
    }
    let removed = tx
        .query_opt(
            "DELETE FROM auth.identities WHERE id = $1 AND user_id = $2 RETURNING provider, provider_id",
            &[&id, &user.user_id],
        )
        .await?
        .ok_or_else(|| AuthError::unprocessable("identity_not_found", "Identity doesn't exist"))?;
    let provider: String = removed.get(0);
    let provider_id: String = removed.get(1);
    if provider == "phone" {
        tx.execute(
            "UPDATE auth.users SET phone = NULL, phone_confirmed_at = NULL, updated_at = now() WHERE id = $1",
            &[&user.user_id],
        )
        .await?;
    } else {
        email_from_identities(&tx, &user.ctx, user.user_id).await?;
    }
    providers_from_identities(&tx, user.user_id).await?;
    audit::record(
        &tx,
        &user.ctx,
        Some(user.user_id),
        "",
        "identity_unlinked",
        "account",
        json!({"identity_id": id, "provider": provider, "provider_id": provider_id}),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(json!({})))
}

/// `app_metadata.providers` from the user's identities, oldest first, and `provider` the first
/// of them (GoTrue's `UpdateAppMetaDataProviders`): an anonymous user who links an identity
/// stops listing `anonymous`.
async fn providers_from_identities(db: &impl GenericClient, uid: Uuid) -> AuthResult<()> {
    db.execute(
        "UPDATE auth.users SET raw_app_meta_data = coalesce(raw_app_meta_data, '{}'::jsonb)
             || jsonb_build_object('providers', p.list, 'provider', coalesce(p.list->>0, raw_app_meta_data->>'provider')),
             updated_at = now()
         FROM (SELECT coalesce(jsonb_agg(provider ORDER BY first), '[]'::jsonb) AS list
               FROM (SELECT provider, min(created_at) AS first FROM auth.identities
                     WHERE user_id = $1 GROUP BY provider) i) p
         WHERE id = $1",
        &[&uid],
    )
    .await?;
    Ok(())
}

/// Keeps the user's email if an identity still has it; otherwise takes the email of the best
/// remaining identity (provider-verified first, then unverified, then none; oldest first) that
/// no other user has, unconfirmed unless verified or autoconfirmed.
async fn email_from_identities(db: &impl GenericClient, ctx: &Ctx, uid: Uuid) -> AuthResult<()> {
    let kept = db
        .query_one(
            "SELECT coalesce(u.email, '') = '' OR EXISTS (
                 SELECT 1 FROM auth.identities i WHERE i.user_id = u.id AND i.email = lower(u.email))
             FROM auth.users u WHERE u.id = $1",
            &[&uid],
        )
        .await?
        .get::<_, bool>(0);
    if kept {
        return Ok(());
    }
    let candidate = db
        .query_opt(
            "SELECT coalesce(i.email, ''), coalesce((i.identity_data->>'email_verified')::boolean, false)
             FROM auth.identities i
             WHERE i.user_id = $1
               AND NOT EXISTS (SELECT 1 FROM auth.users o
                               WHERE o.id <> $1 AND i.email <> '' AND lower(o.email) = i.email)
             ORDER BY CASE WHEN coalesce(i.email, '') = '' THEN 2
                           WHEN coalesce((i.identity_data->>'email_verified')::boolean, false) THEN 0
                           ELSE 1 END,
                      i.created_at, i.id
             LIMIT 1",
            &[&uid],
        )
        .await?
        .ok_or_else(|| {
            AuthError::unprocessable(
                "email_conflict_identity_not_deletable",
                "Unable to unlink identity due to email conflict",
            )
        })?;
    let email: String = candidate.get(0);
    let confirmed = !email.is_empty()
        && (candidate.get::<_, bool>(1) || ctx.auth().settings.mailer_autoconfirm);
    db.execute(
        "UPDATE auth.users SET email = nullif($2, ''),
             email_confirmed_at = CASE WHEN $3 THEN email_confirmed_at END,
             confirmation_token = '', recovery_token = '', email_change = '', email_change_token_new = '',
             email_change_token_current = '', email_change_confirm_status = 0, updated_at = now()
         WHERE id = $1",
        &[&uid, &email, &confirmed],
    )
    .await?;
    db.execute(
        "DELETE FROM auth.one_time_tokens WHERE user_id = $1",
        &[&uid],
    )
    .await?;
    Ok(())
}
