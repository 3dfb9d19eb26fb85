//! Resource embedding: every relationship shape, hints, joins, spreads, aggregates.

mod data_plane;
mod postgres;

use data_plane::*;
use madbase_rest::RestSettings;
use serde_json::{Value, json};

#[tokio::test]
async fn embeds_many_to_one_one_to_many_and_nested() {
    let api = Api::new().await;
    let r = api
        .get("/projects?select=name,owner:users(name),tasks(id,title)&id=eq.1&tasks.order=id.desc")
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json(),
        json!([{"name": "Engine", "owner": {"name": "Ada"}, "tasks": [{"id": 2, "title": "Build"}, {"id": 1, "title": "Design"}]}])
    );
    let r = api
        .get("/users?select=name,projects(name,tasks(title))&id=eq.2")
        .await;
    assert_eq!(
        r.json(),
        json!([{"name": "Bob", "projects": [{"name": "Mill", "tasks": [{"title": "Grind \"fine\""}]}]}])
    );
}

#[tokio::test]
async fn embeds_many_to_many_one_to_one_self_and_composite() {
    let api = Api::new().await;
    let r = api
        .get("/users?select=name,teams(name)&id=eq.2&teams.order=id")
        .await;
    assert_eq!(
        r.json(),
        json!([{"name": "Bob", "teams": [{"name": "Core"}, {"name": "Docs"}]}])
    );
    let r = api.get("/users?select=name,profiles(bio)&id=eq.1").await;
    assert_eq!(
        r.json(),
        json!([{"name": "Ada", "profiles": {"bio": "Mathematician"}}])
    );
    // A table referencing itself, as PostgREST: the FK column names the parent, the table
    // (with the FK column as hint) the children.
    let r = api
        .get("/users?select=name,manager:manager_id(name)&id=eq.2")
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json(),
        json!([{"name": "Bob", "manager": {"name": "Ada"}}])
    );
    let r = api
        .get("/users?select=name,reports:users!manager_id(name)&id=eq.1&reports.order=id")
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json(),
        json!([{"name": "Ada", "reports": [{"name": "Bob"}, {"name": "Cy"}]}])
    );
    let r = api.get("/cities?select=name,regions(name)&id=eq.1").await;
    assert_eq!(
        r.json(),
        json!([{"name": "Paris", "regions": {"name": "Ile-de-France"}}])
    );
}

#[tokio::test]
async fn embeds_through_views() {
    let api = Api::new().await;
    let r = api
        .get("/project_summaries?select=title,users(name)&id=eq.3")
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json(),
        json!([{"title": "Mill", "users": {"name": "Bob"}}])
    );
    let r = api
        .get("/users?select=name,visible_secrets(id)&id=eq.1")
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json(),
        json!([{"name": "Ada", "visible_secrets": [{"id": 1}]}])
    );
    // A view over a view reaches the table's relationships, both ways.
    let r = api
        .get("/project_titles?select=heading,users(name)&heading=eq.Mill")
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json(),
        json!([{"heading": "Mill", "users": {"name": "Bob"}}])
    );
    let r = api
        .get("/users?select=name,project_titles(heading)&id=eq.2")
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json(),
        json!([{"name": "Bob", "project_titles": [{"heading": "Mill"}]}])
    );
    // A foreign key column shown twice by a view: a relationship through each, as PostgREST
    // (so the bare name is ambiguous and the column hint chooses).
    let r = api
        .get("/task_pairs?select=id,projects!other_project_id(name)&id=eq.3")
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json(), json!([{"id": 3, "projects": {"name": "Loom"}}]));
    let r = api.get("/task_pairs?select=id,projects(name)").await;
    assert_eq!(r.status, 300, "{}", r.body);
    // A junction kept private is used through its view in the API's schema, never directly.
    let r = api
        .get("/tasks?select=id,labels(name)&id=in.(1,3)&order=id&labels.order=id")
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json(),
        json!([
            {"id": 1, "labels": [{"name": "urgent"}, {"name": "later"}]},
            {"id": 3, "labels": [{"name": "later"}]}
        ])
    );
    let r = api.get("/labels?select=name,tasks!inner(id)&id=eq.2").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = api.get("/labels?select=name,users(name)").await;
    r.expect_error(400, "PGRST200");
    // Related only through a private junction: PostgREST knows `site` has relationships into
    // the schema, none it shows, so it suggests nothing (not the close name `sites`).
    let r = api.get("/site?select=crew(id)").await;
    r.expect_error(400, "PGRST200");
    assert_eq!(r.json()["hint"], Value::Null, "{}", r.body);
    // Partitions are not the API's relations; their parent is.
    let r = api.get("/readings?select=id,value").await;
    assert_eq!(r.json(), json!([{"id": 1, "value": 7}]), "{}", r.body);
    let r = api.get("/readings_2024").await;
    r.expect_error(404, "PGRST205");
    // A table without columns is one too.
    let r = api.get("/bare").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json(), json!([{}]));
}

