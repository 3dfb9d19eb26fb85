use super::*;
use crate::relationships::{self, ForeignKey};
use crate::schema_cache::{Column, ComputedField, TableKind};
use std::collections::{BTreeMap, HashMap};

fn table(name: &str, cols: &[(&str, &str)], pk: &[&str]) -> Table {
    Table {
        schema: "public".into(),
        name: name.into(),
        kind: TableKind::Table,
        columns: cols
            .iter()
            .map(|(n, t)| Column {
                name: n.to_string(),
                data_type: t.to_string(),
                type_name: t.to_string(),
                nullable: true,
                default: None,
                max_len: None,
                enum_values: vec![],
                description: None,
                repr: None,
            })
            .collect(),
        pk: pk.iter().map(|s| s.to_string()).collect(),
        uniques: vec![pk.iter().map(|s| s.to_string()).collect()],
        insertable: true,
        updatable: true,
        deletable: true,
        description: None,
    }
}

fn q(name: &str) -> QualifiedName {
    ("public".into(), name.into())
}

fn fk(name: &str, from: &str, cols: &[&str], to: &str, to_cols: &[&str]) -> ForeignKey {
    ForeignKey {
        name: name.into(),
        table: q(from),
        columns: cols.iter().map(|s| s.to_string()).collect(),
        foreign_table: q(to),
        foreign_columns: to_cols.iter().map(|s| s.to_string()).collect(),
    }
}

/// users ← projects (owner_id) ← tasks; users ↔ teams via members; users self-ref manager.
pub fn sample_cache() -> SchemaCache {
    let mut tables = BTreeMap::new();
    for t in [
        table(
            "users",
            &[
                ("id", "int4"),
                ("name", "text"),
                ("manager_id", "int4"),
                ("data", "jsonb"),
            ],
            &["id"],
        ),
        table(
            "projects",
            &[("id", "int4"), ("name", "text"), ("owner_id", "int4")],
            &["id"],
        ),
        table(
            "tasks",
            &[
                ("id", "int4"),
                ("project_id", "int4"),
                ("title", "text"),
                ("tsv", "tsvector"),
            ],
            &["id"],
        ),
        table("teams", &[("id", "int4"), ("name", "text")], &["id"]),
        table(
            "members",
            &[("user_id", "int4"), ("team_id", "int4")],
            &["user_id", "team_id"],
        ),
    ] {
        tables.insert(q(&t.name), t);
    }
    let fks = vec![
        fk(
            "projects_owner_id_fkey",
            "projects",
            &["owner_id"],
            "users",
            &["id"],
        ),
        fk(
            "tasks_project_id_fkey",
            "tasks",
            &["project_id"],
            "projects",
            &["id"],
        ),
        fk(
            "members_user_id_fkey",
            "members",
            &["user_id"],
            "users",
            &["id"],
        ),
        fk(
            "members_team_id_fkey",
            "members",
            &["team_id"],
            "teams",
            &["id"],
        ),
        fk(
            "users_manager_id_fkey",
            "users",
            &["manager_id"],
            "users",
            &["id"],
        ),
    ];
    let uniques: HashMap<QualifiedName, Vec<Vec<String>>> = tables
        .iter()
        .map(|(k, t)| (k.clone(), t.uniques.clone()))
        .collect();
    let mut relationships = relationships::derive(&tables, &fks, &uniques, &HashMap::new());
    relationships::add_computed(
        &mut relationships,
        &tables,
        &[relationships::ComputedRelationship {
            function: q("latest_task"),
            table: q("projects"),
            target: q("tasks"),
            to_one: true,
        }],
    );
    let computed_fields = HashMap::from([(
        q("users"),
        vec![ComputedField {
            schema: "public".into(),
            name: "display".into(),
            type_name: "text".into(),
        }],
    )]);
    SchemaCache {
        schemas: vec!["public".into()],
        tables,
        relationships,
        hidden_relationships: Default::default(),
        functions: BTreeMap::new(),
        computed_fields,
        role_settings: HashMap::new(),
        switchable_roles: None,
        postgis: None,
        media_handlers: HashMap::new(),
        schema_descriptions: HashMap::new(),
        timezones: Default::default(),
    }
}

pub fn plan(cache: &SchemaCache, name: &str, query: &str) -> Result<ReadNode, RestError> {
    let params = QueryParams::parse(Some(query), &|_| false)?;
    let t = cache.table("public", name).expect("table");
    let mut p = Planner::new(cache, &params, true).with_search_path(vec!["public".into()]);
    p.plan_root(
        q(name),
        Ident::qualified("public", name),
        Some(col_infos(t)),
    )
}

