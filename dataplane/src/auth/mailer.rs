//! Delivery of auth emails and SMS: templates (GoTrue's variables, overridable from a
//! directory read once at start), SMTP through `lettre`, and the development mailbox.
//!
//! SMTP is secured as `MADBASE_SMTP_TLS` says: STARTTLS (required, never silently plain),
//! implicit TLS (port 465), or off for a relay on the local network; certificates are
//! verified as `tls` sets up. One connection per email.
//!
//! SMS goes through [`SmsSender`]: the only sender so far records messages in the dev mailbox
//! in development and otherwise logs that an SMS was due, never its code.
//! The dev mailbox answers only with the service_role key and only when `madbase dev` turned it on.

use std::collections::HashMap;
use std::sync::Mutex;

use axum::Json;
use serde::Serialize;
use serde_json::{Value, json};

use super::error::{AuthError, AuthResult};
use super::rate_limit::Bucket;
use super::sessions::Admin;
use madbase_config::{AuthSettings, SmtpTls};

/// Kinds of auth email, named as GoTrue's templates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MailKind {
    /// Confirm a new account.
    Confirmation,
    /// Invitation by an admin.
    Invite,
    /// Passwordless sign-in.
    MagicLink,
    /// Password recovery.
    Recovery,
    /// Email change (sent to the new, and with secure change also the old, address).
    EmailChange,
    /// Reauthentication code.
    Reauthentication,
}

impl MailKind {
    fn name(self) -> &'static str {
        match self {
            MailKind::Confirmation => "confirmation",
            MailKind::Invite => "invite",
            MailKind::MagicLink => "magic_link",
            MailKind::Recovery => "recovery",
            MailKind::EmailChange => "email_change",
            MailKind::Reauthentication => "reauthentication",
        }
    }

    fn defaults(self) -> (&'static str, &'static str) {
        match self {
            MailKind::Confirmation => (
                "Confirm Your Email",
                "<h2>Confirm your email</h2><p>Follow this link to confirm your email:</p><p><a href=\"{{ .ConfirmationURL }}\">Confirm your email address</a></p><p>Alternatively, enter the code: {{ .Token }}</p>",
            ),
            MailKind::Invite => (
                "You have been invited",
                "<h2>You have been invited</h2><p>You have been invited to create a user on {{ .SiteURL }}. Follow this link to accept the invite:</p><p><a href=\"{{ .ConfirmationURL }}\">Accept the invite</a></p><p>Alternatively, enter the code: {{ .Token }}</p>",
            ),
            MailKind::MagicLink => (
                "Your Magic Link",
                "<h2>Magic Link</h2><p>Follow this link to login:</p><p><a href=\"{{ .ConfirmationURL }}\">Log In</a></p><p>Alternatively, enter the code: {{ .Token }}</p>",
            ),
            MailKind::Recovery => (
                "Reset Your Password",
                "<h2>Reset Password</h2><p>Follow this link to reset the password for your user:</p><p><a href=\"{{ .ConfirmationURL }}\">Reset Password</a></p><p>Alternatively, enter the code: {{ .Token }}</p>",
            ),
            MailKind::EmailChange => (
                "Confirm Email Change",
                "<h2>Confirm Change of Email</h2><p>Follow this link to confirm the update of your email from {{ .Email }} to {{ .NewEmail }}:</p><p><a href=\"{{ .ConfirmationURL }}\">Change Email</a></p><p>Alternatively, enter the code: {{ .Token }}</p>",
            ),
            MailKind::Reauthentication => (
                "Confirm reauthentication",
                "<h2>Confirm reauthentication</h2><p>Enter the code: {{ .Token }}</p>",
            ),
        }
    }
}

const KINDS: [MailKind; 6] = [
    MailKind::Confirmation,
    MailKind::Invite,
    MailKind::MagicLink,
    MailKind::Recovery,
    MailKind::EmailChange,
    MailKind::Reauthentication,
];

/// Values substituted into a template.
#[derive(Debug, Default, Clone)]
pub struct MailVars {
    /// The link to follow.
    pub confirmation_url: String,
    /// The one-time code.
    pub token: String,
    /// The hashed token the link carries.
    pub token_hash: String,
    /// Current address.
    pub email: String,
    /// New address (email change).
    pub new_email: String,
    /// Where the user lands.
    pub redirect_to: String,
}

