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
    let r = api.anon("POST", "/rpc/sleep_a_second", "").await;
    assert_eq!((r.status, r.json()), (200, json!(1)), "{}", r.body);
}

/// Functions whose own `SET` clause names settings that must hold for the whole call.
const HOISTING: &str = r#"
CREATE SCHEMA hoist;
GRANT USAGE ON SCHEMA hoist TO anon;
CREATE FUNCTION hoist.slow() RETURNS int LANGUAGE sql VOLATILE
  SET statement_timeout = '200ms' AS $$ SELECT 1 FROM pg_sleep(1) $$;
CREATE FUNCTION hoist.isolation() RETURNS text LANGUAGE sql STABLE
  SET default_transaction_isolation = 'repeatable read'
  AS $$ SELECT current_setting('transaction_isolation') $$;
CREATE FUNCTION hoist.plain_isolation() RETURNS text LANGUAGE sql STABLE
  AS $$ SELECT current_setting('transaction_isolation') $$;
CREATE FUNCTION hoist.search_path() RETURNS text LANGUAGE sql STABLE
  AS $$ SELECT current_setting('search_path') $$;
CREATE FUNCTION hoist.setting(name text) RETURNS text LANGUAGE sql STABLE
  AS $$ SELECT current_setting(name, true) $$;
"#;

async fn hoisting_api(hoisted: &[&str]) -> Api {
    hoist_schema_api(madbase_rest::RestSettings {
        schemas: vec!["hoist".into()],
        hoisted_tx_settings: hoisted.iter().map(|s| s.to_string()).collect(),
        ..data_plane::settings()
    })
    .await
}

async fn hoist_schema_api(settings: madbase_rest::RestSettings) -> Api {
    static DONE: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    data_plane::with_schema(&DONE, HOISTING, settings).await
}

/// `app.settings.*`: set in every transaction, readable by any function, as PostgREST (and
/// Supabase's self-hosted stack, which puts `jwt_secret` and `jwt_exp` there).
#[tokio::test]
async fn app_settings_reach_every_transaction() {
    let api = hoist_schema_api(madbase_rest::RestSettings {
        schemas: vec!["hoist".into()],
        app_settings: vec![
            ("app.settings.jwt_exp".into(), "3600".into()),
            ("app.settings.tenant".into(), "o'brien; drop".into()),
        ],
        ..data_plane::settings()
    })
    .await;
    for (name, want) in [
        ("app.settings.jwt_exp", json!("3600")),
        ("app.settings.tenant", json!("o'brien; drop")),
        ("app.settings.other", json!(null)),
    ] {
        for method in ["GET", "POST"] {
            let (url, body) = match method {
                "GET" => (format!("/rpc/setting?name={name}"), String::new()),
                _ => ("/rpc/setting".to_owned(), json!({"name": name}).to_string()),
            };
            let r = api.anon(method, &url, &body).await;
            assert_eq!(r.json(), want, "{method} {name}: {}", r.body);
        }
    }
    // Without any, nothing is set.
    let plain = hoisting_api(&[]).await;
    let r = plain.get("/rpc/setting?name=app.settings.jwt_exp").await;
    assert_eq!(r.json(), json!(null));
}

/// `db-extra-search-path`: schemas after the request's own on its `search_path`.
#[tokio::test]
async fn the_extra_search_path_follows_the_request_schema() {
    for (extra, want) in [
        (vec![], r#""hoist""#),
        (
            vec!["public", "extensions"],
            r#""hoist", "public", "extensions""#,
        ),
        (vec!["hoist", "api"], r#""hoist", "api""#),
    ] {
        let api = hoist_schema_api(madbase_rest::RestSettings {
            schemas: vec!["hoist".into()],
            extra_search_path: extra.iter().map(|s| s.to_string()).collect(),
            ..data_plane::settings()
        })
        .await;
        let r = api.get("/rpc/search_path").await;
        assert_eq!(r.json(), json!(want), "{extra:?}: {}", r.body);
    }
}

#[tokio::test]
async fn a_functions_own_settings_hold_for_the_whole_call() {
    let api = hoisting_api(&["statement_timeout", "default_transaction_isolation"]).await;
    let anon = |method: &'static str, url: &'static str| {
        let api = &api;
        async move {
            api.req(method, url, &[], "", "anon", json!({"role": "anon"}))
                .await
        }
    };
    // Set inside the function only, the timeout would come too late for the call's own
    // statement; applied to the transaction first, it cancels the one-second sleep.
    let r = anon("POST", "/rpc/slow").await;
    assert_eq!(r.status, 500, "{}", r.body);
    assert_eq!(r.json()["code"], "57014", "{}", r.body);
    // The function's isolation level is the transaction's, by GET and POST; others keep
    // read committed.
    for method in ["GET", "POST"] {
        let r = anon(method, "/rpc/isolation").await;
        assert_eq!(r.json(), json!("repeatable read"), "{method}: {}", r.body);
        let r = anon(method, "/rpc/plain_isolation").await;
        assert_eq!(r.json(), json!("read committed"), "{method}: {}", r.body);
    }

    // Settings left out of the list stay inside the function.
    let api = hoisting_api(&[]).await;
    let r = api.anon("POST", "/rpc/slow", "").await;
    assert_eq!((r.status, r.json()), (200, json!(1)), "{}", r.body);
}
