use super::*;
use rstest::rstest;

fn db(code: &str, message: &str) -> DbError {
    DbError {
        code: code.into(),
        message: message.into(),
        details: None,
        hint: None,
    }
}

/// One row per variant: the wire code and status PostgREST uses.
#[rstest]
#[case(RestError::parse("filter (x)", "unexpected"), "PGRST100", 400)]
#[case(RestError::RpcMethod("PUT".into()), "PGRST101", 405)]
#[case(RestError::InvalidBody("Empty or invalid json".into()), "PGRST102", 400)]
#[case(RestError::InvalidRange("x".into()), "PGRST103", 416)]
#[case(RestError::PutFilters, "PGRST105", 405)]
#[case(RestError::SchemaNotExposed { schema: "x".into(), exposed: vec!["public".into()] }, "PGRST106", 406)]
#[case(RestError::NotAcceptable("a/b".into()), "PGRST107", 406)]
#[case(RestError::NotEmbedded("x".into()), "PGRST108", 400)]
#[case(RestError::ResponseHeaders, "PGRST111", 500)]
#[case(RestError::ResponseStatus, "PGRST112", 500)]
#[case(RestError::PutLimit, "PGRST114", 400)]
#[case(RestError::PutMismatch, "PGRST115", 400)]
#[case(RestError::Singular(2), "PGRST116", 406)]
#[case(RestError::Method("TRACE".into()), "PGRST117", 405)]
#[case(RestError::RelatedOrder { origin: "a".into(), target: "b".into() }, "PGRST118", 400)]
#[case(RestError::EmbedFilter("x".into()), "PGRST120", 400)]
#[case(
    RestError::RaiseParse(crate::error::RaiseProblem::NoDetail),
    "PGRST121",
    500
)]
#[case(RestError::InvalidPreferences(vec!["x".into()]), "PGRST122", 400)]
#[case(RestError::AggregatesDisabled, "PGRST123", 400)]
#[case(RestError::MaxAffected(3), "PGRST124", 400)]
#[case(RestError::InvalidPath, "PGRST125", 404)]
#[case(RestError::NotImplemented("x".into()), "PGRST127", 400)]
#[case(RestError::MaxAffectedRpc, "PGRST128", 400)]
#[case(RestError::NoRelationship { parent: "a".into(), child: "b".into(), schema: "public".into(), embed_hint: None, suggestion: None }, "PGRST200", 400)]
#[case(RestError::AmbiguousRelationship { parent: "a".into(), child: "b".into(), candidates: vec![], suggestions: vec![] }, "PGRST201", 300)]
#[case(RestError::FunctionNotFound { qualified: "public.f".into(), args: vec![], suggestion: None, sent_as: ArgSource::Json }, "PGRST202", 404)]
#[case(RestError::AmbiguousFunction(vec![]), "PGRST203", 300)]
#[case(RestError::ColumnNotFound { table: "t".into(), column: "c".into() }, "PGRST204", 400)]
#[case(RestError::TableNotFound { qualified: "public.t".into(), suggestion: None }, "PGRST205", 404)]
#[case(RestError::Jwt(JwtErrorKind::SecretMissing), "PGRST300", 500)]
#[case(RestError::Jwt(JwtErrorKind::Invalid("JWT cryptographic operation failed".into())), "PGRST301", 401)]
#[case(RestError::Jwt(JwtErrorKind::AnonymousDisabled), "PGRST302", 401)]
#[case(RestError::Jwt(JwtErrorKind::Claims("JWT expired".into())), "PGRST303", 401)]
#[case(RestError::Internal("boom".into()), "PGRSTX00", 500)]
fn variant_codes_and_statuses(#[case] e: RestError, #[case] code: &str, #[case] status: u16) {
    assert_eq!(e.code(), code);
    assert_eq!(e.status().as_u16(), status);
    let body = e.body();
    assert_eq!(body["code"], code);
    assert!(body["message"].is_string());
    assert_eq!(
        e.headers()["proxy-status"],
        format!("PostgREST; error={code}")
    );
}

