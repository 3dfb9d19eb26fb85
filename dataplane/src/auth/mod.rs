//! `/auth/v1`: the GoTrue-compatible auth API, so `supabase.auth.*` works unchanged.
//!
//! This module owns the router, the per-project [`AuthContext`] and the request pieces every
//! endpoint shares (client IP, JSON bodies in GoTrue's error shape). Each flow lives in its
//! own file: `signup`, `token` (grants), `sessions`, `refresh_tokens`, `users` (`/user`),
//! `logout`, `otp` and `verify` (email/SMS flows), `mailer`, `mfa`, `admin`, `oauth`,
//! `identities` (linking and unlinking),
//! `keys` (JWKS), `tls` (trust for outbound SMTP and HTTPS). All state is in the project's database (the `auth` schema, GoTrue's layout)
//! except rate-limit counters and the dev mailbox, which are in memory.
//! Nothing here logs a password, token or one-time code.

pub mod admin;
pub mod audit;
pub mod error;
pub mod identities;
pub mod keys;
pub mod logout;
pub mod mailer;
pub mod mfa;
pub mod oauth;
pub mod otp;
pub mod passwords;
pub mod pkce;
pub mod rate_limit;
pub mod refresh_tokens;
pub mod sessions;
pub mod signup;
pub mod tls;
pub mod token;
pub mod users;
pub mod validate;
pub mod verify;

use std::sync::Arc;

use axum::Router;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::routing::{delete, get, post};
use http::StatusCode;
use madbase_config::{AuthSettings, DataPlaneConfig};
use serde::de::DeserializeOwned;

use crate::server::project::ProjectContext;
use error::AuthError;

/// Largest JSON body an auth endpoint reads.
pub const MAX_AUTH_BODY: usize = 64 * 1024;

/// Auth's per-project state, owned by the project context.
pub struct AuthContext {
    /// The settings, as configured.
    pub settings: AuthSettings,
    /// `iss` of access tokens.
    pub issuer: String,
    /// Public base URL of this API (`…/auth/v1`), for links in emails and OAuth callbacks.
    pub api_url: String,
    /// Password rules.
    pub policy: passwords::PasswordPolicy,
    /// Email and SMS delivery.
    pub mailer: mailer::Mailer,
    /// In-memory request counters.
    pub limits: rate_limit::Limits,
    /// Configured OAuth/OIDC providers.
    pub oauth: oauth::Providers,
    /// Signs access tokens with the key `MADBASE_AUTH_JWT_SIGNING_ALG` chooses (the project's
    /// keys verify; these are the same keys with the signer picked).
    pub signing: crate::http::jwt::JwtKeys,
}

impl std::fmt::Debug for AuthContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthContext")
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

impl AuthContext {
    /// Builds auth's state from the project's configuration.
    pub fn new(config: &DataPlaneConfig) -> anyhow::Result<Self> {
        let s = config.auth.clone();
        let external = config.external_url();
        let api_url = format!("{external}/auth/v1");
        let issuer = s.jwt_issuer.clone().unwrap_or_else(|| api_url.clone());
        let trust = tls::OutboundTrust::load(s.outbound_ca_file.as_deref())?;
        let signing = crate::http::jwt::JwtKeys::new(&config.jwt_secret)
            .with_jwks(s.jwt_keys.as_ref())
            .and_then(|k| k.with_signing_alg(s.jwt_signing_alg))
            .map_err(|e| anyhow::anyhow!(e))?;
        let (alg, kid) = signing.signing_key();
        tracing::info!(alg = ?alg, kid = kid.unwrap_or(""), "auth signs access tokens");
        let mailer = mailer::Mailer::new(&s, &trust)?;
        if s.dev_mailbox {
            tracing::warn!(
                "auth dev mailbox is on: emails and SMS are kept in memory, not sent (development only)"
            );
        }
        Ok(Self {
            policy: passwords::PasswordPolicy {
                min_length: s.password_min_length,
                required_characters: s.password_required_characters.clone(),
            },
            limits: rate_limit::Limits::default(),
            oauth: oauth::Providers::new(&s, &trust)?,
            signing,
            mailer,
            issuer,
            api_url,
            settings: s,
        })
    }
}

