//! Leader election on a `coordination.k8s.io/v1` `Lease`, so that only one of several operator
//! replicas runs the controller. Every replica keeps serving `/healthz`, `/readyz`, `/metrics`
//! and the control-plane API; only the elected one reconciles.
//!
//! The protocol is the one Kubernetes' own controllers use:
//! - a candidate takes the Lease when it does not exist, has no holder, or has not changed for a
//!   whole `leaseDurationSeconds` as measured on the candidate's own clock (the candidate never
//!   compares its clock with the holder's `renewTime`, so clock skew between nodes does not
//!   matter);
//! - every write is a create or a replace carrying the `resourceVersion` that was read, so two
//!   candidates racing for the same Lease cannot both win: the loser gets 409 Conflict;
//! - the leader renews every retry period and stops reconciling as soon as it has not renewed for
//!   the renew deadline (shorter than the lease duration, so it stops before anyone else may
//!   take over) or sees another holder;
//! - on graceful shutdown the leader releases the Lease (no holder, one-second duration) so a
//!   standby takes over at once.
//!
//! This module does not know what "running the controller" means: [`run_elected`] is given a
//! function that starts the work and drops the work's future when leadership is lost.

use std::future::Future;
use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::api::PostParams;
use kube::{Api, Client};
use tokio::time::Instant;

use crate::apply::FIELD_MANAGER;

/// Default Lease name.
pub const DEFAULT_LEASE_NAME: &str = "madbase-operator";

/// Parses a duration such as `15s`, `500ms`, `2m` or a plain number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: u64 = number.parse().map_err(|_| {
        format!("`{text}` is not a duration; use a whole number with s, ms or m, e.g. 15s")
    })?;
    let duration = match unit {
        "" | "s" => Duration::from_secs(n),
        "ms" => Duration::from_millis(n),
        "m" => Duration::from_secs(n.saturating_mul(60)),
        _ => {
            return Err(format!(
                "`{text}` has an unknown unit `{unit}`; use s, ms or m, e.g. 15s"
            ));
        }
    };
    Ok(duration)
}

/// A bad leader-election setting.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("leader election: {0}")]
pub struct LeaseConfigError(pub String);

/// Where the Lease lives, who this replica is, and the three timings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseSettings {
    /// Lease name.
    pub name: String,
    /// Lease namespace.
    pub namespace: String,
    /// This replica's identity (its pod name).
    pub identity: String,
    /// How long a Lease that stopped changing stays valid for the other candidates.
    pub lease_duration: Duration,
    /// How long the leader keeps reconciling without a successful renewal.
    pub renew_deadline: Duration,
    /// How often the leader renews and the candidates retry.
    pub retry_period: Duration,
}

