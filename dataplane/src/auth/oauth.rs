//! Sign-in with external OAuth 2.0 / OpenID Connect providers: GitHub (and GitHub
//! Enterprise), GitLab, Google and one generic OIDC issuer found by discovery.
//!
//! `GET /authorize` starts a flow (a row in `auth.flow_state`, whose id is the OAuth `state`)
//! and redirects to the provider; `GET /callback` exchanges the code, reads the profile, links
//! or creates the user and identity, and redirects to `redirect_to` with the session in the
//! fragment (or `?code=` for PKCE). `grant_type=id_token` verifies an ID token against the
//! issuer's JWKS. Providers are reached over HTTPS verified as `tls` sets up (or plain http,
//! for a provider on loopback or behind an in-cluster proxy).

use axum::extract::Query;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::error::{AuthError, AuthResult};
use super::identities::Linked;
use super::otp::pct;
use super::sessions::{self, Extras};
use super::signup::{self, NewUser};
use super::{Ctx, pkce, unix_now, validate, verify::error_fragment};
use madbase_config::{AuthSettings, OAuthProviderSettings};

/// How a provider is spoken to.
#[derive(Debug, Clone)]
enum Kind {
    GitHub,
    GitLab,
    Oidc,
}

#[derive(Debug, Clone)]
struct Provider {
    name: String,
    kind: Kind,
    settings: OAuthProviderSettings,
}

/// The configured providers.
#[derive(Debug)]
pub struct Providers {
    list: Vec<Provider>,
    http: reqwest::Client,
}

impl Providers {
    /// From settings.
    pub fn new(s: &AuthSettings, trust: &super::tls::OutboundTrust) -> anyhow::Result<Self> {
        let mut list = Vec::new();
        for (name, kind, p) in [
            ("github", Kind::GitHub, &s.github),
            ("google", Kind::Oidc, &s.google),
            ("gitlab", Kind::GitLab, &s.gitlab),
            ("oidc", Kind::Oidc, &s.oidc),
        ] {
            if let Some(p) = p {
                list.push(Provider {
                    name: name.to_owned(),
                    kind,
                    settings: p.clone(),
                });
            }
        }
        Ok(Self {
            list,
            http: trust.http_client()?,
        })
    }
    /// Whether `name` is configured.
    pub fn enabled(&self, name: &str) -> bool {
        self.list.iter().any(|p| p.name == name)
    }
    fn get(&self, name: &str) -> AuthResult<&Provider> {
        self.list.iter().find(|p| p.name == name).ok_or_else(|| {
            AuthError::bad_request(
                "validation_failed",
                "Unsupported provider: provider is not enabled",
            )
        })
    }
}

fn upstream(e: impl std::fmt::Display) -> AuthError {
    AuthError::new(
        http::StatusCode::BAD_GATEWAY,
        "provider_error",
        format!("Error talking to the OAuth provider: {e}"),
    )
}

/// A reqwest failure with its causes (a refused certificate says why).
fn upstream_http(e: reqwest::Error) -> AuthError {
    upstream(super::tls::describe(&e))
}

