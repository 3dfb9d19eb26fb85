//! Read lanes (`madbase_rest::Lanes`) and the batches under them (`PgConn::batch`): reads of
//! many requests share a connection, each still in its own transaction with its own role,
//! claims and errors; slow reads and writes stay off the lanes; a lane that cannot connect
//! hands its reads back.

mod data_plane;
mod postgres;

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use data_plane::Api;
use futures_util::future::join_all;
use madbase_rest::wire::Step;
use madbase_rest::{
    ConnFuture, Connection, LaneLimits, LaneStats, Lanes, Outcome, PgConn, Transaction,
};
use serde_json::{Value, json};
use tokio::sync::Mutex;

fn config() -> madbase_pgconn::DbUrl {
    madbase_pgconn::DbUrl::parse(&postgres::url()).expect("url")
}

/// Reads go to the lanes when they take them, everything else to a connection of its own: the
/// data plane's routing.
struct Routed<'a> {
    lanes: &'a Lanes,
    own: Mutex<PgConn>,
}

impl Connection for Routed<'_> {
    fn run(&self, tx: Transaction) -> ConnFuture<'_, Outcome> {
        Box::pin(async move {
            match self.lanes.run(tx).await {
                Ok(result) => result,
                Err(tx) => {
                    let mut own = self.own.lock().await;
                    // A request dropped mid-read leaves its connection unusable; the data
                    // plane's pool then hands out another, and so does this stand-in.
                    if !own.is_usable() {
                        *own = PgConn::connect(&config()).await.expect("reconnect");
                    }
                    self.lanes.run_alone(&mut own, &tx).await
                }
            }
        })
    }

    fn finish(&self, commit: bool) -> ConnFuture<'_, ()> {
        Box::pin(async move { self.own.lock().await.finish(commit).await })
    }
}

/// Lanes with `limits` on the test server.
fn lanes(count: usize, limits: LaneLimits) -> Lanes {
    Lanes::with_limits(count, config(), Arc::new(AtomicU64::new(0)), limits)
}

/// Requests served through `lanes`, falling back to a connection of their own.
async fn api(lanes: &Lanes) -> Api<Routed<'_>> {
    let own = Mutex::new(PgConn::connect(&config()).await.expect("connect"));
    Api::on(Routed { lanes, own }).await
}

/// A request as `claims["role"]`; the body as JSON when it is JSON.
async fn call(api: &Api<Routed<'_>>, method: &str, url: &str, claims: Value) -> (u16, Value) {
    let role = claims["role"].as_str().expect("role").to_owned();
    let r = api.req(method, url, &[], "", &role, claims).await;
    let body = serde_json::from_str(&r.body).unwrap_or(Value::String(r.body));
    (r.status, body)
}

#[tokio::test]
async fn a_batch_answers_each_group_in_its_own_transaction() {
    let mut conn = PgConn::connect(&config()).await.expect("connect");
    let role = [Some("anon".to_string())];
    let set_role = Step {
        text: "SELECT set_config('role', $1, true) AS r",
        params: &role,
    };
    let who = Step::plain("SELECT current_user::text AS who");
    let huge: Vec<Option<String>> = vec![Some("1".into()); 70_000];
    let groups: [&[Step]; 5] = [
        &[set_role, Step::plain("SELECT current_user::text AS who")],
        // The role set by the group before ended with its transaction.
        &[Step::plain("SELECT current_user::text AS who")],
        &[Step::plain("SELECT 1 / 0 AS boom")],
        &[Step {
            text: "SELECT $1::text AS too_many",
            params: &huge,
        }],
        // Prepared in the first group of this batch too: each group prepares its own.
        &[who],
    ];
    let mut answers = Vec::new();
    conn.batch(&groups, |i, result| answers.push((i, result)))
        .await;
    let order: Vec<usize> = answers.iter().map(|(i, _)| *i).collect();
    assert_eq!(
        order,
        [3, 0, 1, 2, 4],
        "refused before sending, then in order"
    );
    let text = |i: usize| {
        let (_, r) = answers.iter().find(|(j, _)| *j == i).expect("answered");
        r.as_ref()
            .map(|steps| steps.last().expect("step")[0].text(0).map(str::to_owned))
            .map_err(|e| e.code.clone())
    };
    assert_eq!(text(0), Ok(Some("anon".into())));
    assert_eq!(text(1), Ok(Some("authenticator".into())));
    assert_eq!(text(2), Err("22012".into()), "division by zero, alone");
    assert_eq!(text(3), Err("54000".into()), "too many parameters, alone");
    assert_eq!(text(4), Ok(Some("authenticator".into())));
    assert!(conn.is_usable());

    // The statement prepared twice is kept once; the next pipeline closes the other.
    let rows = conn
        .pipeline(&[Step::plain(
            "SELECT count(*)::text FROM pg_prepared_statements",
        )])
        .await
        .expect("count");
    assert_eq!(conn.prepared_count(), 4);
    assert_eq!(
        rows[0][0].text(0),
        Some("4"),
        "set_role, who, boom and the count itself: who's two duplicates were closed"
    );
}

