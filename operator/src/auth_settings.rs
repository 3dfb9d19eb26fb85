//! Build (pure): what `spec.auth` asks of the data plane, as settings of the data plane's
//! contract (`madbase_config::SETTINGS`): plain values for the ConfigMap, `(Secret, key)` pairs
//! for secret settings (read by the pods through `secretKeyRef`, never copied by the operator),
//! and ConfigMaps mounted as files for settings that name a path.
//!
//! [`NOT_FROM_SPEC`] lists the auth settings a project cannot set, with the reason; a test fails
//! when the contract gains an auth setting that is neither rendered here nor listed there.

use std::collections::BTreeMap;

use madbase_crds::{AuthSpec, JwtSigningAlg, OAuthProvider, SecretKeyRef, SmtpTls};

/// Auth settings of the contract that no `spec.auth` field sets, and why.
pub const NOT_FROM_SPEC: &[(&str, &str)] = &[(
    "MADBASE_AUTH_DEV_MAILBOX",
    "development only (`madbase dev`): it keeps mail in memory instead of sending it",
)];

/// Where the mounted email templates live in the pod.
pub const TEMPLATES_DIR: &str = "/etc/madbase/mail-templates";
/// Where the mounted outbound CA bundle lives in the pod.
pub const OUTBOUND_CA_DIR: &str = "/etc/madbase/outbound-ca";
/// File name of the mounted CA bundle.
pub const OUTBOUND_CA_FILE: &str = "ca.crt";

/// Where a mounted volume's files come from, in the project's namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MountSource {
    /// A ConfigMap.
    ConfigMap(String),
    /// A Secret.
    Secret(String),
}

/// A ConfigMap or Secret mounted read-only into the data-plane pods.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileMount {
    /// Volume name.
    pub volume: &'static str,
    /// What it mounts.
    pub source: MountSource,
    /// `(key, file name)` to project; empty mounts every key under its own name.
    pub items: Vec<(String, String)>,
    /// Directory in the pod.
    pub path: &'static str,
}

/// The auth part of the data plane's configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthEnv {
    /// Non-secret settings by environment variable.
    pub settings: BTreeMap<String, String>,
    /// Secret settings by environment variable: (Secret name, key).
    pub secrets: BTreeMap<String, (String, String)>,
    /// ConfigMaps the pods mount.
    pub mounts: Vec<FileMount>,
}

impl AuthEnv {
    fn set(&mut self, env: &str, value: impl ToString) {
        self.settings.insert(env.to_owned(), value.to_string());
    }

    fn set_opt<T: ToString>(&mut self, env: &str, value: Option<T>) {
        if let Some(v) = value {
            self.set(env, v);
        }
    }

    fn secret(&mut self, env: &str, r: &SecretKeyRef, default_key: &str) {
        self.secrets.insert(
            env.to_owned(),
            (
                r.name.clone(),
                r.key.clone().unwrap_or_else(|| default_key.to_owned()),
            ),
        );
    }

    fn provider(&mut self, name: &str, p: Option<&OAuthProvider>) {
        let Some(p) = p else { return };
        let prefix = format!("MADBASE_AUTH_EXTERNAL_{name}");
        self.set(&format!("{prefix}_CLIENT_ID"), &p.client_id);
        self.secret(&format!("{prefix}_SECRET"), &p.secret_ref, "client-secret");
        self.set_opt(&format!("{prefix}_URL"), p.url.as_ref());
    }
}

/// The Secrets `spec.auth` references besides the JWT secret: (name, key), for the dereference
/// step to check before the pods would fail on them.
pub fn referenced_secrets(auth: &AuthSpec) -> Vec<(String, String)> {
    render(auth).secrets.into_values().collect()
}

