//! Leader election against kube-fake-client: two candidates on one Lease, renewal, takeover after
//! expiry (measured on the candidate's own clock, driven here by tokio's paused clock), release on
//! shutdown, the resourceVersion conflict when two candidates race, and the controller's future
//! being dropped when renewal fails or another replica takes over.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use kube::api::PostParams;
use kube::{Api, Client};
use kube_fake_client::{ClientBuilder, interceptor};
use madbase_operator::leader::{Attempt, LeaderElector, LeaseSettings, Lost, hold, run_elected};

const NS: &str = "madbase-system";

fn settings(identity: &str) -> LeaseSettings {
    LeaseSettings::new(
        "madbase-operator".into(),
        NS.into(),
        identity.into(),
        Duration::from_secs(15),
        Duration::from_secs(10),
        Duration::from_secs(2),
    )
    .expect("valid settings")
}

async fn client() -> Client {
    ClientBuilder::new().build().await.expect("fake client")
}

async fn lease(client: &Client) -> Lease {
    Api::<Lease>::namespaced(client.clone(), NS)
        .get("madbase-operator")
        .await
        .expect("lease")
}

fn holder(l: &Lease) -> Option<String> {
    l.spec.as_ref().and_then(|s| s.holder_identity.clone())
}

fn transitions(l: &Lease) -> Option<i32> {
    l.spec.as_ref().and_then(|s| s.lease_transitions)
}

#[tokio::test]
async fn first_candidate_leads_second_follows_and_renewal_keeps_the_lease() {
    let client = client().await;
    let mut a = LeaderElector::new(client.clone(), settings("pod-a"));
    let mut b = LeaderElector::new(client.clone(), settings("pod-b"));
    assert_eq!(a.try_acquire_or_renew().await.expect("a"), Attempt::Leading);
    let first = lease(&client).await;
    assert_eq!(holder(&first).as_deref(), Some("pod-a"));
    assert_eq!(
        first.spec.as_ref().and_then(|s| s.lease_duration_seconds),
        Some(15)
    );
    assert_eq!(transitions(&first), Some(0));

    assert_eq!(
        b.try_acquire_or_renew().await.expect("b"),
        Attempt::Following("pod-a".into())
    );
    assert_eq!(
        a.try_acquire_or_renew().await.expect("renew"),
        Attempt::Leading
    );
    let renewed = lease(&client).await;
    let spec = |l: &Lease| l.spec.clone().expect("spec");
    assert_eq!(spec(&renewed).acquire_time, spec(&first).acquire_time);
    assert_ne!(
        renewed.metadata.resource_version,
        first.metadata.resource_version
    );
    assert_eq!(
        b.try_acquire_or_renew().await.expect("b"),
        Attempt::Following("pod-a".into())
    );
}

#[tokio::test(start_paused = true)]
async fn a_lease_that_stops_changing_is_taken_over_after_its_duration() {
    let client = client().await;
    let mut a = LeaderElector::new(client.clone(), settings("pod-a"));
    let mut b = LeaderElector::new(client.clone(), settings("pod-b"));
    assert_eq!(a.try_acquire_or_renew().await.expect("a"), Attempt::Leading);
    assert!(matches!(
        b.try_acquire_or_renew().await,
        Ok(Attempt::Following(_))
    ));

    // A renews at 10 s: B's clock for the lease restarts.
    tokio::time::advance(Duration::from_secs(10)).await;
    assert_eq!(a.try_acquire_or_renew().await.expect("a"), Attempt::Leading);
    assert!(matches!(
        b.try_acquire_or_renew().await,
        Ok(Attempt::Following(_))
    ));
    tokio::time::advance(Duration::from_secs(14)).await;
    assert!(
        matches!(b.try_acquire_or_renew().await, Ok(Attempt::Following(_))),
        "14 s without a change is not yet expired"
    );

    // A stops renewing (crashed); a full lease duration later B takes over.
    tokio::time::advance(Duration::from_secs(1)).await;
    assert_eq!(b.try_acquire_or_renew().await.expect("b"), Attempt::Leading);
    let l = lease(&client).await;
    assert_eq!(holder(&l).as_deref(), Some("pod-b"));
    assert_eq!(transitions(&l), Some(1));
    assert_eq!(
        a.try_acquire_or_renew().await.expect("a"),
        Attempt::Following("pod-b".into()),
        "the old leader sees the new holder"
    );
}

#[tokio::test]
async fn release_hands_the_lease_over_at_once() {
    let client = client().await;
    let mut a = LeaderElector::new(client.clone(), settings("pod-a"));
    let mut b = LeaderElector::new(client.clone(), settings("pod-b"));
    a.try_acquire_or_renew().await.expect("a");
    b.release().await.expect("not the holder: nothing to do");
    assert_eq!(holder(&lease(&client).await).as_deref(), Some("pod-a"));
    a.release().await.expect("release");
    let l = lease(&client).await;
    assert_eq!(holder(&l), None);
    assert_eq!(
        l.spec.as_ref().and_then(|s| s.lease_duration_seconds),
        Some(1)
    );
    assert_eq!(b.try_acquire_or_renew().await.expect("b"), Attempt::Leading);
    assert_eq!(transitions(&lease(&client).await), Some(1));
}