#[tokio::test]
async fn ambiguous_and_missing_relationships() {
    let api = Api::new().await;
    // Ambiguous many-to-many: each candidate named by its junction's keys, as PostgREST.
    let r = api.get("/sites?select=crews(id)").await;
    assert_eq!(r.status, 300, "{}", r.body);
    let details = r.json()["details"].clone();
    let texts: Vec<&str> = details
        .as_array()
        .expect("candidates")
        .iter()
        .filter_map(|c| c["relationship"].as_str())
        .collect();
    assert_eq!(
        texts,
        [
            "site_crews using site_crews_site_fk(site_id) and site_crews_crew_fk(crew_id)",
            "site_visits using site_visits_site_fk(site) and site_visits_crew_fk(crew)"
        ],
        "{details}"
    );
    // A missing relationship is reported before a missing column beside it, as PostgREST.
    let r = api.get("/users?select=nope,readings(id)").await;
    r.expect_error(400, "PGRST200");
    let r = api.get("/shipments?select=id,addresses(city)").await;
    assert_eq!(r.status, 300);
    let b = r.json();
    assert_eq!(b["code"], "PGRST201");
    assert_eq!(b["details"].as_array().expect("details").len(), 2);
    assert!(
        b["hint"]
            .as_str()
            .expect("hint")
            .contains("'addresses!billing'")
    );
    let r = api.get("/shipments?select=id,billing:addresses!billing(city),shipping:addresses!shipping_id(city)").await;
    assert_eq!(
        r.json(),
        json!([{"id": 1, "billing": {"city": "London"}, "shipping": {"city": "Paris"}}])
    );
    let r = api.get("/shipments?select=id,teams(name)").await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["code"], "PGRST200");
    assert_eq!(
        r.json()["message"],
        "Could not find a relationship between 'shipments' and 'teams' in the schema cache"
    );
}

#[tokio::test]
async fn inner_joins_null_filters_and_embed_filters() {
    let api = Api::new().await;
    let r = api
        .get("/projects?select=id,tasks!inner(id)&tasks.status=eq.open&order=id")
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(ids(&r.json()), vec![1, 2]);
    let r = api
        .get("/projects?select=id,tasks(id)&tasks.status=eq.open&order=id")
        .await;
    assert_eq!(r.json()[2]["tasks"], json!([]));
    let r = api
        .get("/users?select=id,projects()&projects=is.null")
        .await;
    assert_eq!(r.json(), json!([{"id": 3}]));
    let r = api
        .get("/users?select=id,projects()&projects=not.is.null&order=id")
        .await;
    assert_eq!(ids(&r.json()), vec![1, 2]);
    let r = api.get("/users?select=id,projects(id)&projects=eq.1").await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["code"], "PGRST120");
    let r = api.get("/users?select=id&projects.id=eq.1").await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["code"], "PGRST108");
    let r = api
        .get("/projects?select=id,tasks(id)&tasks.limit=1&tasks.order=id.desc&id=eq.1")
        .await;
    assert_eq!(r.json(), json!([{"id": 1, "tasks": [{"id": 2}]}]));
    let r = api
        .get("/projects?select=id,tasks(id)&tasks.or=(id.eq.1,id.eq.3)&order=id")
        .await;
    assert_eq!(r.json()[0]["tasks"], json!([{"id": 1}]));
    // An embed of nothing but empty embeds is empty too: it filters, it is not shown.
    let r = api.get("/users?select=id,projects(tasks())&order=id").await;
    assert_eq!(
        r.json(),
        json!([{"id": 1}, {"id": 2}, {"id": 3}]),
        "{}",
        r.body
    );
    let r = api
        .get("/users?select=id,projects!inner(tasks!inner())&projects.tasks.status=eq.closed&order=id")
        .await;
    assert_eq!(r.json(), json!([{"id": 1}, {"id": 2}]), "{}", r.body);
    let r = api
        .get("/users?select=id,projects(id,tasks())&id=eq.2")
        .await;
    assert_eq!(
        r.json(),
        json!([{"id": 2, "projects": [{"id": 3}]}]),
        "{}",
        r.body
    );
}