/// SQLSTATE → HTTP (`pgErrorStatus`), one row per class PostgREST distinguishes.
#[rstest]
#[case("08006", "x", false, 503)]
#[case("09000", "x", false, 500)]
#[case("0L000", "x", false, 403)]
#[case("0P000", "x", false, 403)]
#[case("21000", "UPDATE requires a WHERE clause", false, 400)]
#[case("21000", "more than one row", false, 500)]
#[case("22023", "role \"nobody\" does not exist", false, 401)]
#[case("22023", "invalid parameter", false, 400)]
#[case("22P02", "invalid input syntax", false, 400)]
#[case("23502", "null value", false, 400)]
#[case("23503", "fk", false, 409)]
#[case("23505", "unique", false, 409)]
#[case("25006", "read-only", false, 405)]
#[case("25P02", "aborted", false, 500)]
#[case("28000", "auth", false, 403)]
#[case("2D000", "x", false, 500)]
#[case("38000", "x", false, 500)]
#[case("39000", "x", false, 500)]
#[case("3B000", "x", false, 500)]
#[case("40001", "x", false, 500)]
#[case("42501", "permission denied", true, 401)]
#[case("42501", "permission denied", false, 403)]
#[case("42703", "column", false, 400)]
#[case("42883", "function f() does not exist", false, 404)]
#[case("42883", "function xmlagg(integer) does not exist", false, 406)]
#[case("42P01", "relation", false, 404)]
#[case("42P17", "recursion", false, 500)]
#[case("53400", "x", false, 500)]
#[case("53100", "disk full", false, 503)]
#[case("54000", "x", false, 500)]
#[case("55000", "x", false, 500)]
#[case("57014", "canceled", false, 500)]
#[case("57P01", "shutdown", false, 503)]
#[case("58000", "x", false, 500)]
#[case("F0000", "x", false, 500)]
#[case("HV000", "x", false, 500)]
#[case("XX000", "x", false, 500)]
#[case("P0001", "raise", false, 400)]
#[case("P0002", "no data", false, 500)]
#[case("PT402", "pay", false, 402)]
#[case("PTabc", "bad", false, 500)]
// A final response cannot be informational: the error keeps its body under 500.
#[case("PT100", "continue", false, 500)]
#[case("PT199", "x", false, 500)]
#[case("PT999", "odd but valid", false, 999)]
#[case(
    "PGRST000",
    "Database connection error. Retrying the connection.",
    false,
    503
)]
#[case(
    "PGRST001",
    "Database client error. Retrying the connection.",
    false,
    503
)]
#[case(
    "PGRST003",
    "Timed out acquiring connection from connection pool.",
    true,
    504
)]
fn sqlstate_statuses(
    #[case] code: &str,
    #[case] message: &str,
    #[case] anon: bool,
    #[case] status: u16,
) {
    let e = RestError::from_db(db(code, message), anon);
    assert_eq!(e.status().as_u16(), status, "{code} {message}");
    assert_eq!(e.code(), code);
    // Every 503 tells clients they may retry at once, as PostgREST's.
    let retry = e.headers().get("retry-after").cloned();
    assert_eq!(retry.is_some(), status == 503, "{code}");
    if let Some(v) = retry {
        assert_eq!(v, "0");
    }
}

#[test]
fn custom_statuses_carry_their_reason_phrase() {
    let e = RestError::from_db(db("PT402", "Payment Required Now"), false);
    assert_eq!(e.reason(), Some("Payment Required Now"));
    let e = RestError::from_db(db("PTabc", "not a status"), false);
    assert_eq!(e.reason(), None);
    assert_eq!(RestError::from_db(db("P0001", "x"), false).reason(), None);
}

#[test]
fn anon_permission_error_carries_www_authenticate() {
    let e = RestError::from_db(db("42501", "permission denied for table t"), true);
    assert_eq!(e.headers()["www-authenticate"], "Bearer");
    let e = RestError::from_db(db("42501", "permission denied for table t"), false);
    assert!(e.headers().get("www-authenticate").is_none());
}