/// The `/auth/v1` router.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/settings", get(users::settings))
        .route("/health", get(users::health))
        .route("/signup", post(signup::signup))
        .route("/token", post(token::token))
        .route("/user", get(users::get_user).put(users::update_user))
        .route("/logout", post(logout::logout))
        .route("/recover", post(otp::recover))
        .route("/otp", post(otp::otp))
        .route("/magiclink", post(otp::magiclink))
        .route("/resend", post(otp::resend))
        .route("/reauthenticate", get(otp::reauthenticate))
        .route("/verify", get(verify::verify_get).post(verify::verify_post))
        .route("/authorize", get(oauth::authorize))
        .route("/callback", get(oauth::callback).post(oauth::callback_post))
        .route("/user/identities/authorize", get(identities::authorize))
        .route("/user/identities/{id}", delete(identities::unlink))
        .route("/factors", post(mfa::enroll))
        .route("/factors/{id}", delete(mfa::unenroll))
        .route("/factors/{id}/challenge", post(mfa::challenge))
        .route("/factors/{id}/verify", post(mfa::verify))
        .route("/invite", post(admin::invite))
        .route(
            "/admin/users",
            get(admin::list_users).post(admin::create_user),
        )
        .route(
            "/admin/users/{id}",
            get(admin::get_user)
                .put(admin::update_user)
                .delete(admin::delete_user),
        )
        .route("/admin/users/{id}/factors", get(admin::list_factors))
        .route(
            "/admin/users/{id}/factors/{factor_id}",
            delete(admin::delete_factor),
        )
        .route("/admin/generate_link", post(admin::generate_link))
        .route("/.well-known/jwks.json", get(keys::jwks))
        .route(
            "/_dev/mailbox",
            get(mailer::dev_mailbox).delete(mailer::dev_mailbox_clear),
        )
        .route("/sso", post(unsupported_sso))
        .fallback(not_found)
        .layer(axum::middleware::from_fn(error::render_errors))
}

async fn not_found() -> AuthError {
    AuthError::new(StatusCode::NOT_FOUND, "not_found", "Not Found")
}

async fn unsupported_sso() -> AuthError {
    AuthError::not_found("sso_provider_not_found", "SAML 2.0 is disabled")
}

/// What every handler gets: the project and who is calling from where.
pub struct Ctx {
    /// The project.
    pub project: Arc<ProjectContext>,
    /// Client IP, kept on sessions and audit rows: see [`client_address`].
    pub ip: Option<String>,
    /// What rate limits count under: see [`client_address`].
    limit_key: String,
    /// `User-Agent`, kept on sessions.
    pub user_agent: Option<String>,
}

impl Ctx {
    /// Auth's state.
    pub fn auth(&self) -> &AuthContext {
        &self.project.auth
    }
    /// The key rate limits count under.
    pub fn ip_key(&self) -> &str {
        &self.limit_key
    }
}