#[tokio::test]
async fn concurrent_reads_share_lanes_and_each_sees_its_own_role_and_claims() {
    let lanes = lanes(2, LaneLimits::default());
    let api = api(&lanes).await;
    let claims = |i: usize| match i % 3 {
        0 => json!({"role": "anon"}),
        1 => json!({"role": "authenticated", "sub": "u1", "n": i}),
        _ => json!({"role": "authenticated", "sub": "u2", "n": i}),
    };
    let whoami = (0..30).map(|i| call(&api, "GET", "/rpc/whoami", claims(i)));
    let todos = (0..30).map(|i| call(&api, "GET", "/todos?select=title&order=id", claims(i)));
    let (whoami, todos) = tokio::join!(join_all(whoami), join_all(todos));
    for (i, (status, body)) in whoami.into_iter().enumerate() {
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["claims"], claims(i), "request {i}");
        assert_eq!(body["role"], claims(i)["role"], "request {i}");
    }
    for (i, (status, body)) in todos.into_iter().enumerate() {
        assert_eq!(status, 200, "{body}");
        let expected = match i % 3 {
            0 => json!([{"title": "public one"}]),
            1 => json!([{"title": "public one"}, {"title": "private one"}]),
            _ => json!([{"title": "other"}]),
        };
        assert_eq!(body, expected, "row level security of request {i}");
    }
    let LaneStats {
        batches,
        reads,
        queued,
        ..
    } = lanes.stats();
    assert_eq!(reads, 60, "every read went through a lane");
    assert!(batches < 10, "{batches} batches for 60 reads");
    assert_eq!(queued, 0, "every read answered has left its lane");
}

#[tokio::test]
async fn a_failing_read_leaves_the_others_of_its_batch_alone() {
    let lanes = lanes(1, LaneLimits::default());
    let api = api(&lanes).await;
    let anon = || json!({"role": "anon"});
    let (good, bad, after) = tokio::join!(
        call(&api, "GET", "/items?id=eq.1&select=id", anon()),
        call(&api, "GET", "/items?id=eq.not-a-number", anon()),
        call(&api, "GET", "/rpc/add?a=1&b=2", anon()),
    );
    assert_eq!(good.0, 200, "{}", good.1);
    assert_eq!(bad.0, 400, "{}", bad.1);
    assert_eq!(bad.1["code"], "22P02");
    assert_eq!(after, (200, json!(3)));
    assert_eq!(lanes.stats().reads, 3);
    assert_eq!(lanes.stats().batches, 1, "all three in one batch");
}