fn dns_subdomain(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 253
        && value.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

impl LeaseSettings {
    /// Checks the settings; every message names the flag and its environment variable.
    pub fn new(
        name: String,
        namespace: String,
        identity: String,
        lease_duration: Duration,
        renew_deadline: Duration,
        retry_period: Duration,
    ) -> Result<Self, LeaseConfigError> {
        let bad = |m: String| Err(LeaseConfigError(m));
        if !dns_subdomain(&name) {
            return bad(format!(
                "--lease-name (MADBASE_OPERATOR_LEASE_NAME) `{name}` must be a lower-case DNS name of at most 253 characters"
            ));
        }
        if !dns_subdomain(&namespace) || namespace.len() > 63 || namespace.contains('.') {
            return bad(format!(
                "--lease-namespace (MADBASE_OPERATOR_LEASE_NAMESPACE) `{namespace}` must be a namespace name (a DNS label)"
            ));
        }
        if identity.is_empty() || identity.len() > 253 {
            return bad(
                "the replica identity (MADBASE_OPERATOR_LEASE_IDENTITY or POD_NAME) must be 1 to 253 characters"
                    .into(),
            );
        }
        if lease_duration < Duration::from_secs(1)
            || lease_duration.subsec_nanos() != 0
            || lease_duration > Duration::from_secs(i32::MAX as u64)
        {
            return bad(format!(
                "--lease-duration (MADBASE_OPERATOR_LEASE_DURATION) must be a whole number of seconds, at least 1s (got {lease_duration:?})"
            ));
        }
        if renew_deadline.is_zero() || renew_deadline >= lease_duration {
            return bad(format!(
                "--lease-renew-deadline (MADBASE_OPERATOR_LEASE_RENEW_DEADLINE) must be above zero and shorter than --lease-duration ({renew_deadline:?} vs {lease_duration:?}), so a leader stops before another replica may take over"
            ));
        }
        if retry_period < Duration::from_millis(100) || retry_period >= renew_deadline {
            return bad(format!(
                "--lease-retry-period (MADBASE_OPERATOR_LEASE_RETRY_PERIOD) must be at least 100ms and shorter than --lease-renew-deadline ({retry_period:?} vs {renew_deadline:?})"
            ));
        }
        Ok(Self {
            name,
            namespace,
            identity,
            lease_duration,
            renew_deadline,
            retry_period,
        })
    }
}

/// What the Lease looked like when last read, and when (on this replica's clock) it last
/// changed.
#[derive(Debug, Clone)]
struct Observed {
    record: (Option<String>, Option<MicroTime>, Option<i32>),
    changed_at: Instant,
}

/// The result of one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// This replica holds the Lease (acquired or renewed just now).
    Leading,
    /// Someone else holds a valid Lease.
    Following(String),
    /// The Lease changed between read and write (409); try again later.
    Conflict,
}

/// One replica's view of the Lease.
pub struct LeaderElector {
    api: Api<Lease>,
    settings: LeaseSettings,
    observed: Option<Observed>,
}

fn holder(spec: &LeaseSpec) -> Option<&str> {
    spec.holder_identity.as_deref().filter(|h| !h.is_empty())
}

fn params() -> PostParams {
    PostParams {
        field_manager: Some(FIELD_MANAGER.into()),
        ..PostParams::default()
    }
}

fn duration_seconds(d: Duration) -> i32 {
    i32::try_from(d.as_secs()).unwrap_or(i32::MAX)
}

impl LeaderElector {
    /// An elector for `settings`.
    pub fn new(client: Client, settings: LeaseSettings) -> Self {
        Self {
            api: Api::namespaced(client, &settings.namespace),
            settings,
            observed: None,
        }
    }

    /// The settings in use.
    pub fn settings(&self) -> &LeaseSettings {
        &self.settings
    }

    fn spec(&self, acquire: Option<MicroTime>, transitions: i32) -> LeaseSpec {
        let now = MicroTime(Timestamp::now());
        LeaseSpec {
            holder_identity: Some(self.settings.identity.clone()),
            lease_duration_seconds: Some(duration_seconds(self.settings.lease_duration)),
            acquire_time: Some(acquire.unwrap_or_else(|| now.clone())),
            renew_time: Some(now),
            lease_transitions: Some(transitions),
            ..LeaseSpec::default()
        }
    }

    /// Whether another holder's Lease has stopped changing for its whole duration, as seen from
    /// here. Remembers the record and when it last changed.
    fn expired(&mut self, spec: &LeaseSpec) -> bool {
        let record = (
            spec.holder_identity.clone(),
            spec.renew_time.clone(),
            spec.lease_transitions,
        );
        let now = Instant::now();
        match &self.observed {
            Some(o) if o.record == record => {
                let duration = spec
                    .lease_duration_seconds
                    .and_then(|s| u64::try_from(s).ok())
                    .map(Duration::from_secs)
                    .unwrap_or(self.settings.lease_duration);
                now.duration_since(o.changed_at) >= duration
            }
            _ => {
                self.observed = Some(Observed {
                    record,
                    changed_at: now,
                });
                false
            }
        }
    }