#[test]
fn derives_every_relationship_kind() {
    let c = sample_cache();
    let kinds: Vec<(&str, &str)> = c
        .relationships_from("public", "users")
        .iter()
        .map(|r| (r.target.1.as_str(), r.cardinality_label()))
        .collect();
    assert!(kinds.contains(&("projects", "one-to-many")));
    assert!(kinds.contains(&("teams", "many-to-many")));
    assert!(kinds.contains(&("users", "many-to-one")));
    assert!(kinds.contains(&("users", "one-to-many")));
    assert!(kinds.contains(&("members", "one-to-many")));
}

#[test]
fn resolves_embeds_and_validates_names() {
    let c = sample_cache();
    let node = plan(&c, "projects", "select=id,owner:users(name),tasks(title)").expect("plans");
    assert_eq!(node.embeds.len(), 2);
    assert!(node.embeds[0].rel.is_to_one());
    assert!(!node.embeds[1].rel.is_to_one());
    let e = plan(&c, "projects", "select=nope").expect_err("unknown column");
    assert_eq!(e.code(), "42703");
    let e = plan(&c, "projects", "select=id&nope=eq.1").expect_err("unknown filter column");
    assert_eq!(e.code(), "42703");
    let e = plan(&c, "projects", "order=nope").expect_err("unknown order column");
    assert_eq!(e.code(), "42703");
    let e = plan(&c, "projects", "select=id,teams(id)").expect_err("no relationship");
    assert_eq!(e.code(), "PGRST200");
    // A table referencing itself, as PostgREST: the table's name embeds the children, the FK
    // column the parent; a hint is the children's FK column.
    let children = plan(&c, "users", "select=id,users(id)").expect("o2m");
    assert!(!children.embeds[0].rel.is_to_one());
    let children = plan(&c, "users", "select=id,reports:users!manager_id(id)").expect("o2m");
    assert!(!children.embeds[0].rel.is_to_one());
    let parent = plan(&c, "users", "select=id,manager_id(id)").expect("m2o");
    assert!(parent.embeds[0].rel.is_to_one());
    let e = plan(&c, "users", "select=id,users!id(id)").expect_err("not a children's FK column");
    assert_eq!(e.code(), "PGRST200");
    assert!(
        plan(&c, "projects", "select=id,owner_id(name)")
            .expect("fk column as target")
            .embeds[0]
            .rel
            .is_to_one()
    );
}

#[test]
fn embed_scoped_parameters_need_the_embed() {
    let c = sample_cache();
    let e = plan(&c, "projects", "select=id&tasks.title=eq.x").expect_err("not embedded");
    assert_eq!(e.code(), "PGRST108");
    // An aliased embed still answers to its relation name, as PostgREST's default
    // `url-use-legacy-target-names` allows.
    let node = plan(&c, "projects", "select=id,t:tasks(id)&tasks.order=id").expect("legacy name");
    assert_eq!(node.embeds[0].node.order.len(), 1);
    // The first unknown segment is the one named.
    let e = plan(
        &c,
        "projects",
        "select=id,tasks(id)&tasks.nope.or=(id.eq.1)",
    )
    .expect_err("nested");
    assert_eq!(e.code(), "PGRST108");
    assert_eq!(
        e.message(),
        "'nope' is not an embedded resource in this request"
    );
    let e = plan(&c, "projects", "select=id&order=users(name)").expect_err("related order");
    assert_eq!(
        e.message(),
        "'users' is not an embedded resource in this request"
    );
    let node = plan(
        &c,
        "projects",
        "select=id,t:tasks(id)&t.order=id.desc&t.limit=1&t.title=eq.x",
    )
    .expect("ok");
    let child = &node.embeds[0].node;
    assert_eq!(child.order.len(), 1);
    assert_eq!(child.range.limit, Some(1));
    assert_eq!(child.conds.len(), 1);
    let e = plan(&c, "projects", "select=id,tasks(id)&tasks=eq.1").expect_err("embed op");
    assert_eq!(e.code(), "PGRST120");
    assert_eq!(e.message(), "Bad operator on the 'tasks' embedded resource");
    // An embed named after a column leaves other operators to the column.
    let node = plan(&c, "projects", "select=id,owner_id(name)&owner_id=eq.1").expect("column");
    assert!(matches!(&node.conds[0], Cond::Filter { .. }));
    let node = plan(&c, "projects", "select=id,owner_id(name)&owner_id=is.null").expect("embed");
    assert!(matches!(
        &node.conds[0],
        Cond::EmbedNull { is_null: true, .. }
    ));
    let e =
        plan(&c, "users", "select=id,projects(id)&order=projects(id)").expect_err("to-many order");
    assert_eq!(e.code(), "PGRST118");
}

