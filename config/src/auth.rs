//! The `/auth/v1` part of the contract: GoTrue's settings under MadBase names
//! (`MADBASE_AUTH_*`, `MADBASE_SMTP_*`, `MADBASE_SITE_URL`), parsed into [`AuthSettings`] and
//! rendered back by [`AuthSettings::to_env`]. Defaults are GoTrue's unless noted.

use super::{Raw, Secret, parse_bool};

/// One OAuth provider's client registration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthProviderSettings {
    /// OAuth client id.
    pub client_id: String,
    /// OAuth client secret.
    pub secret: Secret,
    /// Base URL (GitHub/GitLab) or issuer (Google, OIDC).
    pub url: String,
}

/// How the SMTP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    /// Plain connection upgraded with STARTTLS; refused if the server does not offer it.
    StartTls,
    /// TLS from the first byte (SMTPS, port 465).
    Implicit,
    /// No TLS: only for a relay on the local network.
    Off,
}

impl SmtpTls {
    /// The setting's value for this mode.
    pub fn as_str(self) -> &'static str {
        match self {
            SmtpTls::StartTls => "starttls",
            SmtpTls::Implicit => "implicit",
            SmtpTls::Off => "off",
        }
    }
}

/// Which kind of key signs user access tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwtSigningAlg {
    /// The project's HS256 secret (legacy Supabase), even when asymmetric keys are listed.
    Hs256,
    /// An EC P-256 private key of `MADBASE_AUTH_JWT_KEYS`.
    Es256,
    /// An RSA private key of `MADBASE_AUTH_JWT_KEYS`.
    Rs256,
}

impl JwtSigningAlg {
    /// The JOSE name.
    pub fn as_str(self) -> &'static str {
        match self {
            JwtSigningAlg::Hs256 => "HS256",
            JwtSigningAlg::Es256 => "ES256",
            JwtSigningAlg::Rs256 => "RS256",
        }
    }
}