#[tokio::test]
async fn a_slow_read_keeps_its_statement_off_the_lanes_and_writes_never_use_them() {
    let lanes = lanes(1, LaneLimits::default());
    let api = api(&lanes).await;
    let anon = || json!({"role": "anon"});
    let nap = |ms: u32| {
        let api = &api;
        async move {
            let url = format!("/rpc/nap?ms={ms}");
            call(api, "GET", &url, anon()).await
        }
    };
    let reads = || lanes.stats().reads;
    assert_eq!(nap(60).await, (200, json!(60)));
    assert_eq!(reads(), 1, "unknown statements try a lane");
    assert_eq!(nap(30).await, (200, json!(30)));
    assert_eq!(
        reads(),
        1,
        "the slow statement now runs on its own connection"
    );
    assert_eq!(
        call(&api, "GET", "/rpc/add?a=2", anon()).await,
        (200, json!(2))
    );
    assert_eq!(reads(), 2, "other statements still use the lane");
    assert_eq!(nap(1).await, (200, json!(1)));
    assert_eq!(
        reads(),
        2,
        "still marked: it runs on its own connection, fast"
    );
    nap(1).await;
    assert_eq!(reads(), 3, "that fast run cleared the mark");
    nap(60).await;
    assert_eq!(reads(), 4, "marked again");
    lanes.forget_slow();
    nap(1).await;
    assert_eq!(reads(), 5, "forgotten on schema reload");

    let (status, body) = call(&api, "POST", "/rpc/noop", json!({"role": "service_role"})).await;
    assert_eq!(status, 204, "{body}");
    assert_eq!(lanes.stats().reads, 5, "a POST is a write transaction");
}

#[tokio::test]
async fn a_lane_busy_with_a_long_batch_or_full_takes_no_more_reads() {
    let lanes = lanes(
        1,
        LaneLimits {
            max_depth: 2,
            ..LaneLimits::default()
        },
    );
    let api = api(&lanes).await;
    let anon = || json!({"role": "anon"});
    let slow = call(&api, "GET", "/rpc/nap?ms=400", anon());
    let quick = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let answer = call(&api, "GET", "/rpc/add?a=7", anon()).await;
        (answer, lanes.stats().reads)
    };
    let (slow, (quick, reads_when_quick_answered)) = tokio::join!(slow, quick);
    assert_eq!(slow, (200, json!(400)));
    assert_eq!(quick, (200, json!(7)));
    assert_eq!(
        reads_when_quick_answered, 0,
        "the quick read did not wait behind the slow batch"
    );
    assert_eq!(lanes.stats().reads, 1, "it ran on the caller's connection");

    // Five at once on a lane that takes two: the other three run on the caller's connection.
    let urls: Vec<String> = (1..=5).map(|a| format!("/rpc/add?a={a}")).collect();
    let five = urls.iter().map(|url| call(&api, "GET", url, anon()));
    let answers = join_all(five).await;
    assert!(
        answers.iter().all(|(status, _)| *status == 200),
        "{answers:?}"
    );
    assert_eq!(lanes.stats().reads, 3, "two more on the lane");
}

#[tokio::test]
async fn a_slow_mark_expires() {
    let limits = LaneLimits {
        slow_for: Duration::from_millis(400),
        ..LaneLimits::default()
    };
    let lanes = lanes(1, limits);
    let api = api(&lanes).await;
    let anon = || json!({"role": "anon"});
    call(&api, "GET", "/rpc/nap?ms=50", anon()).await;
    // 15 ms on its own connection: not fast enough to clear the mark (under half of 20 ms).
    call(&api, "GET", "/rpc/nap?ms=15", anon()).await;
    assert_eq!(lanes.stats().reads, 1, "marked slow");
    tokio::time::sleep(Duration::from_millis(500)).await;
    call(&api, "GET", "/rpc/nap?ms=15", anon()).await;
    assert_eq!(
        lanes.stats().reads,
        2,
        "back on the lane once the mark expired"
    );
}

/// The backends of connections named `app`.
async fn backends(app: &str) -> Vec<i32> {
    postgres::admin()
        .await
        .query(
            "SELECT pid FROM pg_stat_activity WHERE application_name = $1 ORDER BY pid",
            &[&app],
        )
        .await
        .expect("pg_stat_activity")
        .iter()
        .map(|r| r.get(0))
        .collect()
}