    /// Acquires the Lease if it is free or expired, renews it if this replica holds it.
    pub async fn try_acquire_or_renew(&mut self) -> Result<Attempt, kube::Error> {
        let name = self.settings.name.clone();
        let Some(mut lease) = self.api.get_opt(&name).await? else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(name),
                    namespace: Some(self.settings.namespace.clone()),
                    ..ObjectMeta::default()
                },
                spec: Some(self.spec(None, 0)),
            };
            return match self.api.create(&params(), &lease).await {
                Ok(_) => Ok(Attempt::Leading),
                Err(kube::Error::Api(e)) if e.code == 409 => Ok(Attempt::Conflict),
                Err(e) => Err(e),
            };
        };
        let current = lease.spec.clone().unwrap_or_default();
        let transitions = current.lease_transitions.unwrap_or(0);
        let next = match holder(&current) {
            Some(h) if h == self.settings.identity => {
                self.spec(current.acquire_time.clone(), transitions)
            }
            None => self.spec(None, transitions.saturating_add(1)),
            Some(h) => {
                if !self.expired(&current) {
                    return Ok(Attempt::Following(h.to_owned()));
                }
                self.spec(None, transitions.saturating_add(1))
            }
        };
        lease.spec = Some(next);
        // `replace` sends the resourceVersion that was read: a concurrent writer makes it 409.
        match self.api.replace(&name, &params(), &lease).await {
            Ok(_) => Ok(Attempt::Leading),
            Err(kube::Error::Api(e)) if e.code == 409 => Ok(Attempt::Conflict),
            Err(e) => Err(e),
        }
    }

    /// Gives the Lease up if this replica holds it: no holder and a one-second duration, so a
    /// standby takes over on its next attempt.
    pub async fn release(&mut self) -> Result<(), kube::Error> {
        let Some(mut lease) = self.api.get_opt(&self.settings.name).await? else {
            return Ok(());
        };
        let mut spec = lease.spec.clone().unwrap_or_default();
        if holder(&spec) != Some(self.settings.identity.as_str()) {
            return Ok(());
        }
        spec.holder_identity = None;
        spec.lease_duration_seconds = Some(1);
        spec.renew_time = Some(MicroTime(Timestamp::now()));
        lease.spec = Some(spec);
        match self
            .api
            .replace(&self.settings.name, &params(), &lease)
            .await
        {
            Ok(_) => Ok(()),
            // Someone else wrote it meanwhile: it is not ours to release any more.
            Err(kube::Error::Api(e)) if e.code == 409 => Ok(()),
            Err(e) => Err(e),
        }
    }
}

/// Why a leader stopped leading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lost {
    /// Another replica holds the Lease.
    TakenBy(String),
    /// No successful renewal within the renew deadline.
    RenewDeadline,
}

/// Keeps renewing while leading; returns when leadership is lost. Each attempt is bounded by
/// the time left until the renew deadline, so a hanging API call cannot keep a stale leader
/// reconciling.
pub async fn hold(elector: &mut LeaderElector) -> Lost {
    let LeaseSettings {
        renew_deadline,
        retry_period,
        ..
    } = elector.settings.clone();
    let mut renewed = Instant::now();
    loop {
        tokio::time::sleep(retry_period).await;
        let left = renew_deadline.saturating_sub(renewed.elapsed());
        match tokio::time::timeout(left, elector.try_acquire_or_renew()).await {
            Ok(Ok(Attempt::Leading)) => renewed = Instant::now(),
            Ok(Ok(Attempt::Following(holder))) => return Lost::TakenBy(holder),
            Ok(Ok(Attempt::Conflict)) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "renewing the leader lease failed"),
            Err(_) => {}
        }
        if renewed.elapsed() >= renew_deadline {
            return Lost::RenewDeadline;
        }
    }
}

