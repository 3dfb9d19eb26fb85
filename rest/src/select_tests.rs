use super::*;
use crate::cursor::{JsonKey, JsonStep};

fn field(name: &str) -> Field {
    Field {
        name: name.into(),
        json_path: vec![],
    }
}

#[test]
fn columns_aliases_casts_and_star() {
    let items = parse_select("*, id, label:title, n:id::text, \"quoted, name\"").expect("parses");
    assert_eq!(items[0], SelectItem::Star);
    assert_eq!(
        items[2],
        SelectItem::Field {
            alias: Some("label".into()),
            field: field("title"),
            cast: None,
            aggregate: None
        }
    );
    assert_eq!(
        items[3],
        SelectItem::Field {
            alias: Some("n".into()),
            field: field("id"),
            cast: Some("text".into()),
            aggregate: None
        }
    );
    assert!(matches!(&items[4], SelectItem::Field { field, .. } if field.name == "quoted, name"));
}

#[test]
fn json_paths_with_indexes_and_dashed_names() {
    let items = parse_select("data->phones->0->>number,my-col").expect("parses");
    let SelectItem::Field { field, .. } = &items[0] else {
        panic!("field")
    };
    assert_eq!(
        field.json_path,
        vec![
            JsonStep::Arrow(JsonKey::Key("phones".into())),
            JsonStep::Arrow(JsonKey::Index(0)),
            JsonStep::DoubleArrow(JsonKey::Key("number".into())),
        ]
    );
    assert_eq!(field.output_name(), "number");
    assert!(matches!(&items[1], SelectItem::Field { field, .. } if field.name == "my-col"));
    let items = parse_select("arr->-1").expect("negative index");
    assert!(
        matches!(&items[0], SelectItem::Field { field, .. } if field.json_path == vec![JsonStep::Arrow(JsonKey::Index(-1))])
    );
    // A path ending in an index is named by its last key, else by the column (PostgREST's).
    for (select, name) in [
        ("data->a->b->0", "b"),
        ("data->>0", "data"),
        ("data->c->0->d->>4", "d"),
        ("tags->-1->x->2", "x"),
    ] {
        let items = parse_select(select).expect(select);
        let SelectItem::Field { field, .. } = &items[0] else {
            panic!("field")
        };
        assert_eq!(field.output_name(), name, "{select}");
    }
    // Only a negative index starts with a dash.
    for bad in ["data->>--34", "data->>-78xy", "data->-", "data->>-x"] {
        assert!(parse_select(bad).is_err(), "{bad}");
    }
    assert!(parse_select("data->-1->a").is_ok());
    // Keys may hold punctuation PostgREST does not reserve, and lose surrounding spaces.
    let items = parse_select("data->!@#$%^&*_d->>!@#$%^&*_e::integer, b").expect("punctuation");
    let SelectItem::Field { field, cast, .. } = &items[0] else {
        panic!("field")
    };
    assert_eq!(
        field.json_path,
        vec![
            JsonStep::Arrow(JsonKey::Key("!@#$%^&*_d".into())),
            JsonStep::DoubleArrow(JsonKey::Key("!@#$%^&*_e".into())),
        ]
    );
    assert_eq!(cast.as_deref(), Some("integer"));
    assert!(matches!(&items[1], SelectItem::Field { field, .. } if field.name == "b"));
    // A reserved character where a key starts: an index or a key was expected.
    let e = parse_select("data->(!@#_d").expect_err("reserved");
    assert_eq!(
        e.body()["details"],
        "unexpected \"(\" expecting \"-\", digit or any non reserved character different from: .,>()"
    );
    assert_eq!(
        e.body()["message"],
        "\"failed to parse select parameter (data->(!@#_d)\" (line 1, column 7)"
    );
}

#[test]
fn embeds_hints_joins_spreads_and_nesting() {
    let items = parse_select(
        "id,owner:users!owner_id!inner(name),tasks(id,tags(*)),...teams!left(team:name),x()",
    )
    .expect("parses");
    let SelectItem::Embed(owner) = &items[1] else {
        panic!("embed")
    };
    assert_eq!(owner.alias.as_deref(), Some("owner"));
    assert_eq!(owner.name, "users");
    assert_eq!(owner.hint.as_deref(), Some("owner_id"));
    assert_eq!(owner.join, Some(JoinType::Inner));
    let SelectItem::Embed(tasks) = &items[2] else {
        panic!("embed")
    };
    assert!(matches!(&tasks.items[1], SelectItem::Embed(e) if e.items == vec![SelectItem::Star]));
    let SelectItem::Embed(teams) = &items[3] else {
        panic!("embed")
    };
    assert!(teams.spread);
    assert_eq!(teams.join, Some(JoinType::Left));
    let SelectItem::Embed(empty) = &items[4] else {
        panic!("embed")
    };
    assert!(empty.items.is_empty());
    let items = parse_select("users!inner!fk(id)").expect("join type first");
    assert!(matches!(&items[0], SelectItem::Embed(e) if e.hint.as_deref() == Some("fk")));
}

#[test]
fn aggregates() {
    let items =
        parse_select("count(),total:amount.sum()::int,amount.avg(),id.count()").expect("parses");
    assert_eq!(
        items[0],
        SelectItem::Count {
            alias: None,
            cast: None
        }
    );
    assert!(
        matches!(&items[1], SelectItem::Field { aggregate: Some((Aggregate::Sum, Some(c))), alias: Some(a), .. } if c == "int" && a == "total")
    );
    assert!(matches!(
        &items[2],
        SelectItem::Field {
            aggregate: Some((Aggregate::Avg, None)),
            ..
        }
    ));
    assert!(matches!(
        &items[3],
        SelectItem::Field {
            aggregate: Some((Aggregate::Count, None)),
            ..
        }
    ));
}

#[test]
fn rejects_malformed_and_injection_attempts() {
    for bad in [
        "id,(name",
        "id;drop table x",
        "id::int);drop table x;--",
        "id::",
        "users(id",
        "a.nope()",
        "a->",
        "\"unterminated",
        "id)",
        "rel!a!b!c(id)",
        "x:y:z",
        "id::text'--",
    ] {
        let e = parse_select(bad).expect_err(bad);
        assert_eq!(e.code(), "PGRST100", "{bad}");
        assert_eq!(e.status().as_u16(), 400);
    }
}

#[test]
fn quoted_names_keep_hostile_text_as_data() {
    let items = parse_select(r#""a\"; drop table t; --""#).expect("parses");
    assert!(
        matches!(&items[0], SelectItem::Field { field, .. } if field.name == "a\"; drop table t; --")
    );
}

#[test]
fn nesting_is_bounded_instead_of_overflowing_the_stack() {
    let nested = |levels: usize| format!("{}id{}", "r(".repeat(levels), ")".repeat(levels));
    let deepest = nested(crate::cursor::MAX_NESTING);
    assert!(parse_select(&deepest).is_ok());
    for levels in [crate::cursor::MAX_NESTING + 1, 100_000] {
        let e = parse_select(&nested(levels)).expect_err("too deep");
        assert_eq!(e.code(), "PGRST100");
        assert_eq!(e.status().as_u16(), 400);
        assert!(
            e.details().to_string().contains("levels of nesting"),
            "{}",
            e.details()
        );
    }
    let spreads = format!("{}id{}", "...r(".repeat(100_000), ")".repeat(100_000));
    assert_eq!(
        parse_select(&spreads).expect_err("too deep").code(),
        "PGRST100"
    );
}