#[tokio::test]
async fn an_idle_lane_closes_its_connection_and_an_old_one_is_replaced() {
    let named = |app: &str| {
        let mut url = config();
        url.pg_mut().application_name(app);
        url
    };
    let anon = || json!({"role": "anon"});
    let idle = LaneLimits {
        max_idle: Some(Duration::from_millis(300)),
        ..LaneLimits::default()
    };
    let idle_lanes = Lanes::with_limits(1, named("lane-idle"), Arc::new(AtomicU64::new(0)), idle);
    let idle_api = api(&idle_lanes).await;
    assert_eq!(
        call(&idle_api, "GET", "/rpc/add?a=1", anon()).await,
        (200, json!(1))
    );
    assert_eq!(idle_lanes.stats().reads, 1);
    assert_eq!(backends("lane-idle").await.len(), 1);
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert!(backends("lane-idle").await.is_empty(), "closed when idle");
    assert_eq!(
        call(&idle_api, "GET", "/rpc/add?a=2", anon()).await,
        (200, json!(2))
    );
    assert_eq!(idle_lanes.stats().reads, 2, "reconnected on the next read");

    let old = LaneLimits {
        max_lifetime: Some(Duration::from_millis(300)),
        ..LaneLimits::default()
    };
    let old_lanes = Lanes::with_limits(1, named("lane-old"), Arc::new(AtomicU64::new(0)), old);
    let old_api = api(&old_lanes).await;
    assert_eq!(
        call(&old_api, "GET", "/rpc/add?a=1", anon()).await,
        (200, json!(1))
    );
    let first = backends("lane-old").await;
    assert_eq!(first.len(), 1);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(first, backends("lane-old").await, "kept while idle");
    assert_eq!(
        call(&old_api, "GET", "/rpc/add?a=3", anon()).await,
        (200, json!(3))
    );
    let second = backends("lane-old").await;
    assert_eq!(second.len(), 1);
    assert_ne!(first, second, "replaced before the next batch");
}

#[tokio::test]
async fn a_lane_that_cannot_connect_hands_its_reads_back() {
    let nowhere =
        madbase_pgconn::DbUrl::parse("host=127.0.0.1 port=1 user=authenticator connect_timeout=2")
            .expect("url");
    let lanes = Lanes::start(1, nowhere, Arc::new(AtomicU64::new(0)));
    let api = api(&lanes).await;
    let anon = || json!({"role": "anon"});
    for _ in 0..2 {
        assert_eq!(
            call(&api, "GET", "/rpc/add?a=5", anon()).await,
            (200, json!(5)),
            "answered on the caller's own connection"
        );
    }
    assert_eq!(
        lanes.stats(),
        LaneStats::default(),
        "nothing ran on the lane"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abandoned_reads_leave_the_lanes_usable() {
    let lanes = lanes(
        2,
        LaneLimits {
            max_depth: 4,
            // A loaded machine can stall a read past the default 20 ms; a slow mark would send
            // the reads below to the caller's connection, which is not what this test is about.
            slow: Duration::from_secs(10),
            ..LaneLimits::default()
        },
    );
    let api = api(&lanes).await;
    let anon = || json!({"role": "anon"});
    for round in 0..50u64 {
        let many = (0..8).map(|_| call(&api, "GET", "/rpc/add?a=1", anon()));
        // Clients that go away at every stage of their reads.
        let _ =
            tokio::time::timeout(Duration::from_micros(200 * (round % 10)), join_all(many)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let before = lanes.stats().reads;
    for _ in 0..4 {
        assert_eq!(
            call(&api, "GET", "/rpc/add?a=2", anon()).await,
            (200, json!(2))
        );
    }
    assert_eq!(lanes.stats().reads, before + 4, "every read went to a lane");
}