/// GETs a provider's JSON document (discovery, JWKS, userinfo, profile).
pub(crate) async fn get_json(
    http: &reqwest::Client,
    url: &str,
    bearer: Option<&str>,
) -> AuthResult<Value> {
    let mut req = http.get(url).header("accept", "application/json");
    if let Some(t) = bearer {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.map_err(upstream_http)?;
    if !resp.status().is_success() {
        return Err(upstream(format!("{url} answered {}", resp.status())));
    }
    resp.json().await.map_err(upstream_http)
}

struct Endpoints {
    authorize: String,
    token: String,
    scopes: &'static str,
    issuer: Option<String>,
    jwks: Option<String>,
    userinfo: Option<String>,
}

async fn endpoints(providers: &Providers, p: &Provider) -> AuthResult<Endpoints> {
    let base = p.settings.url.trim_end_matches('/');
    Ok(match p.kind {
        Kind::GitHub => Endpoints {
            authorize: format!("{base}/login/oauth/authorize"),
            token: format!("{base}/login/oauth/access_token"),
            scopes: "user:email",
            issuer: None,
            jwks: None,
            userinfo: None,
        },
        Kind::GitLab => Endpoints {
            authorize: format!("{base}/oauth/authorize"),
            token: format!("{base}/oauth/token"),
            scopes: "read_user",
            issuer: None,
            jwks: None,
            userinfo: None,
        },
        Kind::Oidc => {
            let d = get_json(
                &providers.http,
                &format!("{base}/.well-known/openid-configuration"),
                None,
            )
            .await?;
            let s = |k: &str| d.get(k).and_then(Value::as_str).map(str::to_owned);
            Endpoints {
                authorize: s("authorization_endpoint")
                    .ok_or_else(|| upstream("discovery has no authorization_endpoint"))?,
                token: s("token_endpoint")
                    .ok_or_else(|| upstream("discovery has no token_endpoint"))?,
                scopes: "openid email profile",
                issuer: s("issuer"),
                jwks: s("jwks_uri"),
                userinfo: s("userinfo_endpoint"),
            }
        }
    })
}

/// `GET /authorize` (and `/user/identities/authorize`) query.
#[derive(Debug, Deserialize)]
pub struct AuthorizeQuery {
    provider: Option<String>,
    redirect_to: Option<String>,
    scopes: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
    /// `true`: answer `{url}` instead of redirecting (auth-js `linkIdentity`).
    pub skip_http_redirect: Option<String>,
}

/// `GET /authorize?provider=…`: 302 to the provider.
pub async fn authorize(ctx: Ctx, Query(q): Query<AuthorizeQuery>) -> Response {
    match authorize_url(&ctx, &q, None).await {
        Ok(url) => (http::StatusCode::FOUND, [(http::header::LOCATION, url)]).into_response(),
        Err(e) => e.into_response(),
    }
}

/// Starts an OAuth flow (a row in `auth.flow_state` whose id is the `state`, naming the user
/// to link to when `linking_target` is set) and returns the provider's authorization URL.
pub(crate) async fn authorize_url(
    ctx: &Ctx,
    q: &AuthorizeQuery,
    linking_target: Option<Uuid>,
) -> AuthResult<String> {
    let auth = ctx.auth();
    let p = auth.oauth.get(q.provider.as_deref().unwrap_or(""))?;
    let redirect = validate::redirect(
        &auth.settings.site_url,
        &auth.settings.uri_allow_list,
        q.redirect_to.as_deref(),
    );
    let challenge = pkce::challenge(
        q.code_challenge.as_deref(),
        q.code_challenge_method.as_deref(),
    )?;
    let ep = endpoints(&auth.oauth, p).await?;
    let db = ctx.project.pool.get().await?;
    let state = Uuid::new_v4();
    db.execute(
        "INSERT INTO auth.flow_state (id, code_challenge_method, code_challenge, provider_type, authentication_method,
             referrer, linking_target_id, created_at, updated_at)
         VALUES ($1, $2::text::auth.code_challenge_method, $3, $4, 'oauth', $5, $6, now(), now())",
        &[
            &state,
            &challenge.as_ref().map(|c| c.1.clone()),
            &challenge.as_ref().map(|c| c.0.clone()),
            &p.name,
            &redirect,
            &linking_target,
        ],
    )
    .await?;
    let scopes = match q.scopes.as_deref().filter(|s| !s.is_empty()) {
        Some(extra) => format!("{} {extra}", ep.scopes),
        None => ep.scopes.to_owned(),
    };
    Ok(format!(
        "{}?client_id={}&redirect_uri={}&response_type=code&scope={}&state={state}",
        ep.authorize,
        pct(&p.settings.client_id),
        pct(&format!("{}/callback", auth.api_url)),
        pct(&scopes)
    ))
}

/// The profile read from a provider.
#[derive(Debug, Clone)]
pub struct Profile {
    /// Provider's user id.
    pub sub: String,
    /// Email, lower-cased.
    pub email: Option<String>,
    /// Whether the provider vouches for the email.
    pub email_verified: bool,
    /// Identity data as stored in `auth.identities`.
    pub data: Value,
}