#[test]
fn raise_pgrst_full_control_and_bad_json() {
    let mut d = db(
        "PGRST",
        r#"{"code":"123","message":"m","details":"d","hint":"h"}"#,
    );
    d.details = Some(r#"{"status":402,"headers":{"X-Powered-By":"Nerds"}}"#.into());
    let e = RestError::from_db(d, false);
    assert_eq!(e.status().as_u16(), 402);
    assert_eq!(e.code(), "123");
    assert_eq!(e.headers()["x-powered-by"], "Nerds");
    let e = RestError::from_db(db("PGRST", "not json"), false);
    assert_eq!(e.code(), "PGRST121");
    assert_eq!(e.status().as_u16(), 500);
}

#[test]
fn messages_match_postgrest() {
    insta::assert_snapshot!(
        RestError::TableNotFound { qualified: "public.x".into(), suggestion: Some("public.xs".into()) }.body().to_string(),
        @r#"{"code":"PGRST205","details":null,"hint":"Perhaps you meant the table 'public.xs'","message":"Could not find the table 'public.x' in the schema cache"}"#
    );
    insta::assert_snapshot!(
        RestError::FunctionNotFound { qualified: "public.f".into(), args: vec!["a".into(), "b".into()], suggestion: None, sent_as: ArgSource::Json }.body().to_string(),
        @r#"{"code":"PGRST202","details":"Searched for the function public.f with parameters a, b or with a single unnamed json/jsonb parameter, but no matches were found in the schema cache.","hint":null,"message":"Could not find the function public.f(a, b) in the schema cache"}"#
    );
    insta::assert_snapshot!(
        RestError::FunctionNotFound { qualified: "public.f".into(), args: vec!["a".into()], suggestion: None, sent_as: ArgSource::Json }.body()["details"].to_string(),
        @r#""Searched for the function public.f with parameter a or with a single unnamed json/jsonb parameter, but no matches were found in the schema cache.""#
    );
    let not_found = |args: Vec<String>, source| RestError::FunctionNotFound {
        qualified: "public.f".into(),
        args,
        suggestion: Some("public.g".into()),
        sent_as: source,
    };
    insta::assert_snapshot!(
        not_found(vec![], ArgSource::Query).body().to_string(),
        @r#"{"code":"PGRST202","details":"Searched for the function public.f without parameters, but no matches were found in the schema cache.","hint":"Perhaps you meant to call the function public.g","message":"Could not find the function public.f without parameters in the schema cache"}"#
    );
    insta::assert_snapshot!(
        not_found(vec!["a".into()], ArgSource::Form).body()["details"].to_string(),
        @r#""Searched for the function public.f with parameter a, but no matches were found in the schema cache.""#
    );
    for (source, kind) in [
        (ArgSource::Text, "text"),
        (ArgSource::Xml, "xml"),
        (ArgSource::Bytea, "bytea"),
    ] {
        let body = not_found(vec![], source).body();
        assert_eq!(
            body["message"],
            "Could not find the function public.f in the schema cache"
        );
        assert_eq!(
            body["details"],
            format!(
                "Searched for the function public.f with a single unnamed {kind} parameter, but no matches were found in the schema cache."
            )
        );
        assert_eq!(body["hint"], serde_json::Value::Null);
    }
    insta::assert_snapshot!(
        RestError::Jwt(JwtErrorKind::Claims("JWT expired".into())).headers()["www-authenticate"].to_str().unwrap_or_default(),
        @r#"Bearer error="invalid_token", error_description="JWT expired""#
    );
}

#[test]
fn raise_pgrst_is_read_as_postgrest_reads_it() {
    let raise = |message: &str, detail: Option<&str>| {
        RestError::from_db(
            DbError {
                code: "PGRST".into(),
                message: message.into(),
                details: detail.map(str::to_string),
                hint: None,
            },
            false,
        )
    };
    // The body is exactly code, message, details and hint, absent ones null.
    let e = raise(
        r#"{"code":"1","message":"m","extra":true}"#,
        Some(r#"{"status":420,"headers":{"X-A":"b"}}"#),
    );
    assert_eq!(e.status().as_u16(), 420);
    assert_eq!(
        crate::response::RestResponse::from_error(&e, Default::default()).body,
        serde_json::to_string(&json!({"code": "1", "message": "m", "details": null, "hint": null}))
            .unwrap_or_default()
    );
    assert_eq!(e.headers()["x-a"], "b");
    for (message, detail, details, hint) in [
        (
            "not json",
            Some(r#"{"status":418,"headers":{}}"#),
            "Invalid JSON value for MESSAGE: 'not json'",
            "MESSAGE",
        ),
        (
            r#"{"code":"1","message":"m"}"#,
            None,
            "DETAIL is missing in the RAISE statement",
            "DETAIL",
        ),
        (
            r#"{"code":"1","message":"m"}"#,
            Some("nope"),
            "Invalid JSON value for DETAIL: 'nope'",
            "DETAIL",
        ),
        (
            r#"{"code":"1","message":"m"}"#,
            Some(r#"{"status":418}"#),
            r#"Invalid JSON value for DETAIL: '{"status":418}'"#,
            "DETAIL",
        ),
        (
            r#"{"message":"m"}"#,
            Some(r#"{"status":418,"headers":{}}"#),
            r#"Invalid JSON value for MESSAGE: '{"message":"m"}'"#,
            "MESSAGE",
        ),
    ] {
        let e = raise(message, detail);
        assert_eq!((e.code().as_str(), e.status().as_u16()), ("PGRST121", 500));
        let body = e.body();
        assert_eq!(
            body["message"],
            "Could not parse JSON in the \"RAISE SQLSTATE 'PGRST'\" error"
        );
        assert_eq!(body["details"], details);
        assert!(
            body["hint"].as_str().is_some_and(|h| h.starts_with(hint)),
            "{body}"
        );
    }
}