/// Runs `work` only while this replica holds the Lease: campaigns until it is acquired, runs
/// `work()` while renewing, drops the work's future as soon as leadership is lost and
/// campaigns again. Returns when `shutdown` resolves while campaigning, or when the work
/// finishes; the work must itself end on shutdown (the controller does, after its in-flight
/// reconciles, during which the Lease is still renewed), and its end releases the Lease.
/// `on_change` hears every change of leadership (for metrics and logs).
pub async fn run_elected<W, Fut, S>(
    mut elector: LeaderElector,
    shutdown: S,
    on_change: impl Fn(bool),
    mut work: W,
) where
    W: FnMut() -> Fut,
    Fut: Future<Output = ()>,
    S: Future<Output = ()>,
{
    tokio::pin!(shutdown);
    let identity = elector.settings.identity.clone();
    loop {
        // Campaign.
        loop {
            match elector.try_acquire_or_renew().await {
                Ok(Attempt::Leading) => break,
                Ok(Attempt::Following(holder)) => {
                    tracing::debug!(%holder, "another replica leads");
                }
                Ok(Attempt::Conflict) => {}
                Err(e) => tracing::warn!(error = %e, "reading the leader lease failed"),
            }
            tokio::select! {
                _ = &mut shutdown => return,
                _ = tokio::time::sleep(elector.settings.retry_period) => {}
            }
        }
        tracing::info!(identity = %identity, lease = %elector.settings.name, "became leader; reconciling");
        on_change(true);
        let lost = {
            let work = work();
            tokio::pin!(work);
            tokio::select! {
                _ = &mut work => None,
                lost = hold(&mut elector) => Some(lost),
            }
        };
        on_change(false);
        match lost {
            Some(why) => {
                tracing::warn!(reason = ?why, "lost leadership; stopped reconciling");
            }
            None => {
                if let Err(e) = elector.release().await {
                    tracing::warn!(error = %e, "releasing the leader lease failed");
                }
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(d: u64, r: u64, p: u64) -> Result<LeaseSettings, LeaseConfigError> {
        LeaseSettings::new(
            "madbase-operator".into(),
            "madbase-system".into(),
            "pod-a".into(),
            Duration::from_secs(d),
            Duration::from_secs(r),
            Duration::from_secs(p),
        )
    }

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("15s"), Ok(Duration::from_secs(15)));
        assert_eq!(parse_duration("15"), Ok(Duration::from_secs(15)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_duration("soon").expect_err("bad").contains("15s"));
        assert!(
            parse_duration("5h")
                .expect_err("bad")
                .contains("unknown unit")
        );
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn timings_must_nest_and_names_must_be_valid() {
        assert!(settings(15, 10, 2).is_ok());
        let e = settings(10, 10, 2).expect_err("deadline not shorter");
        assert!(e.to_string().contains("--lease-renew-deadline"), "{e}");
        let e = settings(15, 10, 10).expect_err("retry not shorter");
        assert!(e.to_string().contains("--lease-retry-period"), "{e}");
        let e = settings(0, 0, 0).expect_err("zero");
        assert!(e.to_string().contains("--lease-duration"), "{e}");
        let e = LeaseSettings::new(
            "Bad_Name".into(),
            "ns".into(),
            "a".into(),
            Duration::from_secs(15),
            Duration::from_secs(10),
            Duration::from_secs(2),
        )
        .expect_err("bad name");
        assert!(e.to_string().contains("MADBASE_OPERATOR_LEASE_NAME"), "{e}");
        let e = LeaseSettings::new(
            "lease".into(),
            "a.b".into(),
            "a".into(),
            Duration::from_secs(15),
            Duration::from_secs(10),
            Duration::from_secs(2),
        )
        .expect_err("bad namespace");
        assert!(e.to_string().contains("--lease-namespace"), "{e}");
        let e = LeaseSettings::new(
            "lease".into(),
            "ns".into(),
            "a".into(),
            Duration::from_millis(15_500),
            Duration::from_secs(10),
            Duration::from_secs(2),
        )
        .expect_err("fractional lease duration");
        assert!(e.to_string().contains("whole number of seconds"), "{e}");
    }
}