/// GoTrue-style identity data from a provider's profile fields.
pub fn profile_from(kind: &str, raw: &Value, emails: Option<&Value>) -> Option<Profile> {
    let s = |k: &str| {
        raw.get(k).and_then(|v| {
            v.as_str()
                .map(str::to_owned)
                .or_else(|| v.as_i64().map(|n| n.to_string()))
        })
    };
    let (sub, mut email, mut verified, name, avatar, user_name) = match kind {
        "github" => (
            s("id")?,
            s("email"),
            false,
            s("name"),
            s("avatar_url"),
            s("login"),
        ),
        "gitlab" => (
            s("id")?,
            s("email"),
            raw.get("confirmed_at").is_some_and(|v| !v.is_null()),
            s("name"),
            s("avatar_url"),
            s("username"),
        ),
        _ => (
            s("sub")?,
            s("email"),
            raw.get("email_verified")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            s("name"),
            s("picture"),
            s("preferred_username"),
        ),
    };
    if let Some(list) = emails.and_then(Value::as_array)
        && let Some(primary) = list
            .iter()
            .find(|e| e.get("primary").and_then(Value::as_bool).unwrap_or(false))
    {
        email = primary
            .get("email")
            .and_then(Value::as_str)
            .map(str::to_owned);
        verified = primary
            .get("verified")
            .and_then(Value::as_bool)
            .unwrap_or(false);
    }
    let email = email.map(|e| e.to_lowercase());
    let data = json!({
        "sub": sub, "provider_id": sub, "email": email, "email_verified": verified, "phone_verified": false,
        "name": name, "full_name": name, "avatar_url": avatar, "picture": avatar, "user_name": user_name,
        "preferred_username": user_name, "iss": raw.get("iss"),
    });
    let data = match data {
        Value::Object(m) => Value::Object(m.into_iter().filter(|(_, v)| !v.is_null()).collect()),
        other => other,
    };
    Some(Profile {
        sub,
        email,
        email_verified: verified,
        data,
    })
}

/// Finds or creates the user of an external identity (linking by verified email); returns its id.
async fn upsert_user(
    db: &impl deadpool_postgres::GenericClient,
    ctx: &Ctx,
    provider: &str,
    prof: &Profile,
) -> AuthResult<Uuid> {
    let found: Option<Uuid> = db
        .query_opt(
            "SELECT user_id FROM auth.identities WHERE provider_id = $1 AND provider = $2",
            &[&prof.sub, &provider],
        )
        .await?
        .map(|r| r.get(0));
    if let Some(uid) = found {
        db.execute(
            "UPDATE auth.identities SET identity_data = $3, last_sign_in_at = now(), updated_at = now()
             WHERE provider_id = $1 AND provider = $2",
            &[&prof.sub, &provider, &prof.data],
        )
        .await?;
        return Ok(uid);
    }
    if let Some(email) = prof.email.as_deref().filter(|_| prof.email_verified)
        && let Some(u) = signup::find_by_email(db, email).await?
    {
        signup::add_identity(db, u.id, provider, &prof.sub, &prof.data).await?;
        db.execute("UPDATE auth.users SET email_confirmed_at = coalesce(email_confirmed_at, now()) WHERE id = $1", &[&u.id])
            .await?;
        return Ok(u.id);
    }
    if ctx.auth().settings.disable_signup {
        return Err(AuthError::unprocessable(
            "signup_disabled",
            "Signups not allowed for this instance",
        ));
    }
    let meta = prof.data.clone();
    signup::create_user(
        db,
        ctx,
        NewUser {
            email: prof.email.clone(),
            provider: provider.to_owned(),
            user_metadata: meta,
            email_confirmed: prof.email_verified,
            identity: Some((prof.sub.clone(), prof.data.clone())),
            ..Default::default()
        },
    )
    .await
}

