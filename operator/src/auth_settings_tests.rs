//! `spec.auth` → data-plane settings: the full example renders every auth setting of the
//! contract (or the setting is listed in `NOT_FROM_SPEC` with a reason), secrets only as Secret
//! references, and an empty `spec.auth` leaves the data plane's defaults alone.

use super::*;
use crate::validate::tests::project;

fn full() -> AuthSpec {
    project(include_str!("../../crds/examples/auth.yaml"))
        .spec
        .auth
}

/// Settings of the contract that belong to the auth API.
fn auth_settings() -> impl Iterator<Item = &'static madbase_config::Setting> {
    madbase_config::SETTINGS.iter().filter(|s| {
        s.env.starts_with("MADBASE_AUTH_")
            || s.env.starts_with("MADBASE_SMTP_")
            || s.env == "MADBASE_SITE_URL"
    })
}

#[test]
fn every_auth_setting_of_the_contract_is_reachable_from_the_spec() {
    let env = render(&full());
    for setting in auth_settings() {
        let rendered =
            env.settings.contains_key(setting.env) || env.secrets.contains_key(setting.env);
        let excluded = NOT_FROM_SPEC.iter().any(|(e, _)| *e == setting.env);
        assert!(
            rendered ^ excluded,
            "{}: the data plane reads it, so spec.auth must set it (and crds/examples/auth.yaml \
             show it) or NOT_FROM_SPEC must say why not",
            setting.env
        );
    }
}

#[test]
fn rendered_names_are_contract_names_and_secrets_stay_references() {
    let env = render(&full());
    for name in env.settings.keys() {
        let s = madbase_config::SETTINGS
            .iter()
            .find(|s| s.env == name)
            .unwrap_or_else(|| panic!("{name} is not in the contract"));
        assert!(!s.secret, "{name} is secret: it must come from a Secret");
    }
    for (name, (secret, key)) in &env.secrets {
        let s = madbase_config::SETTINGS
            .iter()
            .find(|s| s.env == name)
            .unwrap_or_else(|| panic!("{name} is not in the contract"));
        assert!(
            s.secret,
            "{name} is not secret: it belongs in the ConfigMap"
        );
        assert!(!secret.is_empty() && !key.is_empty());
    }
    assert_eq!(
        env.secrets.get("MADBASE_SMTP_PASS"),
        Some(&("crm-smtp".to_owned(), "password".to_owned())),
        "key defaults to `password`"
    );
    assert_eq!(
        env.secrets.get("MADBASE_AUTH_EXTERNAL_OIDC_SECRET"),
        Some(&("crm-oauth".to_owned(), "oidc".to_owned()))
    );
}

#[test]
fn values_are_rendered_in_the_data_planes_formats() {
    let env = render(&full());
    let get = |k: &str| env.settings.get(k).map(String::as_str);
    assert_eq!(
        get("MADBASE_AUTH_URI_ALLOW_LIST"),
        Some("https://*.crm.example.com/**,crmapp://callback")
    );
    assert_eq!(
        get("MADBASE_AUTH_PASSWORD_REQUIRED_CHARACTERS"),
        Some("abcdefghijklmnopqrstuvwxyz:ABCDEFGHIJKLMNOPQRSTUVWXYZ:0123456789")
    );
    assert_eq!(get("MADBASE_SMTP_TLS"), Some("starttls"));
    assert_eq!(get("MADBASE_AUTH_JWT_SIGNING_ALG"), Some("HS256"));
    assert_eq!(
        get("MADBASE_AUTH_EXTERNAL_ANONYMOUS_USERS_ENABLED"),
        Some("true")
    );
    assert_eq!(
        get("MADBASE_AUTH_MAILER_TEMPLATES_DIR"),
        Some(TEMPLATES_DIR)
    );
    assert_eq!(
        get("MADBASE_AUTH_OUTBOUND_CA_FILE"),
        Some("/etc/madbase/outbound-ca/ca.crt")
    );
    assert_eq!(
        env.mounts
            .iter()
            .map(|m| match &m.source {
                MountSource::ConfigMap(name) | MountSource::Secret(name) => (name.as_str(), m.path),
            })
            .collect::<Vec<_>>(),
        [
            ("crm-mail-templates", TEMPLATES_DIR),
            ("corp-ca", OUTBOUND_CA_DIR)
        ]
    );
}

#[test]
fn an_empty_auth_spec_keeps_the_data_planes_defaults() {
    assert_eq!(render(&AuthSpec::default()), AuthEnv::default());
}
