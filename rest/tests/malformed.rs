//! Mutated requests: thousands of near-valid URLs and bodies, made from a corpus by inserting,
//! replacing and deleting the characters and tokens the grammar gives meaning to. Each must be
//! answered with a status below 500 and, when it is an error, PostgREST's error body; none
//! may panic. The generator is seeded, so a failure names a request that reproduces.

mod data_plane;
mod postgres;

use data_plane::*;
use serde_json::Value;

/// Valid requests the mutations start from.
const URLS: &[&str] = &[
    "/tasks?select=id,title&status=eq.open&order=id.desc&limit=2",
    "/tasks?select=id&or=(id.eq.1,and(title.like.*a*,id.gt.2))",
    "/tasks?select=id,project:projects(id,name)&project_id=not.is.null",
    "/tasks?select=meta->owner->>name&id=eq.1",
    "/tasks?select=id&summary->>title=eq.Build",
    "/tasks?select=total:id.max()::text",
    "/tasks?select=id&order=due.asc.nullsfirst&offset=1",
    "/tasks?id=in.(1,2,3)&title=not.ilike.*x*",
    "/tasks?select=id&title=match.^B&id=gte.1&id=lte.9",
    "/projects?select=id,tasks!inner(id)&tasks.id=eq.1",
    "/projects?select=id,...users(name)&order=id",
    "/users?select=name,profiles(bio)&id=eq.1",
    "/users?select=id,projects(id,tasks(id))&projects.order=id.desc&projects.limit=1",
    "/shipments?select=id,billing:addresses!billing(city),shipping:addresses!shipping_id(city)",
    "/articles?select=id&body=fts(english).fox",
    "/articles?select=id&body=wfts.brown%20fox&id=isdistinct.3",
    "/rpc/add?a=4&b=5",
    "/rpc/numbers?n=5&limit=2&offset=1&order=pgrst_scalar.desc&pgrst_scalar=gt.1",
    "/rpc/total?nums=4&nums=5",
    "/rpc/project_rows?pname=eq.Mill&select=pid",
    "/tasks?select=id&tags=cs.{a,b}&tags=ov.{\"x,y\",z}",
    "/tasks?select=id,title&id=eq.1&columns=id",
];