/// `GET /callback` query.
#[derive(Debug, Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// `GET /callback`.
pub async fn callback(ctx: Ctx, Query(q): Query<CallbackQuery>) -> Response {
    let auth = ctx.auth();
    let state = q.state.as_deref().and_then(|s| Uuid::parse_str(s).ok());
    let mut redirect = auth.settings.site_url.clone();
    let mut pkce_flow = false;
    let result: AuthResult<String> = async {
        let state = state.ok_or_else(|| AuthError::bad_request("bad_oauth_state", "OAuth state parameter missing"))?;
        let mut db = ctx.project.pool.get().await?;
        let tx = db.transaction().await?;
        let row = tx
            .query_opt(
                "SELECT provider_type, referrer, code_challenge IS NOT NULL, floor(extract(epoch FROM created_at))::bigint,
                        linking_target_id
                 FROM auth.flow_state WHERE id = $1 AND user_id IS NULL FOR UPDATE",
                &[&state],
            )
            .await?
            .ok_or_else(|| AuthError::not_found("flow_state_not_found", "OAuth state is invalid or was already used"))?;
        let provider: String = row.get(0);
        let linking_target: Option<Uuid> = row.get(4);
        redirect = row.get::<_, Option<String>>(1).unwrap_or(redirect.clone());
        pkce_flow = row.get(2);
        if unix_now() > row.get::<_, i64>(3) + pkce::FLOW_STATE_TTL {
            return Err(AuthError::unprocessable("flow_state_expired", "OAuth flow has expired"));
        }
        if let Some(e) = &q.error {
            return Err(AuthError::forbidden("provider_error", q.error_description.clone().unwrap_or_else(|| e.clone())));
        }
        let code = q.code.as_deref().filter(|c| !c.is_empty()).ok_or_else(|| AuthError::bad_request("validation_failed", "OAuth code missing"))?;
        let p = auth.oauth.get(&provider)?;
        let ep = endpoints(&auth.oauth, p).await?;
        let tok: Value = auth
            .oauth
            .http
            .post(&ep.token)
            .header("accept", "application/json")
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("client_id", p.settings.client_id.as_str()),
                ("client_secret", p.settings.secret.expose()),
                ("redirect_uri", &format!("{}/callback", auth.api_url)),
            ])
            .send()
            .await
            .map_err(upstream_http)?
            .json()
            .await
            .map_err(upstream_http)?;
        let access = tok.get("access_token").and_then(Value::as_str).ok_or_else(|| upstream("no access_token in the token response"))?;
        let base = p.settings.url.trim_end_matches('/');
        let (raw, emails) = match p.kind {
            Kind::GitHub => {
                let api = if base == "https://github.com" { "https://api.github.com".to_owned() } else { format!("{base}/api/v3") };
                let u = get_json(&auth.oauth.http, &format!("{api}/user"), Some(access)).await?;
                let e = get_json(&auth.oauth.http, &format!("{api}/user/emails"), Some(access)).await.ok();
                (u, e)
            }
            Kind::GitLab => (get_json(&auth.oauth.http, &format!("{base}/api/v4/user"), Some(access)).await?, None),
            Kind::Oidc => {
                let url = ep.userinfo.clone().ok_or_else(|| upstream("discovery has no userinfo_endpoint"))?;
                (get_json(&auth.oauth.http, &url, Some(access)).await?, None)
            }
        };
        let kind = match p.kind { Kind::GitHub => "github", Kind::GitLab => "gitlab", Kind::Oidc => "oidc" };
        let prof = profile_from(kind, &raw, emails.as_ref()).ok_or_else(|| upstream("profile has no user id"))?;
        let uid = match linking_target {
            Some(target) => match super::identities::link(&tx, &ctx, target, &provider, &prof).await? {
                Linked::Done(uid) => uid,
                Linked::Unconfirmed(e) => {
                    tx.execute("DELETE FROM auth.flow_state WHERE id = $1", &[&state]).await?;
                    tx.commit().await?;
                    return Err(e);
                }
            },
            None => upsert_user(&tx, &ctx, &provider, &prof).await?,
        };
        let extras = Extras {
            provider_token: Some(access.to_owned()),
            provider_refresh_token: tok.get("refresh_token").and_then(Value::as_str).map(str::to_owned),
            weak_password: None,
        };
        let target = if pkce_flow {
            let code = Uuid::new_v4().to_string();
            tx.execute(
                "UPDATE auth.flow_state SET user_id = $2, auth_code = $3, auth_code_issued_at = now(),
                     provider_access_token = $4, provider_refresh_token = $5, updated_at = now() WHERE id = $1",
                &[&state, &uid, &code, &extras.provider_token, &extras.provider_refresh_token],
            )
            .await?;
            let sep = if redirect.contains('?') { '&' } else { '?' };
            format!("{redirect}{sep}code={}", pct(&code))
        } else {
            tx.execute("DELETE FROM auth.flow_state WHERE id = $1", &[&state]).await?;
            let s = sessions::sign_in(&tx, &ctx, uid, "oauth", &extras).await?;
            let g = |k: &str| s.get(k).map(|v| v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string())).unwrap_or_default();
            format!(
                "{redirect}#access_token={}&expires_at={}&expires_in={}&provider_token={}&refresh_token={}&token_type=bearer&sb=",
                g("access_token"), g("expires_at"), g("expires_in"), pct(access), g("refresh_token")
            )
        };
        tx.commit().await?;
        Ok(target)
    }
    .await;
    match result {
        Ok(t) => Redirect::to(&t).into_response(),
        Err(e) => {
            if let Some(d) = &e.internal {
                tracing::error!(detail = %d, "oauth callback failed");
            }
            let frag = error_fragment(&e);
            let sep = if redirect.contains('?') { '&' } else { '?' };
            let t = if pkce_flow {
                format!("{redirect}{sep}{frag}#{frag}")
            } else {
                format!("{redirect}#{frag}")
            };
            Redirect::to(&t).into_response()
        }
    }
}

/// `POST /callback` (form_post response mode): same as GET.
pub async fn callback_post(ctx: Ctx, q: Query<CallbackQuery>) -> Response {
    callback(ctx, q).await
}