/// Who is calling: `(ip, rate-limit key)`. By default the TCP peer address, because any client
/// can write `X-Forwarded-For`. With `MADBASE_AUTH_RATE_LIMIT_HEADER` (GoTrue's
/// `GOTRUE_RATE_LIMIT_HEADER`, for a trusted proxy in front) the first comma-separated value of
/// that header instead (the key even when it is not an IP address); without the header on a
/// request, the peer again.
pub fn client_address(
    trusted_header: Option<&str>,
    headers: &http::HeaderMap,
    peer: Option<std::net::IpAddr>,
) -> (Option<String>, String) {
    let from_header = trusted_header
        .and_then(|name| headers.get(name))
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(|v| v.chars().take(256).collect::<String>());
    match from_header {
        Some(key) => {
            let ip = key
                .parse::<std::net::IpAddr>()
                .ok()
                .map(|ip| ip.to_string());
            (ip, key)
        }
        None => {
            let ip = peer.map(|ip| ip.to_canonical().to_string());
            let key = ip.clone().unwrap_or_else(|| "unknown".to_owned());
            (ip, key)
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Ctx {
    type Rejection = AuthError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, AuthError> {
        let project = parts
            .extensions
            .get::<Arc<ProjectContext>>()
            .cloned()
            .ok_or_else(|| AuthError::internal("no project in request extensions"))?;
        let peer = parts
            .extensions
            .get::<axum::extract::ConnectInfo<crate::server::serve::PeerAddr>>()
            .map(|c| c.0.0.ip());
        let (ip, limit_key) = client_address(
            project.auth.settings.rate_limit_header.as_deref(),
            &parts.headers,
            peer,
        );
        Ok(Ctx {
            project,
            ip,
            limit_key,
            user_agent: parts
                .headers
                .get(http::header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(|s| s.chars().take(512).collect()),
        })
    }
}

/// A JSON body read with GoTrue's errors: too large, or not JSON of the expected shape, is a
/// 400 in the auth error format; an empty body reads as `{}`.
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = AuthError;
    async fn from_request(req: Request, _: &S) -> Result<Self, AuthError> {
        let bytes = axum::body::to_bytes(req.into_body(), MAX_AUTH_BODY)
            .await
            .map_err(|_| {
                AuthError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "request_too_large",
                    "Request body is too large",
                )
            })?;
        let text: &[u8] = if bytes.iter().all(|b| b.is_ascii_whitespace()) {
            b"{}"
        } else {
            &bytes
        };
        serde_json::from_slice(text).map(Body).map_err(|e| {
            AuthError::bad_request(
                "bad_json",
                format!("Could not parse request body as JSON: {e}"),
            )
        })
    }
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Random characters from `alphabet`.
pub fn random_string(len: usize, alphabet: &[u8]) -> String {
    use rand::Rng as _;
    let mut rng = rand::rng();
    (0..len)
        .map(|_| alphabet[rng.random_range(0..alphabet.len())] as char)
        .collect()
}

/// Lower-case letters and digits.
pub const ALNUM_LOWER: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";

/// Query parameters shared by flows that redirect.
#[derive(Debug, Default, serde::Deserialize)]
pub struct RedirectQuery {
    /// Where the user lands after the flow.
    pub redirect_to: Option<String>,
}

/// Constant-time string equality.
pub fn ct_eq(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq as _;
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_equality() {
        assert!(ct_eq("abc", "abc"));
        assert!(!ct_eq("abc", "abd"));
        assert!(!ct_eq("abc", "abcd"));
    }

    #[test]
    fn rate_limits_key_on_the_peer_unless_a_header_is_trusted() {
        let mut h = http::HeaderMap::new();
        h.insert(
            "x-forwarded-for",
            "203.0.113.9, 10.0.0.1".parse().expect("hv"),
        );
        h.insert("cf-connecting-ip", "not-an-ip".parse().expect("hv"));
        let peer = Some("192.0.2.1".parse().expect("ip"));
        // Spoofable headers are ignored by default.
        assert_eq!(
            client_address(None, &h, peer),
            (Some("192.0.2.1".into()), "192.0.2.1".into())
        );
        // A trusted header's first value, as GoTrue.
        assert_eq!(
            client_address(Some("X-Forwarded-For"), &h, peer),
            (Some("203.0.113.9".into()), "203.0.113.9".into())
        );
        // A key that is not an address still keys the limit, but is not stored as an IP.
        assert_eq!(
            client_address(Some("CF-Connecting-IP"), &h, peer),
            (None, "not-an-ip".into())
        );
        // The trusted header missing on a request: the peer.
        assert_eq!(
            client_address(Some("X-Real-IP"), &h, peer),
            (Some("192.0.2.1".into()), "192.0.2.1".into())
        );
        // IPv4 peers seen through a dual-stack socket key as IPv4.
        let mapped = Some("::ffff:192.0.2.1".parse().expect("ip"));
        assert_eq!(client_address(None, &h, mapped).1, "192.0.2.1");
        assert_eq!(client_address(None, &h, None), (None, "unknown".into()));
    }

    #[test]
    fn random_strings_use_the_alphabet() {
        let s = random_string(40, ALNUM_LOWER);
        assert_eq!(s.len(), 40);
        assert!(s.bytes().all(|b| ALNUM_LOWER.contains(&b)));
    }
}
