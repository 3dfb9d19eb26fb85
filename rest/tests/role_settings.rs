//! Impersonated role settings: what `ALTER ROLE … SET` gives a role applies to each request
//! running as it (statement timeout, isolation level), settings a plain user may not change are
//! left out, and roles without settings keep the defaults.

mod data_plane;
mod postgres;

use data_plane::Api;
use serde_json::json;

#[tokio::test]
async fn a_roles_settings_apply_to_its_requests() {
    let api = Api::new().await;
    let as_user = |url: &'static str, method: &'static str| {
        let api = &api;
        async move {
            api.req(
                method,
                url,
                &[],
                "",
                "settings_user",
                json!({"role": "settings_user"}),
            )
            .await
        }
    };
    let r = as_user("/rpc/session_settings", "GET").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json(),
        json!({"statement_timeout": "300ms", "isolation": "serializable", "read_only": "on"})
    );
    let r = as_user("/rpc/session_settings", "POST").await;
    assert_eq!(r.json()["isolation"], "serializable", "{}", r.body);
    assert_eq!(
        r.json()["read_only"],
        "on",
        "a stable function runs read-only"
    );

    // The timeout is the role's, not the server's: a one-second sleep is cancelled.
    let r = as_user("/rpc/sleep_a_second", "POST").await;
    assert_eq!(r.json()["code"], "57014", "{}", r.body);

    // Other roles keep the defaults.
    let r = api.get("/rpc/session_settings").await;
    assert_eq!(
        r.json(),
        json!({"statement_timeout": "0", "isolation": "read committed", "read_only": "on"})
    );
    let r = api
        .req(
            "POST",
            "/rpc/sleep_a_second",
            &[],
            "",
            "anon",
            json!({"role": "anon"}),
        )
        .await;
    assert_eq!((r.status, r.json()), (200, json!(1)), "{}", r.body);
}