#[tokio::test]
async fn spread_and_related_order() {
    let api = Api::new().await;
    let r = api
        .get("/projects?select=name,...users(owner_name:name)&id=eq.3")
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json(), json!([{"name": "Mill", "owner_name": "Bob"}]));
    let r = api
        .get("/users?select=name,...projects(project_names:name)&id=eq.1")
        .await;
    assert_eq!(
        r.json(),
        json!([{"name": "Ada", "project_names": ["Engine", "Loom"]}])
    );
    let r = api
        .get("/projects?select=id,users(name)&order=users(name).desc,id")
        .await;
    assert_eq!(ids(&r.json()), vec![3, 1, 2]);
    let r = api
        .get("/users?select=id,projects(name)&order=projects(name)")
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["code"], "PGRST118");
}

#[tokio::test]
async fn aggregates_group_by_other_columns() {
    let api = Api::new().await;
    let r = api
        .get("/projects?select=owner_id,budget.sum(),count()&order=owner_id")
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json(),
        json!([{"owner_id": 1, "sum": 150.5, "count": 2}, {"owner_id": 2, "sum": null, "count": 1}])
    );
    let r = api.get("/tasks?select=total:id.max()::text").await;
    assert_eq!(r.json(), json!([{"total": "4"}]));
    // Aggregates in a to-one spread are computed by the parent, over every row, as
    // PostgREST's hoisting (not once per row inside the spread).
    let r = api
        .get("/tasks?select=...projects(total:budget.sum())")
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json(), json!([{"total": 251.0}]));
    let r = api
        .get("/tasks?select=status,...projects(total:budget.sum(),n:count())&order=status")
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json(),
        json!([{"status": "open", "total": 150.5, "n": 2}, {"status": "closed", "total": 100.5, "n": 2}])
    );
    // Through two to-one spreads, and grouping by a spread's plain value.
    let r = api
        .get("/tasks?select=...projects(...users(top:id.max()))")
        .await;
    assert_eq!(r.json(), json!([{"top": 2}]), "{}", r.body);
    let r = api
        .get("/tasks?select=...projects(owner_id,n:count()::text)")
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let mut rows = r.json().as_array().cloned().expect("rows");
    rows.sort_by_key(|v| v["owner_id"].as_i64());
    assert_eq!(
        rows,
        vec![
            json!({"owner_id": 1, "n": "3"}),
            json!({"owner_id": 2, "n": "1"})
        ]
    );
    // Ordered by a spread's output, an alias too, grouped or not.
    let r = api
        .get("/tasks?select=id,...projects(pname:name)&order=projects(pname).desc,id")
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(ids(&r.json()), vec![4, 3, 1, 2]);
    let r = api
        .get("/tasks?select=n:id.count(),...projects(owner_id)&order=projects(owner_id).desc")
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json(),
        json!([{"n": 1, "owner_id": 2}, {"n": 3, "owner_id": 1}])
    );
    // An embedded object inside a hoisting spread is grouped by as jsonb.
    let r = api
        .get("/tasks?select=...projects(users(name),total:budget.sum())")
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let mut rows = r.json().as_array().cloned().expect("rows");
    rows.sort_by_key(|v| v["users"]["name"].as_str().map(str::to_string));
    assert_eq!(
        rows,
        vec![
            json!({"users": {"name": "Ada"}, "total": 251.0}),
            json!({"users": {"name": "Bob"}, "total": null})
        ]
    );
    // With an exact count, the groups are counted.
    let r = api
        .get_h(
            "/tasks?select=status,...projects(total:budget.sum())",
            &[("prefer", "count=exact")],
        )
        .await;
    assert_eq!(r.header("content-range"), Some("0-1/2"), "{}", r.body);
    let off = Api::with(RestSettings {
        aggregates_enabled: false,
        ..settings()
    })
    .await;
    let r = off.get("/tasks?select=count()").await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["code"], "PGRST123");
    // PostgREST's older count, a bare `count` (PostgreSQL's `row.count`, i.e. `count(row)`),
    // works with aggregates off: in an embed (supabase-js's `select('*, projects(count)')`)
    // and on the top level, aliased and cast.
    for api in [&api, &off] {
        let r = api
            .get("/users?select=id,projects(count),p:projects(n:count::text)&order=id")
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(
            r.json(),
            json!([
                {"id": 1, "projects": [{"count": 2}], "p": [{"n": "2"}]},
                {"id": 2, "projects": [{"count": 1}], "p": [{"n": "1"}]},
                {"id": 3, "projects": [{"count": 0}], "p": [{"n": "0"}]}
            ])
        );
        let r = api.get("/projects?select=count&owner_id=eq.1").await;
        assert_eq!(r.json(), json!([{"count": 2}]), "{}", r.body);
    }
}

