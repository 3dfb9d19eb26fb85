//! `spec.auth`: the project's keys and every setting of its auth API (`/auth/v1`) that a project
//! owner may choose. Each field names the data-plane setting it becomes; the operator renders
//! them through the data plane's settings contract. Credentials (SMTP password, OAuth client
//! secrets, signing keys) are only ever references to Secrets in the project's namespace.

use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::project::SecretKeyRef;

/// API keys, JWT signing and the auth API's settings. Unset fields keep the data plane's
/// defaults (GoTrue's).
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AuthSpec {
    /// Bring your own HS256 JWT secret (for example when moving a Supabase project, so issued
    /// keys and sessions stay valid); at least 32 characters. The key defaults to `jwt-secret`.
    /// Without it the operator generates a random secret once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwt_secret_ref: Option<SecretKeyRef>,
    /// Lifetime of the generated `anon` and `service_role` keys in days (Supabase's self-hosting
    /// script uses five years).
    #[serde(default = "default_key_days")]
    #[schemars(range(min = 1, max = 36500))]
    pub api_key_expiry_days: i64,
    /// The app's URL: links in emails go here by default and it is always an allowed redirect
    /// (`MADBASE_SITE_URL`); defaults to the project's endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self.startsWith('http://') || self.startsWith('https://')").message("siteUrl must be an http(s) URL"))]
    #[schemars(length(max = 2048))]
    pub site_url: Option<String>,
    /// Further allowed `redirect_to` URLs; `*` matches within a path segment, `**` across
    /// (`MADBASE_AUTH_URI_ALLOW_LIST`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(validation = Rule::new("self.all(u, !u.contains(','))").message("additionalRedirectUrls entries must not contain commas"))]
    #[schemars(length(max = 100))]
    pub additional_redirect_urls: Vec<String>,
    /// Refuse new users except through the admin API (`MADBASE_AUTH_DISABLE_SIGNUP`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_signup: Option<bool>,
    /// Allow `signInAnonymously` (`MADBASE_AUTH_EXTERNAL_ANONYMOUS_USERS_ENABLED`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anonymous_sign_ins: Option<bool>,
    /// Signed-in users may link and unlink further OAuth/OIDC identities
    /// (`MADBASE_AUTH_SECURITY_MANUAL_LINKING_ENABLED`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manual_linking: Option<bool>,
    /// Access-token lifetime in seconds (`MADBASE_AUTH_JWT_EXP`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 30, max = 604800))]
    pub jwt_expiry_seconds: Option<i64>,
    /// `iss` claim of access tokens (`MADBASE_AUTH_JWT_ISSUER`); defaults to
    /// `<endpoint>/auth/v1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 2048))]
    pub jwt_issuer: Option<String>,
    /// Secret with a JSON array of JWKs for asymmetric signing and verification
    /// (`MADBASE_AUTH_JWT_KEYS`); the key defaults to `jwt-keys`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwt_keys_secret_ref: Option<SecretKeyRef>,
    /// Which key signs access tokens (`MADBASE_AUTH_JWT_SIGNING_ALG`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwt_signing_alg: Option<JwtSigningAlg>,
    /// Password rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<PasswordPolicy>,
    /// Session and refresh-token lifetimes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sessions: Option<SessionSettings>,
    /// Email sign-up and sign-in, and how mail is sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<EmailAuth>,
    /// Phone sign-up and SMS sign-in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<PhoneAuth>,
    /// Phone (SMS) multi-factor authentication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mfa: Option<MfaSettings>,
    /// Request limits of the auth API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limits: Option<RateLimits>,
    /// OAuth and OpenID Connect sign-in providers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external: Option<ExternalProviders>,
    /// ConfigMap key with extra PEM CA certificates trusted for outbound TLS (SMTP, OAuth/OIDC
    /// providers); mounted into the pods (`MADBASE_AUTH_OUTBOUND_CA_FILE`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outbound_ca_config_map_ref: Option<ConfigMapKeyRef>,
}

impl Default for AuthSpec {
    fn default() -> Self {
        Self {
            jwt_secret_ref: None,
            api_key_expiry_days: default_key_days(),
            site_url: None,
            additional_redirect_urls: Vec::new(),
            disable_signup: None,
            anonymous_sign_ins: None,
            manual_linking: None,
            jwt_expiry_seconds: None,
            jwt_issuer: None,
            jwt_keys_secret_ref: None,
            jwt_signing_alg: None,
            password: None,
            sessions: None,
            email: None,
            phone: None,
            mfa: None,
            rate_limits: None,
            external: None,
            outbound_ca_config_map_ref: None,
        }
    }
}