/// `POST /token?grant_type=id_token`: an ID token from the provider, verified with its JWKS;
/// with `link_identity: true` (auth-js `linkIdentity({token})`) the identity is linked to the
/// bearer of the request instead of signing someone in by it.
pub async fn id_token_grant(
    ctx: &Ctx,
    body: &Value,
    headers: &http::HeaderMap,
) -> AuthResult<Value> {
    let link_target = if body.get("link_identity").and_then(Value::as_bool) == Some(true) {
        Some(super::identities::id_token_target(ctx, headers).await?)
    } else {
        None
    };
    let auth = ctx.auth();
    let name = body.get("provider").and_then(Value::as_str).unwrap_or("");
    let token = body.get("id_token").and_then(Value::as_str).unwrap_or("");
    if token.is_empty() {
        return Err(AuthError::validation("id_token required"));
    }
    let p = auth.oauth.get(name).map_err(|_| {
        AuthError::bad_request("validation_failed", "Custom OIDC provider not allowed")
    })?;
    if !matches!(p.kind, Kind::Oidc) {
        return Err(AuthError::bad_request(
            "validation_failed",
            "This provider does not issue ID tokens",
        ));
    }
    let ep = endpoints(&auth.oauth, p).await?;
    let jwks_url = ep
        .jwks
        .ok_or_else(|| upstream("discovery has no jwks_uri"))?;
    let jwks: jsonwebtoken::jwk::JwkSet =
        serde_json::from_value(get_json(&auth.oauth.http, &jwks_url, None).await?)
            .map_err(upstream)?;
    let header = jsonwebtoken::decode_header(token)
        .map_err(|_| AuthError::bad_request("bad_jwt", "Bad ID token"))?;
    let jwk = jwks
        .keys
        .iter()
        .find(|k| header.kid.is_none() || k.common.key_id == header.kid)
        .ok_or_else(|| AuthError::bad_request("bad_jwt", "ID token signed by an unknown key"))?;
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk)
        .map_err(|_| AuthError::bad_request("bad_jwt", "Unusable provider key"))?;
    let mut v = jsonwebtoken::Validation::new(header.alg);
    v.set_audience(&[p.settings.client_id.as_str()]);
    if let Some(iss) = &ep.issuer {
        v.set_issuer(&[iss.as_str()]);
    }
    let claims = jsonwebtoken::decode::<Value>(token, &key, &v)
        .map_err(|e| AuthError::bad_request("bad_jwt", format!("Bad ID token: {e}")))?
        .claims;
    if let Some(nonce) = body.get("nonce").and_then(Value::as_str) {
        use sha2::Digest as _;
        let hashed = hex::encode(sha2::Sha256::digest(nonce.as_bytes()));
        let got = claims.get("nonce").and_then(Value::as_str).unwrap_or("");
        if !(super::ct_eq(got, &hashed) || super::ct_eq(got, nonce)) {
            return Err(AuthError::bad_request("bad_jwt", "Nonces mismatch"));
        }
    }
    let prof = profile_from("oidc", &claims, None)
        .ok_or_else(|| AuthError::bad_request("bad_jwt", "ID token has no sub"))?;
    let mut db = ctx.project.pool.get().await?;
    let tx = db.transaction().await?;
    let uid = match link_target {
        Some(target) => match super::identities::link(&tx, ctx, target, name, &prof).await? {
            Linked::Done(uid) => uid,
            Linked::Unconfirmed(e) => {
                tx.commit().await?;
                return Err(e);
            }
        },
        None => upsert_user(&tx, ctx, name, &prof).await?,
    };
    let s = sessions::sign_in(&tx, ctx, uid, "oauth", &Extras::default()).await?;
    tx.commit().await?;
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_from_each_provider() {
        let gh = profile_from(
            "github",
            &json!({"id": 42, "login": "octo", "name": "Octo Cat", "avatar_url": "http://a/x.png", "email": null}),
            Some(&json!([{"email": "Octo@Example.com", "primary": true, "verified": true}])),
        )
        .expect("profile");
        assert_eq!(gh.sub, "42");
        assert_eq!(gh.email.as_deref(), Some("octo@example.com"));
        assert!(gh.email_verified);
        assert_eq!(gh.data["user_name"], "octo");
        let oidc = profile_from(
            "oidc",
            &json!({"sub": "abc", "email": "a@b.co", "email_verified": true}),
            None,
        )
        .expect("p");
        assert_eq!(oidc.sub, "abc");
        assert!(profile_from("oidc", &json!({"email": "x"}), None).is_none());
        let gl = profile_from(
            "gitlab",
            &json!({"id": 7, "email": "g@l.ab", "confirmed_at": "2024-01-01"}),
            None,
        )
        .expect("p");
        assert!(gl.email_verified);
    }
}