#[tokio::test]
async fn logic_trees_across_embeds() {
    let api = Api::new().await;
    // Projects with an open task titled like D*, or with an owner named Bob (PostgREST's
    // "or across embedded resources": filtered empty embeds, tested for presence).
    let url = "/projects?select=id,t:tasks(),o:users()&t.status=eq.open&t.title=like.D*&o.name=eq.Bob&or=(t.not.is.null,o.not.is.null)&order=id";
    let r = api.get_h(url, &[("prefer", "count=exact")]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json(), json!([{"id": 1}, {"id": 3}]));
    assert_eq!(r.header("content-range"), Some("0-1/2"));
    for count in ["planned", "estimated"] {
        let r = api
            .get_h(url, &[("prefer", &format!("count={count}"))])
            .await;
        assert_eq!(r.status / 100, 2, "{count}: {}", r.body);
        assert_eq!(ids(&r.json()), vec![1, 3], "{count}");
    }
    // The planned total is the planner's estimate of PostgREST's count, which tests embeds
    // with EXISTS (not.is.null, !inner) and NOT EXISTS (is.null) rather than joining them.
    let admin = postgres::admin().await;
    for (url, count) in [
        (
            "/projects?select=id,t:tasks(),o:users()&t.title=like.D*&o.name=eq.Bob&or=(t.not.is.null,o.not.is.null)",
            "SELECT 1 FROM public.projects p WHERE (EXISTS (SELECT 1 FROM public.tasks t WHERE t.title LIKE 'D%' AND t.project_id = p.id) OR EXISTS (SELECT 1 FROM public.users o WHERE o.name = 'Bob' AND o.id = p.owner_id))",
        ),
        (
            "/users?select=id,projects!inner(id)&projects.budget=gt.60",
            "SELECT 1 FROM public.users u WHERE EXISTS (SELECT 1 FROM public.projects p WHERE p.budget > 60 AND p.owner_id = u.id)",
        ),
        (
            "/users?select=id,projects()&projects=is.null",
            "SELECT 1 FROM public.users u WHERE NOT EXISTS (SELECT 1 FROM public.projects p WHERE p.owner_id = u.id)",
        ),
    ] {
        let plan: Value = admin
            .query_one(&format!("EXPLAIN (FORMAT JSON) {count}"), &[])
            .await
            .expect("explain")
            .get(0);
        let rows = plan[0]["Plan"]["Plan Rows"].as_i64().expect("rows");
        let r = api.get_h(url, &[("prefer", "count=planned")]).await;
        assert_eq!(r.status / 100, 2, "{url}: {}", r.body);
        let total = r.header("content-range").and_then(|v| v.split_once('/'));
        assert_eq!(total.map(|t| t.1), Some(rows.to_string().as_str()), "{url}");
    }
    // Nested and negated trees reach embeds too.
    let r = api
        .get("/users?select=id,projects(),profiles()&and=(projects.not.is.null,not.or(profiles.not.is.null,id.eq.3))")
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(ids(&r.json()), vec![2]);
    // A tree scoped to an embed filters the embed's rows, and may test the embed's own embeds.
    let r = api
        .get("/users?select=id,projects(id,tasks())&projects.or=(tasks.is.null,budget.gt.60)&projects.order=id&id=in.(1,2)&order=id")
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json(),
        json!([{"id": 1, "projects": [{"id": 1}]}, {"id": 2, "projects": []}])
    );
    // By relation name, an aliased embed is still found for filters, orders and limits.
    let r = api
        .get("/projects?select=id,t:tasks(id)&tasks.or=(id.eq.1,id.eq.2)&tasks.order=id.desc&id=eq.1")
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json(), json!([{"id": 1, "t": [{"id": 2}, {"id": 1}]}]));
}