fn default_key_days() -> i64 {
    1825
}

/// Algorithm of the key that signs access tokens.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum JwtSigningAlg {
    /// The project's JWT secret.
    HS256,
    /// An EC P-256 private key from `jwtKeysSecretRef`.
    ES256,
    /// An RSA private key from `jwtKeysSecretRef`.
    RS256,
}

/// A reference to one key of a ConfigMap in the project's namespace.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ConfigMapKeyRef {
    /// Name of the ConfigMap.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Key inside the ConfigMap; defaults to `ca.crt` (`root.crl` for revocation lists).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub key: Option<String>,
}

/// Password rules.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PasswordPolicy {
    /// Minimum length (`MADBASE_AUTH_PASSWORD_MIN_LENGTH`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 6, max = 72))]
    pub min_length: Option<i32>,
    /// Character sets a password must each draw from, e.g. `[abc…z, ABC…Z, 0123456789]`
    /// (`MADBASE_AUTH_PASSWORD_REQUIRED_CHARACTERS`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(validation = Rule::new("self.all(s, size(s) > 0 && !s.contains(':'))").message("requiredCharacters entries must be non-empty and must not contain ':'"))]
    #[schemars(length(max = 8))]
    pub required_characters: Vec<String>,
    /// Changing a password needs a sign-in within 24 h or a reauthentication nonce
    /// (`MADBASE_AUTH_SECURE_PASSWORD_CHANGE`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secure_change: Option<bool>,
}

/// Session and refresh-token lifetimes.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SessionSettings {
    /// Detect refresh-token reuse and end the session when it happens
    /// (`MADBASE_AUTH_REFRESH_TOKEN_ROTATION_ENABLED`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token_rotation: Option<bool>,
    /// Seconds a rotated refresh token may still be presented
    /// (`MADBASE_AUTH_REFRESH_TOKEN_REUSE_INTERVAL`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 86400))]
    pub refresh_token_reuse_interval_seconds: Option<i64>,
    /// Sessions end this many seconds after sign-in; 0 never (`MADBASE_AUTH_SESSIONS_TIMEBOX`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub timebox_seconds: Option<i64>,
    /// Sessions end after this many seconds without a refresh; 0 never
    /// (`MADBASE_AUTH_SESSIONS_INACTIVITY_TIMEOUT`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub inactivity_timeout_seconds: Option<i64>,
}

/// Email sign-up and sign-in.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct EmailAuth {
    /// Email sign-up and sign-in (`MADBASE_AUTH_EXTERNAL_EMAIL_ENABLED`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// New users are confirmed without a confirmation email (`MADBASE_AUTH_MAILER_AUTOCONFIRM`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autoconfirm: Option<bool>,
    /// An email change is confirmed on both the old and the new address
    /// (`MADBASE_AUTH_MAILER_SECURE_EMAIL_CHANGE_ENABLED`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secure_email_change: Option<bool>,
    /// Lifetime of email links and codes in seconds (`MADBASE_AUTH_MAILER_OTP_EXP`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 60, max = 604800))]
    pub otp_expiry_seconds: Option<i64>,
    /// Digits in email OTP codes (`MADBASE_AUTH_MAILER_OTP_LENGTH`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 6, max = 10))]
    pub otp_length: Option<i32>,
    /// Minimum seconds between two emails to one address (`MADBASE_AUTH_EMAIL_MAX_FREQUENCY`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 86400))]
    pub max_frequency_seconds: Option<i64>,
    /// ConfigMap with email templates (`<kind>.html`, `<kind>.subject` for confirmation, invite,
    /// magic_link, recovery, email_change, reauthentication), mounted into the pods
    /// (`MADBASE_AUTH_MAILER_TEMPLATES_DIR`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub templates_config_map: Option<String>,
    /// The SMTP relay that sends mail; without it no mail is sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smtp: Option<Smtp>,
}

/// An SMTP relay.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Smtp {
    /// Host name (`MADBASE_SMTP_HOST`).
    #[schemars(length(min = 1, max = 253))]
    pub host: String,
    /// Port (`MADBASE_SMTP_PORT`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 65535))]
    pub port: Option<i32>,
    /// How the connection is secured (`MADBASE_SMTP_TLS`); defaults to implicit TLS on port 465
    /// and STARTTLS elsewhere.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<SmtpTls>,
    /// User name (`MADBASE_SMTP_USER`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Secret with the password (`MADBASE_SMTP_PASS`); the key defaults to `password`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_secret_ref: Option<SecretKeyRef>,
    /// Sender address (`MADBASE_SMTP_ADMIN_EMAIL`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self.contains('@')").message("adminEmail must be an email address"))]
    pub admin_email: Option<String>,
    /// Sender display name (`MADBASE_SMTP_SENDER_NAME`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender_name: Option<String>,
}

