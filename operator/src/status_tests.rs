use super::*;
use k8s_openapi::jiff::Timestamp;

fn at(seconds: i64) -> Time {
    Time(Timestamp::from_second(seconds).expect("time"))
}

fn ready_observation() -> Observation {
    let mut obs = Observation::new(Some(1), false, false);
    obs.spec = StepState::Ready("Valid", String::new());
    obs.keys = StepState::Ready("KeysAvailable", String::new());
    obs.database = StepState::Ready("DatabaseAvailable", String::new());
    obs.storage = StepState::Ready("BucketAvailable", String::new());
    obs.data_plane = StepState::Ready("DeploymentAvailable", "1/1 pods ready".into());
    obs
}

fn condition<'a>(status: &'a MadBaseProjectStatus, type_: &str) -> &'a Condition {
    status
        .conditions
        .iter()
        .find(|c| c.type_ == type_)
        .expect("condition")
}

#[test]
fn all_steps_ready_is_ready() {
    let s = compute(None, &ready_observation(), at(100));
    assert_eq!(s.phase, Some(Phase::Ready));
    assert_eq!(condition(&s, "Ready").status, "True");
    assert_eq!(condition(&s, "ReconciliationPaused").status, "False");
    assert_eq!(s.observed_generation, Some(1));
    let types: Vec<&str> = s.conditions.iter().map(|c| c.type_.as_str()).collect();
    assert_eq!(types, CONDITION_TYPES);
}

#[test]
fn transition_time_moves_only_when_status_flips() {
    let first = compute(None, &ready_observation(), at(100));
    let again = compute(Some(&first), &ready_observation(), at(200));
    assert_eq!(first, again, "nothing changed, nothing to write");
    let mut broken = ready_observation();
    broken.database = StepState::NotReady("DatabaseUnreachable", "timed out".into());
    let degraded = compute(Some(&again), &broken, at(300));
    assert_eq!(degraded.phase, Some(Phase::Degraded));
    assert_eq!(
        condition(&degraded, "DatabaseReady").last_transition_time,
        at(300)
    );
    assert_eq!(
        condition(&degraded, "KeysReady").last_transition_time,
        at(100)
    );
    assert_eq!(condition(&degraded, "Ready").reason, "DatabaseUnreachable");
}

#[test]
fn transient_errors_never_fail_a_new_project() {
    let mut obs = ready_observation();
    obs.storage = StepState::NotReady("ObjectStoreUnavailable", "connection refused".into());
    obs.data_plane = StepState::Unknown;
    let s = compute(None, &obs, at(1));
    assert_eq!(s.phase, Some(Phase::Provisioning));
}

#[test]
fn user_fixable_problems_fail() {
    let mut obs = Observation::new(Some(2), false, false);
    obs.spec = StepState::Failed("SecretNotFound", "Secret shop-database not found".into());
    let s = compute(None, &obs, at(1));
    assert_eq!(s.phase, Some(Phase::Failed));
    assert_eq!(condition(&s, "Ready").reason, "SecretNotFound");
    assert_eq!(condition(&s, "KeysReady").status, "Unknown");
}

#[test]
fn paused_keeps_ready_and_reports_paused() {
    let ready = compute(None, &ready_observation(), at(1));
    let mut obs = Observation::new(Some(3), true, false);
    obs.data_plane = StepState::Ready("DeploymentAvailable", String::new());
    let s = compute(Some(&ready), &obs, at(2));
    assert_eq!(s.phase, Some(Phase::Paused));
    assert_eq!(condition(&s, "ReconciliationPaused").status, "True");
    assert_eq!(condition(&s, "Ready").status, "True");
    assert_eq!(condition(&s, "Ready").last_transition_time, at(1));
    assert_eq!(s.observed_generation, Some(3));
}

#[test]
fn stopped_is_its_own_phase() {
    let mut obs = ready_observation();
    obs.stopped = true;
    obs.data_plane = StepState::NotReady("Stopped", "scaled to zero".into());
    let s = compute(None, &obs, at(1));
    assert_eq!(s.phase, Some(Phase::Stopped));
    assert_eq!(condition(&s, "Ready").reason, "Stopped");
}