#[tokio::test]
async fn logic_tree_errors_on_embeds() {
    let api = Api::new().await;
    // A tree scoped to an embed that is not selected.
    let r = api.get("/projects?select=id&tasks.or=(id.eq.1)").await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(
        r.json(),
        json!({
            "code": "PGRST108",
            "message": "'tasks' is not an embedded resource in this request",
            "details": null,
            "hint": "Verify that 'tasks' is included in the 'select' query parameter."
        })
    );
    let r = api
        .get("/projects?select=id,tasks(id)&tasks.users.and=(id.eq.1)")
        .await;
    assert_eq!(r.json()["code"], "PGRST108");
    assert_eq!(
        r.json()["message"],
        "'users' is not an embedded resource in this request"
    );
    // Inside a tree, an embed that is not selected is just an unknown column.
    let r = api
        .get("/projects?select=id&or=(tasks.is.null,id.eq.1)")
        .await;
    r.expect_error(400, "42703");
    assert_eq!(r.json()["message"], "column projects.tasks does not exist");
    // A column of an embed inside a tree is a parse error, as in PostgREST.
    let r = api
        .get("/projects?select=id,tasks(id)&or=(tasks.id.eq.1,id.eq.1)")
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(
        r.json(),
        json!({
            "code": "PGRST100",
            "message": "\"failed to parse logic tree ((tasks.id.eq.1,id.eq.1))\" (line 1, column 10)",
            "details": "unexpected \"i\" expecting \"not\" or operator (eq, gt, ...)",
            "hint": null
        })
    );
    // An operator other than is.null on an embed without a same-named column.
    let r = api
        .get("/projects?select=id,tasks(id)&or=(tasks.eq.1,id.eq.1)")
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(
        r.json(),
        json!({
            "code": "PGRST120",
            "message": "Bad operator on the 'tasks' embedded resource",
            "details": "Only is null or not is null filters are allowed on embedded resources",
            "hint": null
        })
    );
    // Writes filter rows before any embed exists.
    let r = api
        .send(
            "DELETE",
            "/projects?select=id,tasks()&or=(tasks.is.null,id.eq.99)",
            &[],
            "",
        )
        .await;
    r.expect_error(400, "PGRST120");
}

#[tokio::test]
async fn an_embed_named_after_its_column_leaves_other_operators_to_the_column() {
    let api = Api::new().await;
    let r = api
        .get("/projects?select=id,owner_id(name)&owner_id=eq.2")
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json(), json!([{"id": 3, "owner_id": {"name": "Bob"}}]));
    let r = api
        .get("/projects?select=id,owner_id(name)&or=(owner_id.eq.2,id.eq.2)&order=id")
        .await;
    assert_eq!(ids(&r.json()), vec![2, 3]);
}

const VIEWED: &str = "
CREATE TABLE public.emb_authors (id int PRIMARY KEY, name text, parent_id int REFERENCES public.emb_authors (id));
CREATE VIEW public.emb_author_view AS SELECT id, name, parent_id FROM public.emb_authors;
CREATE TABLE public.emb_books (id int PRIMARY KEY, title text, author_id int REFERENCES public.emb_authors (id));
INSERT INTO public.emb_authors VALUES (1, 'Alice', NULL), (2, 'Bea', 1), (3, 'Cal', 1);
INSERT INTO public.emb_books VALUES (1, 'The Cat', 1);
GRANT SELECT ON public.emb_authors, public.emb_author_view, public.emb_books TO anon;
";

const VIEW_CHAINS: &str = "
CREATE TABLE public.emb_writers (id int PRIMARY KEY, name text);
CREATE TABLE public.emb_poems (id int PRIMARY KEY, title text, writer_id int REFERENCES public.emb_writers (id));
INSERT INTO public.emb_writers VALUES (1, 'Basho');
INSERT INTO public.emb_poems VALUES (1, 'Old Pond', 1);
CREATE SCHEMA emb_hidden;
CREATE VIEW emb_hidden.writer_names AS SELECT id, name FROM public.emb_writers;
CREATE VIEW public.emb_hidden_writers AS SELECT id, name FROM emb_hidden.writer_names;
CREATE SCHEMA IF NOT EXISTS extensions;
CREATE VIEW extensions.emb_writer_names AS SELECT id, name FROM public.emb_writers;
CREATE VIEW public.emb_extension_writers AS SELECT id, name FROM extensions.emb_writer_names;
GRANT SELECT ON public.emb_poems, public.emb_hidden_writers, public.emb_extension_writers TO anon;
";