/// How an SMTP connection is secured.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Upgrade with STARTTLS; refused when the server does not offer it.
    Starttls,
    /// TLS from the first byte (SMTPS).
    Implicit,
    /// Plain text, only for a relay on the local network.
    Off,
}

/// Phone sign-up and SMS sign-in.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PhoneAuth {
    /// Phone sign-up and SMS sign-in (`MADBASE_AUTH_EXTERNAL_PHONE_ENABLED`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// New users are confirmed without an SMS code (`MADBASE_AUTH_SMS_AUTOCONFIRM`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autoconfirm: Option<bool>,
    /// Lifetime of SMS codes in seconds (`MADBASE_AUTH_SMS_OTP_EXP`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 30, max = 86400))]
    pub otp_expiry_seconds: Option<i64>,
    /// Minimum seconds between two SMS to one number (`MADBASE_AUTH_SMS_MAX_FREQUENCY`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 86400))]
    pub max_frequency_seconds: Option<i64>,
}

/// Phone (SMS) multi-factor authentication.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct MfaSettings {
    /// Users may enroll phone factors (`MADBASE_AUTH_MFA_PHONE_ENROLL_ENABLED`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_enroll: Option<bool>,
    /// Phone factors may be challenged and verified (`MADBASE_AUTH_MFA_PHONE_VERIFY_ENABLED`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_verify: Option<bool>,
    /// Digits in phone MFA codes (`MADBASE_AUTH_MFA_PHONE_OTP_LENGTH`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 6, max = 10))]
    pub phone_otp_length: Option<i32>,
    /// Minimum seconds between two phone MFA codes to one factor
    /// (`MADBASE_AUTH_MFA_PHONE_MAX_FREQUENCY`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 86400))]
    pub phone_max_frequency_seconds: Option<i64>,
}

/// Request limits of the auth API.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RateLimits {
    /// Emails sent per hour by the whole project (`MADBASE_AUTH_RATE_LIMIT_EMAIL_SENT`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub email_sent: Option<i32>,
    /// Sign-up, OTP, recovery and resend requests per 5 minutes per client
    /// (`MADBASE_AUTH_RATE_LIMIT_OTP`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub otp: Option<i32>,
    /// `/token` requests per 5 minutes per client (`MADBASE_AUTH_RATE_LIMIT_TOKEN`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub token: Option<i32>,
    /// `/verify` requests per 5 minutes per client (`MADBASE_AUTH_RATE_LIMIT_VERIFY`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub verify: Option<i32>,
    /// Header that identifies the client, e.g. `X-Forwarded-For`; set it only when your
    /// Ingress or proxy sets it on every request (`MADBASE_AUTH_RATE_LIMIT_HEADER`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self.matches('^[A-Za-z0-9-]+$')").message("clientIpHeader must be an HTTP header name"))]
    #[schemars(length(min = 1, max = 128))]
    pub client_ip_header: Option<String>,
}

/// OAuth and OpenID Connect sign-in providers.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("!has(self.oidc) || has(self.oidc.url)").message("external.oidc.url (the issuer) is required")
)]
pub struct ExternalProviders {
    /// GitHub or GitHub Enterprise (`MADBASE_AUTH_EXTERNAL_GITHUB_*`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub github: Option<OAuthProvider>,
    /// Google (`MADBASE_AUTH_EXTERNAL_GOOGLE_*`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub google: Option<OAuthProvider>,
    /// GitLab or a self-managed GitLab (`MADBASE_AUTH_EXTERNAL_GITLAB_*`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gitlab: Option<OAuthProvider>,
    /// Any OpenID Connect issuer, found by discovery (`MADBASE_AUTH_EXTERNAL_OIDC_*`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oidc: Option<OAuthProvider>,
}

/// One OAuth client registration.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct OAuthProvider {
    /// OAuth client id (`…_CLIENT_ID`).
    #[schemars(length(min = 1, max = 512))]
    pub client_id: String,
    /// Secret with the OAuth client secret (`…_SECRET`); the key defaults to `client-secret`.
    pub secret_ref: SecretKeyRef,
    /// Base URL (GitHub Enterprise, self-managed GitLab) or issuer (Google, OIDC) (`…_URL`);
    /// defaults to the public service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self.startsWith('http://') || self.startsWith('https://')").message("url must be an http(s) URL"))]
    pub url: Option<String>,
}