/// Fills GoTrue's `{{ .Name }}` placeholders (with or without inner spaces).
pub fn render(template: &str, site_url: &str, v: &MailVars) -> String {
    let pairs = [
        ("ConfirmationURL", v.confirmation_url.as_str()),
        ("TokenHash", v.token_hash.as_str()),
        ("Token", v.token.as_str()),
        ("SiteURL", site_url),
        ("NewEmail", v.new_email.as_str()),
        ("Email", v.email.as_str()),
        ("RedirectTo", v.redirect_to.as_str()),
    ];
    let mut out = template.to_owned();
    for (name, value) in pairs {
        for pat in [format!("{{{{ .{name} }}}}"), format!("{{{{.{name}}}}}")] {
            out = out.replace(&pat, value);
        }
    }
    out
}

/// One message kept by the dev mailbox.
#[derive(Debug, Clone, Serialize)]
pub struct Kept {
    /// `email` or `sms`.
    pub channel: &'static str,
    /// Recipient.
    pub to: String,
    /// Subject (email).
    pub subject: String,
    /// Body.
    pub body: String,
    /// Template kind.
    pub kind: String,
    /// The code, for tests.
    pub token: String,
    /// The link, for tests.
    pub link: String,
    /// Unix seconds.
    pub sent_at: i64,
}

enum Transport {
    Smtp(lettre::AsyncSmtpTransport<lettre::Tokio1Executor>),
    DevMailbox,
    Off,
}

/// Sends auth emails and SMS for one project.
pub struct Mailer {
    transport: Transport,
    from: String,
    templates: HashMap<MailKind, (String, String)>,
    site_url: String,
    kept: Mutex<Vec<Kept>>,
    email_per_hour: u32,
}

/// Delivers SMS; pluggable so a real provider can be added without touching the flows.
pub trait SmsSender {
    /// Sends `body` to `phone`.
    fn send_sms(&self, phone: &str, body: &str, token: &str) -> AuthResult<()>;
}

impl Mailer {
    /// Builds the mailer from settings; reads template overrides now, not per request.
    pub fn new(s: &AuthSettings, trust: &super::tls::OutboundTrust) -> anyhow::Result<Self> {
        let transport = if s.dev_mailbox {
            Transport::DevMailbox
        } else if let Some(host) = &s.smtp_host {
            use lettre::transport::smtp::client::Tls;
            let tls = match s.smtp_tls {
                SmtpTls::StartTls => Tls::Required(trust.smtp(host)?),
                SmtpTls::Implicit => Tls::Wrapper(trust.smtp(host)?),
                SmtpTls::Off => Tls::None,
            };
            let mut b =
                lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::builder_dangerous(host)
                    .port(s.smtp_port)
                    .tls(tls)
                    .timeout(Some(std::time::Duration::from_secs(10)));
            if let (Some(user), Some(pass)) = (&s.smtp_user, &s.smtp_pass) {
                b = b.credentials(lettre::transport::smtp::authentication::Credentials::new(
                    user.clone(),
                    pass.expose().to_owned(),
                ));
            }
            Transport::Smtp(b.build())
        } else {
            Transport::Off
        };
        let mut templates = HashMap::new();
        for kind in KINDS {
            let (subject, body) = kind.defaults();
            let mut pair = (subject.to_owned(), body.to_owned());
            if let Some(dir) = &s.mailer_templates_dir {
                let dir = std::path::Path::new(dir);
                let html = dir.join(format!("{}.html", kind.name()));
                if html.exists() {
                    pair.1 = std::fs::read_to_string(&html)
                        .map_err(|e| anyhow::anyhow!("reading {}: {e}", html.display()))?;
                }
                let subj = dir.join(format!("{}.subject", kind.name()));
                if subj.exists() {
                    pair.0 = std::fs::read_to_string(&subj)
                        .map_err(|e| anyhow::anyhow!("reading {}: {e}", subj.display()))?
                        .trim()
                        .to_owned();
                }
            }
            templates.insert(kind, pair);
        }
        let from = match &s.smtp_sender_name {
            Some(name) => format!("{name} <{}>", s.smtp_admin_email),
            None => s.smtp_admin_email.clone(),
        };
        Ok(Self {
            transport,
            from,
            templates,
            site_url: s.site_url.clone(),
            kept: Mutex::new(Vec::new()),
            email_per_hour: s.rate_limit_email_sent,
        })
    }