/// Renders `spec.auth` into contract settings.
pub fn render(auth: &AuthSpec) -> AuthEnv {
    let mut out = AuthEnv::default();
    out.set_opt("MADBASE_SITE_URL", auth.site_url.as_ref());
    if !auth.additional_redirect_urls.is_empty() {
        out.set(
            "MADBASE_AUTH_URI_ALLOW_LIST",
            auth.additional_redirect_urls.join(","),
        );
    }
    out.set_opt("MADBASE_AUTH_DISABLE_SIGNUP", auth.disable_signup);
    out.set_opt(
        "MADBASE_AUTH_EXTERNAL_ANONYMOUS_USERS_ENABLED",
        auth.anonymous_sign_ins,
    );
    out.set_opt(
        "MADBASE_AUTH_SECURITY_MANUAL_LINKING_ENABLED",
        auth.manual_linking,
    );
    out.set_opt("MADBASE_AUTH_JWT_EXP", auth.jwt_expiry_seconds);
    out.set_opt("MADBASE_AUTH_JWT_ISSUER", auth.jwt_issuer.as_ref());
    if let Some(r) = &auth.jwt_keys_secret_ref {
        out.secret("MADBASE_AUTH_JWT_KEYS", r, "jwt-keys");
    }
    out.set_opt(
        "MADBASE_AUTH_JWT_SIGNING_ALG",
        auth.jwt_signing_alg.map(|a| match a {
            JwtSigningAlg::HS256 => "HS256",
            JwtSigningAlg::ES256 => "ES256",
            JwtSigningAlg::RS256 => "RS256",
        }),
    );
    if let Some(p) = &auth.password {
        out.set_opt("MADBASE_AUTH_PASSWORD_MIN_LENGTH", p.min_length);
        if !p.required_characters.is_empty() {
            out.set(
                "MADBASE_AUTH_PASSWORD_REQUIRED_CHARACTERS",
                p.required_characters.join(":"),
            );
        }
        out.set_opt("MADBASE_AUTH_SECURE_PASSWORD_CHANGE", p.secure_change);
    }
    if let Some(s) = &auth.sessions {
        out.set_opt(
            "MADBASE_AUTH_REFRESH_TOKEN_ROTATION_ENABLED",
            s.refresh_token_rotation,
        );
        out.set_opt(
            "MADBASE_AUTH_REFRESH_TOKEN_REUSE_INTERVAL",
            s.refresh_token_reuse_interval_seconds,
        );
        out.set_opt("MADBASE_AUTH_SESSIONS_TIMEBOX", s.timebox_seconds);
        out.set_opt(
            "MADBASE_AUTH_SESSIONS_INACTIVITY_TIMEOUT",
            s.inactivity_timeout_seconds,
        );
    }
    if let Some(e) = &auth.email {
        out.set_opt("MADBASE_AUTH_EXTERNAL_EMAIL_ENABLED", e.enabled);
        out.set_opt("MADBASE_AUTH_MAILER_AUTOCONFIRM", e.autoconfirm);
        out.set_opt(
            "MADBASE_AUTH_MAILER_SECURE_EMAIL_CHANGE_ENABLED",
            e.secure_email_change,
        );
        out.set_opt("MADBASE_AUTH_MAILER_OTP_EXP", e.otp_expiry_seconds);
        out.set_opt("MADBASE_AUTH_MAILER_OTP_LENGTH", e.otp_length);
        out.set_opt("MADBASE_AUTH_EMAIL_MAX_FREQUENCY", e.max_frequency_seconds);
        if let Some(cm) = &e.templates_config_map {
            out.set("MADBASE_AUTH_MAILER_TEMPLATES_DIR", TEMPLATES_DIR);
            out.mounts.push(FileMount {
                volume: "mail-templates",
                source: MountSource::ConfigMap(cm.clone()),
                items: Vec::new(),
                path: TEMPLATES_DIR,
            });
        }
        if let Some(smtp) = &e.smtp {
            out.set("MADBASE_SMTP_HOST", &smtp.host);
            out.set_opt("MADBASE_SMTP_PORT", smtp.port);
            out.set_opt(
                "MADBASE_SMTP_TLS",
                smtp.tls.map(|t| match t {
                    SmtpTls::Starttls => "starttls",
                    SmtpTls::Implicit => "implicit",
                    SmtpTls::Off => "off",
                }),
            );
            out.set_opt("MADBASE_SMTP_USER", smtp.user.as_ref());
            if let Some(r) = &smtp.password_secret_ref {
                out.secret("MADBASE_SMTP_PASS", r, "password");
            }
            out.set_opt("MADBASE_SMTP_ADMIN_EMAIL", smtp.admin_email.as_ref());
            out.set_opt("MADBASE_SMTP_SENDER_NAME", smtp.sender_name.as_ref());
        }
    }
    if let Some(p) = &auth.phone {
        out.set_opt("MADBASE_AUTH_EXTERNAL_PHONE_ENABLED", p.enabled);
        out.set_opt("MADBASE_AUTH_SMS_AUTOCONFIRM", p.autoconfirm);
        out.set_opt("MADBASE_AUTH_SMS_OTP_EXP", p.otp_expiry_seconds);
        out.set_opt("MADBASE_AUTH_SMS_MAX_FREQUENCY", p.max_frequency_seconds);
    }
    if let Some(m) = &auth.mfa {
        out.set_opt("MADBASE_AUTH_MFA_PHONE_ENROLL_ENABLED", m.phone_enroll);
        out.set_opt("MADBASE_AUTH_MFA_PHONE_VERIFY_ENABLED", m.phone_verify);
        out.set_opt("MADBASE_AUTH_MFA_PHONE_OTP_LENGTH", m.phone_otp_length);
        out.set_opt(
            "MADBASE_AUTH_MFA_PHONE_MAX_FREQUENCY",
            m.phone_max_frequency_seconds,
        );
    }
    if let Some(r) = &auth.rate_limits {
        out.set_opt("MADBASE_AUTH_RATE_LIMIT_EMAIL_SENT", r.email_sent);
        out.set_opt("MADBASE_AUTH_RATE_LIMIT_OTP", r.otp);
        out.set_opt("MADBASE_AUTH_RATE_LIMIT_TOKEN", r.token);
        out.set_opt("MADBASE_AUTH_RATE_LIMIT_VERIFY", r.verify);
        out.set_opt(
            "MADBASE_AUTH_RATE_LIMIT_HEADER",
            r.client_ip_header.as_ref(),
        );
    }
    if let Some(x) = &auth.external {
        out.provider("GITHUB", x.github.as_ref());
        out.provider("GOOGLE", x.google.as_ref());
        out.provider("GITLAB", x.gitlab.as_ref());
        out.provider("OIDC", x.oidc.as_ref());
    }
    if let Some(ca) = &auth.outbound_ca_config_map_ref {
        out.set(
            "MADBASE_AUTH_OUTBOUND_CA_FILE",
            format!("{OUTBOUND_CA_DIR}/{OUTBOUND_CA_FILE}"),
        );
        out.mounts.push(FileMount {
            volume: "outbound-ca",
            source: MountSource::ConfigMap(ca.name.clone()),
            items: vec![(
                ca.key
                    .clone()
                    .unwrap_or_else(|| OUTBOUND_CA_FILE.to_owned()),
                OUTBOUND_CA_FILE.to_owned(),
            )],
            path: OUTBOUND_CA_DIR,
        });
    }
    out
}

#[cfg(test)]
#[path = "auth_settings_tests.rs"]
mod tests;