/// Settings of the auth API.
#[derive(Debug, Clone)]
pub struct AuthSettings {
    /// Where links send users by default, and the first allowed redirect.
    pub site_url: String,
    /// Further redirect targets allowed in `redirect_to` (`*` and `**` globs).
    pub uri_allow_list: Vec<String>,
    /// No new users, except through the admin API.
    pub disable_signup: bool,
    /// Email/password and email OTP sign-in.
    pub email_enabled: bool,
    /// Phone/password and SMS OTP sign-in.
    pub phone_enabled: bool,
    /// `signInAnonymously`.
    pub anonymous_users: bool,
    /// Skip email confirmation.
    pub mailer_autoconfirm: bool,
    /// Skip phone confirmation.
    pub sms_autoconfirm: bool,
    /// Access-token lifetime, seconds.
    pub jwt_exp: u64,
    /// `iss` of access tokens; `None` means `<api external url>/auth/v1`.
    pub jwt_issuer: Option<String>,
    /// Asymmetric signing/verification keys (a JSON array of JWKs, as GoTrue's JWT_KEYS).
    pub jwt_keys: Option<Secret>,
    /// Which key signs access tokens; `None`: the key marked `sign`, else the first private key,
    /// else HS256.
    pub jwt_signing_alg: Option<JwtSigningAlg>,
    /// Minimum password length.
    pub password_min_length: usize,
    /// Character sets a password must each draw from (GoTrue's `:`-separated list).
    pub password_required_characters: Vec<String>,
    /// Signed-in users may link and unlink identities (`linkIdentity`, `unlinkIdentity`).
    pub manual_linking_enabled: bool,
    /// Users may enroll phone (SMS) MFA factors.
    pub mfa_phone_enroll_enabled: bool,
    /// Phone MFA factors may be challenged and verified.
    pub mfa_phone_verify_enabled: bool,
    /// Digits of phone MFA codes.
    pub mfa_phone_otp_length: usize,
    /// Minimum seconds between two phone MFA codes to one factor.
    pub mfa_phone_max_frequency: u64,
    /// Password changes need a recent sign-in or a reauthentication nonce.
    pub secure_password_change: bool,
    /// Email changes are confirmed on both the old and the new address.
    pub secure_email_change: bool,
    /// Refresh tokens rotate and reuse is detected.
    pub refresh_token_rotation: bool,
    /// Seconds a rotated refresh token may still be used.
    pub refresh_token_reuse_interval: u64,
    /// Sessions end this many seconds after sign-in (0: never).
    pub sessions_timebox: u64,
    /// Sessions end after this many seconds without a refresh (0: never).
    pub sessions_inactivity_timeout: u64,
    /// Lifetime of email links and codes, seconds.
    pub mailer_otp_exp: u64,
    /// Digits of email OTP codes.
    pub mailer_otp_length: usize,
    /// Lifetime of SMS codes, seconds.
    pub sms_otp_exp: u64,
    /// Minimum seconds between two emails to one address.
    pub email_max_frequency: u64,
    /// Minimum seconds between two SMS to one number.
    pub sms_max_frequency: u64,
    /// Emails sent per hour, whole project.
    pub rate_limit_email_sent: u32,
    /// OTP/signup/recover/resend requests per 5 minutes and IP.
    pub rate_limit_otp: u32,
    /// `/token` requests per 5 minutes and IP.
    pub rate_limit_token: u32,
    /// `/verify` requests per 5 minutes and IP.
    pub rate_limit_verify: u32,
    /// Request header naming the client for rate limits (set by a trusted proxy); `None`: the
    /// TCP peer address.
    pub rate_limit_header: Option<String>,
    /// Development only: keep mail and SMS in memory, listable at `/auth/v1/_dev/mailbox`.
    pub dev_mailbox: bool,
    /// SMTP relay host; no mail is sent when unset (and the dev mailbox is off).
    pub smtp_host: Option<String>,
    /// SMTP port.
    pub smtp_port: u16,
    /// How SMTP is secured; by default implicit TLS on port 465 and STARTTLS elsewhere.
    pub smtp_tls: SmtpTls,
    /// PEM file of CA certificates trusted for outbound TLS besides the Mozilla roots.
    pub outbound_ca_file: Option<String>,
    /// SMTP user.
    pub smtp_user: Option<String>,
    /// SMTP password.
    pub smtp_pass: Option<Secret>,
    /// Sender address.
    pub smtp_admin_email: String,
    /// Sender display name.
    pub smtp_sender_name: Option<String>,
    /// Directory of mail templates (`<kind>.html`, `<kind>.subject`).
    pub mailer_templates_dir: Option<String>,
    /// GitHub (or GitHub Enterprise) OAuth app.
    pub github: Option<OAuthProviderSettings>,
    /// Google OAuth client (OIDC).
    pub google: Option<OAuthProviderSettings>,
    /// GitLab OAuth application.
    pub gitlab: Option<OAuthProviderSettings>,
    /// A generic OpenID Connect provider, found by discovery from its issuer.
    pub oidc: Option<OAuthProviderSettings>,
}

fn parse_duration(v: &str) -> Option<u64> {
    let (num, unit) = match v.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => v.split_at(i),
        None => (v, "s"),
    };
    let n: u64 = num.parse().ok()?;
    let mult = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return None,
    };
    n.checked_mul(mult)
}

fn http_url(v: &str) -> Option<String> {
    (v.starts_with("http://") || v.starts_with("https://"))
        .then(|| v.trim_end_matches('/').to_owned())
}