/// Valid writes the mutations start from: method, URL, body. They run with
/// `Prefer: tx=rollback`, so the fixture is left as it was.
const WRITES: &[(&str, &str, &str)] = &[
    (
        "POST",
        "/tasks?columns=title,project_id&select=id",
        r#"[{"title":"x","project_id":1},{"title":"y","project_id":2}]"#,
    ),
    (
        "POST",
        "/tasks?on_conflict=id",
        r#"{"id":1,"title":"again","project_id":1,"tags":["a"],"meta":{"k":[1,2]}}"#,
    ),
    (
        "PATCH",
        "/tasks?id=eq.1&select=id,title",
        r#"{"title":"renamed","due":"2024-02-01"}"#,
    ),
    ("DELETE", "/tasks?id=in.(998,999)&order=id&limit=1", ""),
    ("PUT", "/projects?id=eq.1", r#"{"id":1,"name":"Engine"}"#),
    ("POST", "/rpc/add", r#"{"a":1,"b":2}"#),
    ("POST", "/rpc/total", r#"{"nums":[1,2,3]}"#),
];

/// Header values the mutations start from, each under its name.
const HEADERS: &[(&str, &str)] = &[
    (
        "prefer",
        "count=exact, return=representation, handling=strict",
    ),
    ("range", "0-1"),
    ("range-unit", "items"),
    ("accept", "application/vnd.pgrst.object+json;nulls=stripped"),
    ("accept", "text/csv, application/json;q=0.5"),
    (
        "accept",
        "application/vnd.pgrst.plan+json; for=\"application/json\"; options=analyze|verbose",
    ),
    ("accept-profile", "api"),
];

/// Characters and tokens the grammar gives meaning to.
const PIECES: &[&str] = &[
    "(",
    ")",
    ",",
    ".",
    ":",
    "::",
    "!",
    "*",
    "'",
    "\"",
    "\\",
    "-",
    "->",
    "->>",
    "<",
    ">",
    "=",
    "&",
    "?",
    "%",
    "%2",
    "%FF",
    "%00",
    "+",
    "[",
    "]",
    "{",
    "}",
    ";",
    "0",
    "-1",
    "99999999999999999999",
    "a",
    "_",
    " ",
    "~",
    "^",
    "$",
    "#",
    "eq.",
    "not.",
    "or=(",
    "and=(",
    "select=",
    "order=",
    "limit=",
    "offset=",
    "!inner",
    "!left",
    "...",
    "count()",
    "sum()",
    ".asc",
    ".desc",
    ".nullsfirst",
    "in.(",
    "is.",
    "null",
    "true",
    "fts(",
    "any",
    "all",
    "{",
    "\u{e9}",
    "\u{1F600}",
    "'; DROP TABLE tasks; --",
    "\"\"",
    "()",
    "(,)",
    ",,",
    "..",
    "::::",
];

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// One to three edits of `text` at character boundaries.
fn edit(rng: &mut Rng, text: &str) -> String {
    let mut s: Vec<char> = text.chars().collect();
    for _ in 0..1 + rng.below(3) {
        let at = rng.below(s.len() + 1);
        let piece: Vec<char> = PIECES[rng.below(PIECES.len())].chars().collect();
        match rng.below(3) {
            0 => {
                s.splice(at..at, piece);
            }
            1 if at < s.len() => {
                let end = (at + 1 + rng.below(4)).min(s.len());
                s.splice(at..end, piece);
            }
            _ if at < s.len() => {
                let end = (at + 1 + rng.below(6)).min(s.len());
                s.drain(at..end);
            }
            _ => s.extend(piece),
        }
    }
    s.into_iter().collect()
}

/// An edited URL, still a path.
fn mutate(rng: &mut Rng, url: &str) -> String {
    let mut out = edit(rng, url);
    if !out.starts_with('/') {
        out.insert(0, '/');
    }
    out
}

/// The seed and number of rounds: `MALFORMED_SEED` and `MALFORMED_ROUNDS` explore further.
fn plan() -> (Rng, usize) {
    let seed = std::env::var("MALFORMED_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5EED_0F4A_DBA5_u64);
    let rounds = std::env::var("MALFORMED_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3000);
    (Rng(seed), rounds)
}

fn check(url: &str, r: &Resp) {
    assert!(r.status < 500, "{url} answered {}: {}", r.status, r.body);
    if r.status >= 400 {
        let v: Value = serde_json::from_str(&r.body)
            .unwrap_or_else(|_| panic!("{url} answered {} without JSON: {}", r.status, r.body));
        for key in ["code", "message", "details", "hint"] {
            assert!(v.get(key).is_some(), "{url}: no {key} in {}", r.body);
        }
    }
}

#[test]
#[should_panic(expected = "answered 500")]
fn the_check_fails_on_a_server_error() {
    let r = Resp {
        status: 500,
        headers: http::HeaderMap::new(),
        body: r#"{"code":"XX000","message":"boom","details":null,"hint":null}"#.into(),
        raw: Default::default(),
        query: None,
    };
    check("/tasks", &r);
}

#[test]
#[should_panic(expected = "without JSON")]
fn the_check_fails_on_an_error_without_postgrest_body() {
    let r = Resp {
        status: 400,
        headers: http::HeaderMap::new(),
        body: "bad request".into(),
        raw: Default::default(),
        query: None,
    };
    check("/tasks", &r);
}

#[tokio::test]
async fn mutated_reads_are_answered_below_500() {
    let api = Api::new().await;
    let (mut rng, rounds) = plan();
    for round in 0..rounds {
        let url = mutate(&mut rng, URLS[round % URLS.len()]);
        let r = api.send("GET", &url, &[], "").await;
        check(&url, &r);
    }
}

#[tokio::test]
async fn mutated_writes_are_answered_below_500_and_leave_nothing() {
    let api = Api::new().await;
    let before = api.send("GET", "/tasks?order=id", &[], "").await.body;
    let (mut rng, rounds) = plan();
    for round in 0..rounds {
        let (method, url, body) = WRITES[round % WRITES.len()];
        let (url, body) = if rng.below(2) == 0 {
            (mutate(&mut rng, url), body.to_string())
        } else {
            (url.to_string(), edit(&mut rng, body))
        };
        let headers = [
            ("prefer", "tx=rollback, return=representation"),
            ("content-type", "application/json"),
        ];
        let r = api.send(method, &url, &headers, &body).await;
        check(&format!("{method} {url} {body}"), &r);
    }
    let after = api.send("GET", "/tasks?order=id", &[], "").await.body;
    assert_eq!(before, after, "a rolled-back write left rows behind");
}

#[tokio::test]
async fn mutated_headers_are_answered_below_500() {
    let api = Api::new().await;
    let (mut rng, rounds) = plan();
    for round in 0..rounds {
        let (name, value) = HEADERS[round % HEADERS.len()];
        let value = edit(&mut rng, value);
        if http::HeaderValue::from_str(&value).is_err() {
            continue; // not a header a client can send
        }
        let url = URLS[rng.below(URLS.len())];
        let r = api.send("GET", url, &[(name, &value)], "").await;
        check(&format!("{url} {name}: {value}"), &r);
    }
}

/// Embeds and logic trees nest as deep as the parser allows and no deeper: the deepest
/// accepted request is planned, rendered and run (every step recurses over the tree), and one
/// level more is PGRST100, where unbounded nesting once overflowed the stack and took the
/// process down.
#[tokio::test]
async fn the_deepest_nesting_allowed_runs_and_one_more_is_refused() {
    let api = Api::new().await;
    let max = madbase_rest::MAX_NESTING;
    // A user's manager's manager's …: many-to-one all the way, so the answer stays one row.
    let embeds = |levels: usize| {
        let mut select = "id".to_owned();
        for _ in 0..levels {
            select = format!("id,manager:manager_id({select})");
        }
        format!("/users?select={select}&id=eq.2")
    };
    // Each aliased level can be addressed by two names; planning once enumerated every
    // combination of them, doubling its time with each level.
    let ok = tokio::time::timeout(std::time::Duration::from_secs(60), api.get(&embeds(max)))
        .await
        .expect("planning time grows with the depth, not exponentially");
    assert_eq!(ok.status, 200, "{}", ok.body);
    let mut depth = 0;
    let mut manager = &ok.json()[0];
    while let Some(next) = manager.get("manager").filter(|m| m.is_object()) {
        depth += 1;
        manager = next;
    }
    assert_eq!(depth, 1, "Bob's manager is Ada, who has none: {}", ok.body);
    let too_deep = api.get(&embeds(max + 1)).await;
    assert_eq!(too_deep.status, 400, "{}", too_deep.body);
    assert_eq!(too_deep.json()["code"], "PGRST100");

    let tree = |levels: usize| {
        format!(
            "/tasks?select=id&or=({}id.eq.1{})",
            "and(".repeat(levels),
            ")".repeat(levels)
        )
    };
    let ok = api.get(&tree(max)).await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(ok.json()[0]["id"], 1);
    let too_deep = api.get(&tree(max + 1)).await;
    assert_eq!(too_deep.status, 400, "{}", too_deep.body);
    assert_eq!(too_deep.json()["code"], "PGRST100");
}