    /// Whether the dev mailbox is on.
    pub fn dev(&self) -> bool {
        matches!(self.transport, Transport::DevMailbox)
    }

    fn keep(&self, k: Kept) {
        let mut kept = self
            .kept
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if kept.len() >= 1000 {
            kept.remove(0);
        }
        kept.push(k);
    }

    /// Sends one auth email (counted against the project's hourly email limit).
    pub async fn send(
        &self,
        limits: &super::rate_limit::Limits,
        kind: MailKind,
        to: &str,
        vars: &MailVars,
    ) -> AuthResult<()> {
        limits.hit(
            Bucket::EmailSent,
            "project",
            self.email_per_hour,
            std::time::Duration::from_secs(3600),
        )?;
        let (subject, body) = self
            .templates
            .get(&kind)
            .cloned()
            .unwrap_or_else(|| (kind.defaults().0.into(), kind.defaults().1.into()));
        let subject = render(&subject, &self.site_url, vars);
        let body = render(&body, &self.site_url, vars);
        match &self.transport {
            Transport::DevMailbox => {
                self.keep(Kept {
                    channel: "email",
                    to: to.to_owned(),
                    subject,
                    body,
                    kind: kind.name().to_owned(),
                    token: vars.token.clone(),
                    link: vars.confirmation_url.clone(),
                    sent_at: super::unix_now(),
                });
                Ok(())
            }
            Transport::Off => Err(AuthError::internal(
                "no SMTP relay configured (MADBASE_SMTP_HOST) to send auth email",
            )),
            Transport::Smtp(smtp) => {
                use lettre::AsyncTransport as _;
                let msg = lettre::Message::builder()
                    .from(
                        self.from
                            .parse()
                            .map_err(|e| AuthError::internal(format!("sender address: {e}")))?,
                    )
                    .to(to.parse().map_err(|_| {
                        AuthError::validation("Unable to validate email address: invalid format")
                    })?)
                    .subject(subject)
                    .header(lettre::message::header::ContentType::TEXT_HTML)
                    .body(body)
                    .map_err(|e| AuthError::internal(format!("building email: {e}")))?;
                smtp.send(msg).await.map_err(|e| {
                    AuthError::internal(format!(
                        "sending email over SMTP: {}",
                        super::tls::describe(&e)
                    ))
                })?;
                Ok(())
            }
        }
    }
}

impl SmsSender for Mailer {
    fn send_sms(&self, phone: &str, body: &str, token: &str) -> AuthResult<()> {
        if self.dev() {
            self.keep(Kept {
                channel: "sms",
                to: phone.to_owned(),
                subject: String::new(),
                body: body.to_owned(),
                kind: "sms".into(),
                token: token.to_owned(),
                link: String::new(),
                sent_at: super::unix_now(),
            });
        } else {
            // Never the code itself: logs are not a delivery channel.
            tracing::warn!(
                phone_suffix = %phone.chars().rev().take(2).collect::<String>(),
                "an SMS was due but no SMS provider is configured"
            );
        }
        Ok(())
    }
}

/// `GET /auth/v1/_dev/mailbox[?to=]` (development only, service_role key): the kept messages,
/// newest last.
pub async fn dev_mailbox(
    admin: Admin,
    q: axum::extract::Query<HashMap<String, String>>,
) -> AuthResult<Json<Value>> {
    let mailer = &admin.ctx.auth().mailer;
    if !mailer.dev() {
        return Err(AuthError::not_found("not_found", "Not Found"));
    }
    let kept = mailer
        .kept
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let to = q.get("to").map(|t| t.to_lowercase());
    let list: Vec<&Kept> = kept
        .iter()
        .filter(|k| to.as_ref().is_none_or(|t| k.to.to_lowercase() == *t))
        .collect();
    Ok(Json(json!({ "messages": list })))
}