impl AuthSettings {
    pub(super) fn parse(raw: &mut Raw, api_external_url: Option<&str>) -> AuthSettings {
        let b = |raw: &mut Raw, key: &str, dflt: bool| {
            raw.parse(key, "true or false", parse_bool).unwrap_or(dflt)
        };
        let secs = |raw: &mut Raw, key: &str, dflt: u64| {
            raw.parse(
                key,
                "a duration like 3600, 90s, 15m, 24h or 7d",
                parse_duration,
            )
            .unwrap_or(dflt)
        };
        let count = |raw: &mut Raw, key: &str, dflt: u32| {
            raw.parse(key, "a non-negative integer", |v| v.parse::<u32>().ok())
                .unwrap_or(dflt)
        };
        let site_url = raw
            .parse("site_url", "an http(s) URL", http_url)
            .or_else(|| api_external_url.map(str::to_owned))
            .unwrap_or_else(|| "http://localhost:3000".to_owned());
        let uri_allow_list = raw
            .get("auth_uri_allow_list")
            .map(|v| {
                v.split(',')
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        let provider = |raw: &mut Raw, name: &str, default_url: Option<&str>| {
            let id = raw
                .get(&format!("auth_external_{name}_client_id"))
                .map(str::to_owned);
            let secret = raw
                .get(&format!("auth_external_{name}_secret"))
                .map(str::to_owned);
            let url = raw
                .parse(
                    &format!("auth_external_{name}_url"),
                    "an http(s) URL",
                    http_url,
                )
                .or_else(|| default_url.map(str::to_owned));
            match (id, secret, url) {
                (None, None, _) => None,
                (Some(client_id), Some(secret), Some(url)) => Some(OAuthProviderSettings {
                    client_id,
                    secret: Secret::new(secret),
                    url,
                }),
                _ => {
                    raw.problems.push(format!(
                        "MADBASE_AUTH_EXTERNAL_{0}_CLIENT_ID, _SECRET{1} must be set together",
                        name.to_ascii_uppercase(),
                        if default_url.is_none() {
                            " and _URL"
                        } else {
                            ""
                        }
                    ));
                    None
                }
            }
        };
        let smtp_port = raw
            .parse("smtp_port", "a port number", |v| v.parse::<u16>().ok())
            .unwrap_or(25);
        let smtp_tls = raw
            .parse("smtp_tls", "starttls, implicit or off", |v| {
                match v.to_ascii_lowercase().as_str() {
                    "starttls" => Some(SmtpTls::StartTls),
                    "implicit" | "tls" | "smtps" => Some(SmtpTls::Implicit),
                    "off" | "none" | "plain" => Some(SmtpTls::Off),
                    _ => None,
                }
            })
            .unwrap_or(if smtp_port == 465 {
                SmtpTls::Implicit
            } else {
                SmtpTls::StartTls
            });
        AuthSettings {
            site_url,
            uri_allow_list,
            disable_signup: b(raw, "auth_disable_signup", false),
            email_enabled: b(raw, "auth_external_email_enabled", true),
            phone_enabled: b(raw, "auth_external_phone_enabled", false),
            anonymous_users: b(raw, "auth_external_anonymous_users_enabled", false),
            mailer_autoconfirm: b(raw, "auth_mailer_autoconfirm", false),
            sms_autoconfirm: b(raw, "auth_sms_autoconfirm", false),
            jwt_exp: secs(raw, "auth_jwt_exp", 3600).max(30),
            jwt_issuer: raw.get("auth_jwt_issuer").map(str::to_owned),
            jwt_keys: raw.get("auth_jwt_keys").map(Secret::new),
            jwt_signing_alg: raw.parse(
                "auth_jwt_signing_alg",
                "HS256, ES256 or RS256",
                |v| match v.to_ascii_uppercase().as_str() {
                    "HS256" => Some(JwtSigningAlg::Hs256),
                    "ES256" => Some(JwtSigningAlg::Es256),
                    "RS256" => Some(JwtSigningAlg::Rs256),
                    _ => None,
                },
            ),
            password_min_length: raw
                .parse(
                    "auth_password_min_length",
                    "an integer between 6 and 72",
                    |v| v.parse::<usize>().ok().filter(|n| (6..=72).contains(n)),
                )
                .unwrap_or(6),
            password_required_characters: raw
                .get("auth_password_required_characters")
                .map(|v| {
                    v.split(':')
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
            manual_linking_enabled: b(raw, "auth_security_manual_linking_enabled", false),
            mfa_phone_enroll_enabled: b(raw, "auth_mfa_phone_enroll_enabled", false),
            mfa_phone_verify_enabled: b(raw, "auth_mfa_phone_verify_enabled", false),
            mfa_phone_otp_length: raw
                .parse(
                    "auth_mfa_phone_otp_length",
                    "an integer between 6 and 10",
                    |v| v.parse::<usize>().ok().filter(|n| (6..=10).contains(n)),
                )
                .unwrap_or(6),
            mfa_phone_max_frequency: secs(raw, "auth_mfa_phone_max_frequency", 60),
            secure_password_change: b(raw, "auth_secure_password_change", false),
            secure_email_change: b(raw, "auth_mailer_secure_email_change_enabled", true),
            refresh_token_rotation: b(raw, "auth_refresh_token_rotation_enabled", true),
            refresh_token_reuse_interval: secs(raw, "auth_refresh_token_reuse_interval", 10),
            sessions_timebox: secs(raw, "auth_sessions_timebox", 0),
            sessions_inactivity_timeout: secs(raw, "auth_sessions_inactivity_timeout", 0),
            mailer_otp_exp: secs(raw, "auth_mailer_otp_exp", 86_400).max(60),
            mailer_otp_length: raw
                .parse(
                    "auth_mailer_otp_length",
                    "an integer between 6 and 10",
                    |v| v.parse::<usize>().ok().filter(|n| (6..=10).contains(n)),
                )
                .unwrap_or(6),
            sms_otp_exp: secs(raw, "auth_sms_otp_exp", 60).max(30),
            email_max_frequency: secs(raw, "auth_email_max_frequency", 60),
            sms_max_frequency: secs(raw, "auth_sms_max_frequency", 60),
            rate_limit_email_sent: count(raw, "auth_rate_limit_email_sent", 30),
            rate_limit_otp: count(raw, "auth_rate_limit_otp", 30),
            rate_limit_token: count(raw, "auth_rate_limit_token", 150),
            rate_limit_verify: count(raw, "auth_rate_limit_verify", 30),
            rate_limit_header: raw.parse(
                "auth_rate_limit_header",
                "an HTTP header name like X-Forwarded-For",
                |v| {
                    let ok = v.len() <= 64
                        && v.bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
                    ok.then(|| v.to_owned())
                },
            ),
            dev_mailbox: b(raw, "auth_dev_mailbox", false),
            smtp_host: raw.get("smtp_host").map(str::to_owned),
            smtp_port,
            smtp_tls,
            outbound_ca_file: raw.get("auth_outbound_ca_file").map(str::to_owned),
            smtp_user: raw.get("smtp_user").map(str::to_owned),
            smtp_pass: raw.get("smtp_pass").map(Secret::new),
            smtp_admin_email: raw
                .get("smtp_admin_email")
                .unwrap_or("noreply@madbase.local")
                .to_owned(),
            smtp_sender_name: raw.get("smtp_sender_name").map(str::to_owned),
            mailer_templates_dir: raw.get("auth_mailer_templates_dir").map(str::to_owned),
            github: provider(raw, "github", Some("https://github.com")),
            google: provider(raw, "google", Some("https://accounts.google.com")),
            gitlab: provider(raw, "gitlab", Some("https://gitlab.com")),
            oidc: provider(raw, "oidc", None),
        }
    }

    /// The environment variables [`AuthSettings::parse`] reads back.
    pub fn to_env(&self) -> Vec<(&'static str, String)> {
        let mut out: Vec<(&'static str, String)> = vec![
            ("MADBASE_SITE_URL", self.site_url.clone()),
            (
                "MADBASE_AUTH_DISABLE_SIGNUP",
                self.disable_signup.to_string(),
            ),
            (
                "MADBASE_AUTH_EXTERNAL_EMAIL_ENABLED",
                self.email_enabled.to_string(),
            ),
            (
                "MADBASE_AUTH_EXTERNAL_PHONE_ENABLED",
                self.phone_enabled.to_string(),
            ),
            (
                "MADBASE_AUTH_EXTERNAL_ANONYMOUS_USERS_ENABLED",
                self.anonymous_users.to_string(),
            ),
            (
                "MADBASE_AUTH_MAILER_AUTOCONFIRM",
                self.mailer_autoconfirm.to_string(),
            ),
            (
                "MADBASE_AUTH_SMS_AUTOCONFIRM",
                self.sms_autoconfirm.to_string(),
            ),
            ("MADBASE_AUTH_JWT_EXP", self.jwt_exp.to_string()),
            (
                "MADBASE_AUTH_PASSWORD_MIN_LENGTH",
                self.password_min_length.to_string(),
            ),
            (
                "MADBASE_AUTH_SECURITY_MANUAL_LINKING_ENABLED",
                self.manual_linking_enabled.to_string(),
            ),
            (
                "MADBASE_AUTH_MFA_PHONE_ENROLL_ENABLED",
                self.mfa_phone_enroll_enabled.to_string(),
            ),
            (
                "MADBASE_AUTH_MFA_PHONE_VERIFY_ENABLED",
                self.mfa_phone_verify_enabled.to_string(),
            ),
            (
                "MADBASE_AUTH_MFA_PHONE_OTP_LENGTH",
                self.mfa_phone_otp_length.to_string(),
            ),
            (
                "MADBASE_AUTH_MFA_PHONE_MAX_FREQUENCY",
                self.mfa_phone_max_frequency.to_string(),
            ),
            (
                "MADBASE_AUTH_SECURE_PASSWORD_CHANGE",
                self.secure_password_change.to_string(),
            ),
            (
                "MADBASE_AUTH_MAILER_SECURE_EMAIL_CHANGE_ENABLED",
                self.secure_email_change.to_string(),
            ),
            (
                "MADBASE_AUTH_REFRESH_TOKEN_ROTATION_ENABLED",
                self.refresh_token_rotation.to_string(),
            ),
            (
                "MADBASE_AUTH_REFRESH_TOKEN_REUSE_INTERVAL",
                self.refresh_token_reuse_interval.to_string(),
            ),
            (
                "MADBASE_AUTH_SESSIONS_TIMEBOX",
                self.sessions_timebox.to_string(),
            ),
            (
                "MADBASE_AUTH_SESSIONS_INACTIVITY_TIMEOUT",
                self.sessions_inactivity_timeout.to_string(),
            ),
            (
                "MADBASE_AUTH_MAILER_OTP_EXP",
                self.mailer_otp_exp.to_string(),
            ),
            (
                "MADBASE_AUTH_MAILER_OTP_LENGTH",
                self.mailer_otp_length.to_string(),
            ),
            ("MADBASE_AUTH_SMS_OTP_EXP", self.sms_otp_exp.to_string()),
            (
                "MADBASE_AUTH_EMAIL_MAX_FREQUENCY",
                self.email_max_frequency.to_string(),
            ),
            (
                "MADBASE_AUTH_SMS_MAX_FREQUENCY",
                self.sms_max_frequency.to_string(),
            ),
            (
                "MADBASE_AUTH_RATE_LIMIT_EMAIL_SENT",
                self.rate_limit_email_sent.to_string(),
            ),
            (
                "MADBASE_AUTH_RATE_LIMIT_OTP",
                self.rate_limit_otp.to_string(),
            ),
            (
                "MADBASE_AUTH_RATE_LIMIT_TOKEN",
                self.rate_limit_token.to_string(),
            ),
            (
                "MADBASE_AUTH_RATE_LIMIT_VERIFY",
                self.rate_limit_verify.to_string(),
            ),
            ("MADBASE_AUTH_DEV_MAILBOX", self.dev_mailbox.to_string()),
            ("MADBASE_SMTP_PORT", self.smtp_port.to_string()),
            ("MADBASE_SMTP_TLS", self.smtp_tls.as_str().to_owned()),
            ("MADBASE_SMTP_ADMIN_EMAIL", self.smtp_admin_email.clone()),
        ];
        if !self.uri_allow_list.is_empty() {
            out.push(("MADBASE_AUTH_URI_ALLOW_LIST", self.uri_allow_list.join(",")));
        }
        if !self.password_required_characters.is_empty() {
            out.push((
                "MADBASE_AUTH_PASSWORD_REQUIRED_CHARACTERS",
                self.password_required_characters.join(":"),
            ));
        }
        let opt: [(&'static str, Option<&str>); 10] = [
            (
                "MADBASE_AUTH_RATE_LIMIT_HEADER",
                self.rate_limit_header.as_deref(),
            ),
            ("MADBASE_AUTH_JWT_ISSUER", self.jwt_issuer.as_deref()),
            (
                "MADBASE_AUTH_JWT_SIGNING_ALG",
                self.jwt_signing_alg.map(JwtSigningAlg::as_str),
            ),
            (
                "MADBASE_AUTH_JWT_KEYS",
                self.jwt_keys.as_ref().map(Secret::expose),
            ),
            ("MADBASE_SMTP_HOST", self.smtp_host.as_deref()),
            ("MADBASE_SMTP_USER", self.smtp_user.as_deref()),
            (
                "MADBASE_SMTP_PASS",
                self.smtp_pass.as_ref().map(Secret::expose),
            ),
            ("MADBASE_SMTP_SENDER_NAME", self.smtp_sender_name.as_deref()),
            (
                "MADBASE_AUTH_OUTBOUND_CA_FILE",
                self.outbound_ca_file.as_deref(),
            ),
            (
                "MADBASE_AUTH_MAILER_TEMPLATES_DIR",
                self.mailer_templates_dir.as_deref(),
            ),
        ];
        for (k, v) in opt {
            if let Some(v) = v {
                out.push((k, v.to_owned()));
            }
        }
        let providers: [(&Option<OAuthProviderSettings>, [&'static str; 3]); 4] = [
            (
                &self.github,
                [
                    "MADBASE_AUTH_EXTERNAL_GITHUB_CLIENT_ID",
                    "MADBASE_AUTH_EXTERNAL_GITHUB_SECRET",
                    "MADBASE_AUTH_EXTERNAL_GITHUB_URL",
                ],
            ),
            (
                &self.google,
                [
                    "MADBASE_AUTH_EXTERNAL_GOOGLE_CLIENT_ID",
                    "MADBASE_AUTH_EXTERNAL_GOOGLE_SECRET",
                    "MADBASE_AUTH_EXTERNAL_GOOGLE_URL",
                ],
            ),
            (
                &self.gitlab,
                [
                    "MADBASE_AUTH_EXTERNAL_GITLAB_CLIENT_ID",
                    "MADBASE_AUTH_EXTERNAL_GITLAB_SECRET",
                    "MADBASE_AUTH_EXTERNAL_GITLAB_URL",
                ],
            ),
            (
                &self.oidc,
                [
                    "MADBASE_AUTH_EXTERNAL_OIDC_CLIENT_ID",
                    "MADBASE_AUTH_EXTERNAL_OIDC_SECRET",
                    "MADBASE_AUTH_EXTERNAL_OIDC_URL",
                ],
            ),
        ];
        for (p, [id, secret, url]) in providers {
            if let Some(p) = p {
                out.push((id, p.client_id.clone()));
                out.push((secret, p.secret.expose().to_owned()));
                out.push((url, p.url.clone()));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use crate::{DataPlaneConfig, SETTINGS};
    use std::collections::BTreeMap;

    fn parse(vars: &[(&str, &str)]) -> Result<DataPlaneConfig, crate::ConfigError> {
        let mut map: BTreeMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        map.insert("MADBASE_DATABASE_URL".into(), "postgres://u:p@h/db".into());
        map.insert(
            "MADBASE_JWT_SECRET".into(),
            "0123456789abcdef0123456789abcdef".into(),
        );
        let keys: Vec<String> = map.keys().cloned().collect();
        DataPlaneConfig::from_sources(&|k| map.get(k).cloned(), &keys, None)
    }

    #[test]
    fn auth_defaults_are_gotrues() {
        let a = parse(&[]).expect("valid").auth;
        assert_eq!(a.jwt_exp, 3600);
        assert_eq!(a.password_min_length, 6);
        assert_eq!(a.refresh_token_reuse_interval, 10);
        assert!(a.refresh_token_rotation && a.email_enabled && !a.mailer_autoconfirm);
        assert!(!a.dev_mailbox && !a.anonymous_users);
        assert_eq!(a.email_max_frequency, 60);
        assert_eq!(a.site_url, "http://localhost:3000");
        assert!(a.github.is_none());
    }

    #[test]
    fn durations_lists_and_providers_parse() {
        let a = parse(&[
            ("MADBASE_AUTH_SESSIONS_TIMEBOX", "24h"),
            ("MADBASE_AUTH_SESSIONS_INACTIVITY_TIMEOUT", "15m"),
            ("MADBASE_AUTH_PASSWORD_REQUIRED_CHARACTERS", "abc:ABC:123"),
            (
                "MADBASE_AUTH_URI_ALLOW_LIST",
                "http://a.test/**, myapp://cb",
            ),
            ("MADBASE_AUTH_EXTERNAL_GITHUB_CLIENT_ID", "id"),
            ("MADBASE_AUTH_EXTERNAL_GITHUB_SECRET", "s"),
        ])
        .expect("valid")
        .auth;
        assert_eq!(a.sessions_timebox, 86_400);
        assert_eq!(a.sessions_inactivity_timeout, 900);
        assert_eq!(a.password_required_characters, vec!["abc", "ABC", "123"]);
        assert_eq!(a.uri_allow_list, vec!["http://a.test/**", "myapp://cb"]);
        assert_eq!(
            a.github.as_ref().map(|g| g.url.as_str()),
            Some("https://github.com")
        );
    }

    #[test]
    fn bad_auth_values_are_named() {
        let err = parse(&[
            ("MADBASE_AUTH_JWT_EXP", "soon"),
            ("MADBASE_AUTH_PASSWORD_MIN_LENGTH", "3"),
            ("MADBASE_AUTH_EXTERNAL_OIDC_CLIENT_ID", "id"),
        ])
        .expect_err("invalid");
        let text = err.to_string();
        assert!(text.contains("MADBASE_AUTH_JWT_EXP"), "{text}");
        assert!(text.contains("MADBASE_AUTH_PASSWORD_MIN_LENGTH"), "{text}");
        assert!(
            text.contains("MADBASE_AUTH_EXTERNAL_OIDC_CLIENT_ID"),
            "{text}"
        );
    }

    #[test]
    fn auth_settings_round_trip_through_the_environment() {
        let c = parse(&[
            ("MADBASE_AUTH_MAILER_AUTOCONFIRM", "true"),
            ("MADBASE_SMTP_HOST", "mail.test"),
            ("MADBASE_SMTP_PASS", "pw"),
            ("MADBASE_AUTH_JWT_KEYS", "[]"),
            ("MADBASE_AUTH_EXTERNAL_OIDC_CLIENT_ID", "id"),
            ("MADBASE_AUTH_EXTERNAL_OIDC_SECRET", "s"),
            ("MADBASE_AUTH_EXTERNAL_OIDC_URL", "http://idp.test"),
            ("MADBASE_AUTH_PASSWORD_REQUIRED_CHARACTERS", "ab:CD"),
            ("MADBASE_SMTP_TLS", "implicit"),
            ("MADBASE_AUTH_OUTBOUND_CA_FILE", "ca.pem"),
            ("MADBASE_AUTH_JWT_SIGNING_ALG", "rs256"),
            ("MADBASE_AUTH_RATE_LIMIT_HEADER", "X-Forwarded-For"),
        ])
        .expect("valid");
        let env = c.auth.to_env();
        for (k, _) in &env {
            assert!(SETTINGS.iter().any(|s| s.env == *k), "{k} not in contract");
        }
        let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let again = parse(&pairs).expect("round trip");
        assert_eq!(again.auth.to_env(), env);
        assert!(!format!("{:?}", c.auth).contains("pw\""));
    }

    #[test]
    fn smtp_tls_follows_the_port_unless_set() {
        use super::SmtpTls;
        assert_eq!(parse(&[]).expect("valid").auth.smtp_tls, SmtpTls::StartTls);
        let implicit = parse(&[("MADBASE_SMTP_PORT", "465")]).expect("valid").auth;
        assert_eq!(implicit.smtp_tls, SmtpTls::Implicit);
        let off = parse(&[("MADBASE_SMTP_PORT", "465"), ("MADBASE_SMTP_TLS", "off")])
            .expect("valid")
            .auth;
        assert_eq!(off.smtp_tls, SmtpTls::Off);
        let a = parse(&[
            ("MADBASE_SMTP_TLS", "STARTTLS"),
            ("MADBASE_AUTH_OUTBOUND_CA_FILE", "/etc/ca.pem"),
        ])
        .expect("valid")
        .auth;
        assert_eq!(a.smtp_tls, SmtpTls::StartTls);
        assert_eq!(a.outbound_ca_file.as_deref(), Some("/etc/ca.pem"));
        let err = parse(&[("MADBASE_SMTP_TLS", "ssl3")]).expect_err("invalid");
        assert!(
            err.to_string()
                .contains("MADBASE_SMTP_TLS must be starttls, implicit or off"),
            "{err}"
        );
    }

    #[test]
    fn signing_algorithm_is_one_of_three() {
        use super::JwtSigningAlg;
        assert_eq!(parse(&[]).expect("valid").auth.jwt_signing_alg, None);
        let a = parse(&[("MADBASE_AUTH_JWT_SIGNING_ALG", "RS256")])
            .expect("valid")
            .auth;
        assert_eq!(a.jwt_signing_alg, Some(JwtSigningAlg::Rs256));
        let err = parse(&[("MADBASE_AUTH_JWT_SIGNING_ALG", "PS256")]).expect_err("invalid");
        assert!(
            err.to_string()
                .contains("MADBASE_AUTH_JWT_SIGNING_ALG must be HS256, ES256 or RS256"),
            "{err}"
        );
    }

    #[test]
    fn rate_limit_header_must_be_a_header_name() {
        assert_eq!(parse(&[]).expect("valid").auth.rate_limit_header, None);
        let err =
            parse(&[("MADBASE_AUTH_RATE_LIMIT_HEADER", "X Forwarded: For")]).expect_err("invalid");
        assert!(
            err.to_string()
                .contains("MADBASE_AUTH_RATE_LIMIT_HEADER must be"),
            "{err}"
        );
    }

    #[test]
    fn duration_grammar() {
        assert_eq!(super::parse_duration("90"), Some(90));
        assert_eq!(super::parse_duration("2m"), Some(120));
        assert_eq!(super::parse_duration("7d"), Some(604_800));
        assert_eq!(super::parse_duration("1w"), None);
        assert_eq!(super::parse_duration("h"), None);
    }
}