#[tokio::test]
async fn two_candidates_racing_for_a_free_lease_cannot_both_win() {
    // Between B's read and B's write of a released Lease, A takes it: B's write carries the
    // resourceVersion it read and is refused with 409.
    let raced = Arc::new(AtomicBool::new(false));
    let once = raced.clone();
    let funcs = interceptor::Funcs::new().replace(move |ctx| {
        let writer = ctx
            .object
            .pointer("/spec/holderIdentity")
            .and_then(|h| h.as_str());
        if writer == Some("pod-b") && !once.swap(true, Ordering::SeqCst) {
            let mut current: Lease = ctx.client.get(ctx.namespace, ctx.name)?;
            if let Some(spec) = current.spec.as_mut() {
                spec.holder_identity = Some("pod-a".into());
                spec.lease_duration_seconds = Some(15);
            }
            ctx.client
                .update(ctx.namespace, &current, &PostParams::default())?;
        }
        Ok(None)
    });
    let client = ClientBuilder::new()
        .with_interceptor_funcs(funcs)
        .build()
        .await
        .expect("fake client");
    let mut a = LeaderElector::new(client.clone(), settings("pod-a"));
    let mut b = LeaderElector::new(client.clone(), settings("pod-b"));
    a.try_acquire_or_renew().await.expect("a");
    a.release().await.expect("release");

    assert_eq!(
        b.try_acquire_or_renew().await.expect("b"),
        Attempt::Conflict
    );
    assert!(raced.load(Ordering::SeqCst));
    assert_eq!(holder(&lease(&client).await).as_deref(), Some("pod-a"));
    assert_eq!(
        b.try_acquire_or_renew().await.expect("b"),
        Attempt::Following("pod-a".into())
    );
    // Creating a Lease that someone created meanwhile is the same race, answered 409 too.
    let mut c = LeaderElector::new(client.clone(), settings("pod-c"));
    let fresh = ClientBuilder::new().build().await.expect("fake client");
    let mut d = LeaderElector::new(fresh.clone(), settings("pod-d"));
    assert_eq!(d.try_acquire_or_renew().await.expect("d"), Attempt::Leading);
    assert!(matches!(
        c.try_acquire_or_renew().await,
        Ok(Attempt::Following(_))
    ));
}

#[tokio::test(start_paused = true)]
async fn the_leader_stops_when_it_cannot_renew_within_the_deadline() {
    let failing = Arc::new(AtomicBool::new(false));
    let fail = failing.clone();
    let funcs = interceptor::Funcs::new().get(move |_| {
        if fail.load(Ordering::SeqCst) {
            Err(kube_fake_client::Error::Internal("etcd unavailable".into()))
        } else {
            Ok(None)
        }
    });
    let client = ClientBuilder::new()
        .with_interceptor_funcs(funcs)
        .build()
        .await
        .expect("fake client");
    let mut a = LeaderElector::new(client.clone(), settings("pod-a"));
    assert_eq!(a.try_acquire_or_renew().await.expect("a"), Attempt::Leading);
    failing.store(true, Ordering::SeqCst);
    let started = tokio::time::Instant::now();
    assert_eq!(hold(&mut a).await, Lost::RenewDeadline);
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(10) && waited < Duration::from_secs(15),
        "stops after the renew deadline and before the lease expires for others: {waited:?}"
    );
}

/// Sets a flag when dropped: the controller's future going away.
struct Running(Arc<AtomicBool>);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.store(false, Ordering::SeqCst);
    }
}

#[tokio::test(start_paused = true)]
async fn only_the_leader_runs_the_work_and_loses_it_to_a_takeover() {
    let client = client().await;
    let running = Arc::new(AtomicBool::new(false));
    let starts = Arc::new(AtomicUsize::new(0));
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let work_stop = stop_rx.clone();
    let leading = Arc::new(AtomicBool::new(false));
    let task = {
        let (running, starts, leading) = (running.clone(), starts.clone(), leading.clone());
        let elector = LeaderElector::new(client.clone(), settings("pod-a"));
        tokio::spawn(async move {
            run_elected(
                elector,
                async move {
                    let _ = stop_rx.wait_for(|v| *v).await;
                },
                move |l| leading.store(l, Ordering::SeqCst),
                // Like the controller: runs until the stop signal, unless dropped first.
                move || {
                    let running = running.clone();
                    let mut stop = work_stop.clone();
                    starts.fetch_add(1, Ordering::SeqCst);
                    async move {
                        running.store(true, Ordering::SeqCst);
                        let _guard = Running(running);
                        let _ = stop.wait_for(|v| *v).await;
                    }
                },
            )
            .await;
        })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(running.load(Ordering::SeqCst), "the leader runs the work");
    assert!(leading.load(Ordering::SeqCst));

    // Another replica takes the Lease (e.g. after a network partition healed).
    let api = Api::<Lease>::namespaced(client.clone(), NS);
    let mut l = lease(&client).await;
    if let Some(spec) = l.spec.as_mut() {
        spec.holder_identity = Some("pod-b".into());
    }
    api.replace("madbase-operator", &PostParams::default(), &l)
        .await
        .expect("takeover");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        !running.load(Ordering::SeqCst),
        "work dropped on lost leadership"
    );
    assert!(!leading.load(Ordering::SeqCst));
    assert_eq!(starts.load(Ordering::SeqCst), 1);

    // pod-b vanishes without releasing; after the lease duration pod-a leads again.
    tokio::time::sleep(Duration::from_secs(20)).await;
    assert!(running.load(Ordering::SeqCst), "campaigned and won again");
    assert_eq!(starts.load(Ordering::SeqCst), 2);

    stop_tx.send_replace(true);
    task.await.expect("run_elected ends on shutdown");
    assert_eq!(holder(&lease(&client).await), None, "released on shutdown");
}

#[tokio::test(start_paused = true)]
async fn work_ending_on_shutdown_releases_the_lease() {
    let client = client().await;
    let elector = LeaderElector::new(client.clone(), settings("pod-a"));
    run_elected(
        elector,
        std::future::pending::<()>(),
        |_| {},
        || async { tokio::time::sleep(Duration::from_secs(1)).await },
    )
    .await;
    assert_eq!(holder(&lease(&client).await), None, "released");
}