/// `DELETE /auth/v1/_dev/mailbox` (development only): empties it.
pub async fn dev_mailbox_clear(admin: Admin) -> AuthResult<Json<Value>> {
    let mailer = &admin.ctx.auth().mailer;
    if !mailer.dev() {
        return Err(AuthError::not_found("not_found", "Not Found"));
    }
    mailer
        .kept
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clear();
    Ok(Json(json!({})))
}

#[cfg(test)]
mod tests {
    use super::super::tls::testing::{SmtpMode, TestPki, smtp_server};
    use super::*;

    fn settings(vars: &[(&str, &str)]) -> AuthSettings {
        let mut map: std::collections::BTreeMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        map.insert("MADBASE_DATABASE_URL".into(), "postgres://u:p@h/db".into());
        map.insert(
            "MADBASE_JWT_SECRET".into(),
            "0123456789abcdef0123456789abcdef".into(),
        );
        let keys: Vec<String> = map.keys().cloned().collect();
        madbase_config::DataPlaneConfig::from_sources(&|k| map.get(k).cloned(), &keys, None)
            .expect("valid settings")
            .auth
    }

    async fn send_over(mode: SmtpMode, trusted_pem: String) -> (AuthResult<()>, Option<String>) {
        let pki = TestPki::new();
        let (port, rx) = smtp_server(&pki, mode).await;
        let pem = if trusted_pem.is_empty() {
            pki.ca_pem.clone()
        } else {
            trusted_pem
        };
        let port = port.to_string();
        let tls = match mode {
            SmtpMode::StartTls => "starttls",
            SmtpMode::Implicit => "implicit",
        };
        let s = settings(&[
            ("MADBASE_SMTP_HOST", "127.0.0.1"),
            ("MADBASE_SMTP_PORT", &port),
            ("MADBASE_SMTP_TLS", tls),
        ]);
        let trust = super::super::tls::OutboundTrust::from_pem(pem.into_bytes()).expect("ca");
        let mailer = Mailer::new(&s, &trust).expect("mailer");
        let vars = MailVars {
            token: "123456".into(),
            ..Default::default()
        };
        let sent = mailer
            .send(
                &super::super::rate_limit::Limits::default(),
                MailKind::Reauthentication,
                "someone@example.com",
                &vars,
            )
            .await;
        let data = tokio::time::timeout(std::time::Duration::from_secs(5), rx)
            .await
            .ok()
            .and_then(Result::ok);
        (sent, data)
    }

    #[tokio::test]
    async fn smtp_over_starttls_and_implicit_tls_verifies_the_server() {
        for mode in [SmtpMode::StartTls, SmtpMode::Implicit] {
            let (sent, data) = send_over(mode, String::new()).await;
            sent.expect("sent over TLS");
            let data = data.expect("message reached the server");
            assert!(data.contains("Subject: Confirm reauthentication"), "{data}");
            assert!(data.contains("someone@example.com"), "{data}");
        }
    }

    #[tokio::test]
    async fn smtp_refuses_a_certificate_from_an_untrusted_ca() {
        for mode in [SmtpMode::StartTls, SmtpMode::Implicit] {
            let (sent, data) = send_over(mode, TestPki::stranger_ca_pem()).await;
            let err = sent.expect_err("untrusted certificate");
            assert_eq!(err.status.as_u16(), 500);
            let detail = err.internal.unwrap_or_default();
            assert!(
                detail.contains("invalid peer certificate") && detail.contains("UnknownIssuer"),
                "{detail}"
            );
            assert!(data.is_none(), "no message may be delivered");
            assert!(
                !err.message.contains("certificate"),
                "detail stays in the log"
            );
        }
    }

    #[test]
    fn templates_use_gotrue_variables() {
        let v = MailVars {
            confirmation_url: "http://x/verify?token=h".into(),
            token: "123456".into(),
            token_hash: "h".into(),
            email: "a@b.co".into(),
            new_email: "c@d.co".into(),
            redirect_to: "http://app".into(),
        };
        let out = render(
            "{{ .ConfirmationURL }}|{{.Token}}|{{ .TokenHash }}|{{ .SiteURL }}|{{ .Email }}>{{ .NewEmail }}|{{ .RedirectTo }}",
            "http://site",
            &v,
        );
        assert_eq!(
            out,
            "http://x/verify?token=h|123456|h|http://site|a@b.co>c@d.co|http://app"
        );
    }
}