/// A view's keys pass through the views under it only while each is in an exposed schema or
/// the extra search path, as PostgREST reads them: a view over a view in another schema has no
/// relationship to embed.
#[tokio::test]
async fn views_over_views_reach_keys_only_through_exposed_schemas_and_the_search_path() {
    static DONE: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    let api = with_schema(&DONE, VIEW_CHAINS, settings()).await;
    let r = api
        .get("/emb_poems?select=title,emb_extension_writers(name)")
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json(),
        json!([{"title": "Old Pond", "emb_extension_writers": {"name": "Basho"}}])
    );
    let r = api
        .get("/emb_poems?select=title,emb_hidden_writers(name)")
        .await;
    r.expect_error(400, "PGRST200");
}

async fn viewed_api() -> Api {
    static DONE: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    with_schema(&DONE, VIEWED, settings()).await
}

#[tokio::test]
async fn a_view_over_the_target_leaves_column_and_constraint_names_unambiguous() {
    let api = viewed_api().await;
    // A view over the target relates too, but FK columns and constraints name tables only.
    for (select, key) in [
        ("title,author_id(name)", "author_id"),
        (
            "title,emb_books_author_id_fkey(name)",
            "emb_books_author_id_fkey",
        ),
    ] {
        let r = api
            .get(&format!("/emb_books?select={select}&id=eq.1"))
            .await;
        assert_eq!(r.status, 200, "{select}: {}", r.body);
        assert_eq!(
            r.json(),
            json!([{"title": "The Cat", key: {"name": "Alice"}}])
        );
    }
    // A table referencing itself, with a view over it: the FK column is the parent, the
    // table's name the children.
    let r = api
        .get("/emb_authors?select=id,parent_id(name),kids:emb_authors(id)&id=eq.1&kids.order=id")
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json(),
        json!([{"id": 1, "parent_id": null, "kids": [{"id": 2}, {"id": 3}]}])
    );
    let r = api
        .get("/emb_authors?select=id,parent_id(name)&id=eq.2")
        .await;
    assert_eq!(r.json(), json!([{"id": 2, "parent_id": {"name": "Alice"}}]));
    // PGRST200 names the hint that failed, or the name that comes close.
    let r = api
        .get("/emb_books?select=title,emb_authors!nofk(name)")
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["code"], "PGRST200");
    assert_eq!(
        r.json()["details"],
        "Searched for a foreign key relationship between 'emb_books' and 'emb_authors' using the hint 'nofk' in the schema 'public', but no matches were found."
    );
    assert_eq!(r.json()["hint"], Value::Null);
    let r = api.get("/emb_books?select=title,emb_author(name)").await;
    assert_eq!(
        r.json()["hint"],
        "Perhaps you meant 'emb_authors' instead of 'emb_author'."
    );
    // PostgREST's fuzzy match: "prj" shares the trigram -pr with "projects", 5 edits away of 8
    // (a score of 0.375, over 0.33).
    let r = api.get("/tasks?select=id,prj(*)").await;
    assert_eq!(
        r.json()["hint"],
        "Perhaps you meant 'projects' instead of 'prj'."
    );
}

#[tokio::test]
async fn spreads_can_be_required_or_tested_for_null() {
    let api = viewed_api().await;
    let get = |url: &'static str| api.get(url);
    // A to-many spread: !inner keeps parents with rows, is.null those without.
    let r = get("/emb_authors?select=name,...emb_books!inner(title)&order=id").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json(), json!([{"name": "Alice", "title": ["The Cat"]}]));
    let r = get("/emb_authors?select=name,...emb_books(title)&emb_books=is.null&order=id").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json(),
        json!([{"name": "Bea", "title": []}, {"name": "Cal", "title": []}])
    );
    let r = get("/emb_authors?select=name,...emb_books(title)&emb_books=not.is.null").await;
    assert_eq!(r.json(), json!([{"name": "Alice", "title": ["The Cat"]}]));
    // A to-one spread.
    let r = get("/emb_books?select=title,...emb_authors(name)&emb_authors=not.is.null").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json(), json!([{"title": "The Cat", "name": "Alice"}]));
    let r = get("/emb_books?select=title,...emb_authors(name)&emb_authors=is.null").await;
    assert_eq!(r.json(), json!([]));
}

#[tokio::test]
async fn aggregates_in_a_to_many_spread_are_not_implemented_as_in_postgrest() {
    let api = viewed_api().await;
    let r = api
        .get("/emb_authors?select=name,...emb_books(id.sum())")
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(
        r.json(),
        json!({
            "code": "PGRST127",
            "message": "Feature not implemented",
            "details": "Aggregates are not implemented for one-to-many or many-to-many spreads.",
            "hint": null,
        })
    );
}