#[test]
fn aggregates_can_be_disabled() {
    let c = sample_cache();
    let params = QueryParams::parse(Some("select=count()"), &|_| false).expect("parses");
    let t = c.table("public", "users").expect("table");
    let mut p = Planner::new(&c, &params, false);
    let e = p
        .plan_root(
            q("users"),
            Ident::qualified("public", "users"),
            Some(col_infos(t)),
        )
        .expect_err("disabled");
    assert_eq!(e.code(), "PGRST123");
}

#[test]
fn computed_fields_resolve_after_columns_and_only_on_the_search_path() {
    let c = sample_cache();
    let node = plan(&c, "users", "select=id,display&display=eq.x&order=display").expect("plans");
    assert!(matches!(
        &node.select[1],
        Out::Col { computed: Some(f), .. } if f == &q("display")
    ));
    assert!(matches!(
        &node.conds[0],
        Cond::Filter {
            computed: Some(_),
            ..
        }
    ));
    assert!(node.order[0].computed.is_some());
    // Not part of `*`.
    let node = plan(&c, "users", "select=*").expect("plans");
    assert!(!node.output_names().contains(&"display".to_string()));
    // Off the search path it is an unknown column.
    let params = QueryParams::parse(Some("select=display"), &|_| false).expect("parses");
    let t = c.table("public", "users").expect("table");
    let e = Planner::new(&c, &params, true)
        .with_search_path(vec!["api".into()])
        .plan_root(
            q("users"),
            Ident::qualified("public", "users"),
            Some(col_infos(t)),
        )
        .expect_err("not visible");
    assert_eq!(e.code(), "42703");
}

#[test]
fn computed_relationships_are_named_by_their_function() {
    let c = sample_cache();
    let node = plan(&c, "projects", "select=id,latest_task(title)").expect("plans");
    assert!(node.embeds[0].rel.is_to_one());
    assert_eq!(node.embeds[0].rel.target, q("tasks"));
    // The foreign-key embed to tasks is still there under the table's name.
    let node = plan(&c, "projects", "select=id,tasks(title)").expect("plans");
    assert!(!node.embeds[0].rel.is_to_one());
    // A hint does not matter to a computed relationship.
    assert!(plan(&c, "projects", "select=id,latest_task!whatever(title)").is_ok());
}

#[test]
fn logic_trees_test_embeds_for_null_at_any_depth() {
    let c = sample_cache();
    let node = plan(
        &c,
        "users",
        "select=id,p:projects(),teams()&or=(p.not.is.null,and(teams.is.null,not.or(id.eq.1,p.is.null)))",
    )
    .expect("plans");
    let Cond::Tree { children, .. } = &node.conds[0] else {
        panic!("tree")
    };
    assert!(matches!(
        &children[0],
        Cond::EmbedNull {
            embed: 0,
            is_null: false
        }
    ));
    assert_eq!(node.conds[0].embed_null(), Some(0));
    // Scoped to an embed, a tree applies to the embed's rows and may test its own embeds.
    let node = plan(
        &c,
        "users",
        "select=id,projects(id,tasks())&projects.or=(tasks.is.null,name.eq.x)",
    )
    .expect("plans");
    let child = &node.embeds[0].node;
    assert_eq!(child.conds.len(), 1);
    assert_eq!(child.conds[0].embed_null(), Some(0));
    // With an alias, the null check needs the alias: the table name is a column then.
    let e = plan(
        &c,
        "users",
        "select=id,p:projects()&or=(projects.is.null,id.eq.1)",
    )
    .expect_err("not a column");
    assert_eq!(e.code(), "42703");
}

/// PostgreSQL's column hints, as PostgreSQL 15 gives them on a table `z` of these columns.
#[rstest::rstest]
#[case(&["abcd", "abce", "xy"], "yy", Some("column \"z.xy\"."))]
// Two at the smallest distance are both named.
#[case(&["abcd", "abce", "xy"], "abc", Some("column \"z.abcd\" or the column \"z.abce\"."))]
// Three at the smallest distance: none.
#[case(&["ab", "ac", "ad"], "ae", None)]
// A closer one after three at a greater distance is named.
#[case(&["ab", "ac", "ad", "aex"], "aexy", Some("column \"z.aex\"."))]
// More than half the name's length.
#[case(&["abcd"], "ab", None)]
#[case(&["xy"], "yx", None)]
// More than 3, however long the name.
#[case(&["abcd"], "abcdefgh", None)]
#[case(&["abcd"], "abcdefg", Some("column \"z.abcd\"."))]
fn column_hints_as_postgres(
    #[case] columns: &[&str],
    #[case] name: &str,
    #[case] want: Option<&str>,
) {
    assert_eq!(
        column_hint("z", name, columns.iter().copied()),
        want.map(|w| format!("Perhaps you meant to reference the {w}"))
    );
}
