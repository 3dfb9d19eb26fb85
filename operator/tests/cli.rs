//! Start-up refuses bad leader-election settings with a message naming the flag, before it
//! reads any configuration or contacts a cluster.

use std::process::Command;

fn run(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_madbase-operator"))
        .arg("run")
        .args(args)
        .env_remove("MADBASE_OPERATOR_CONFIG")
        .env("KUBECONFIG", "/nonexistent")
        .output()
        .expect("run madbase-operator");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn renew_deadline_not_below_lease_duration_is_refused() {
    let (ok, err) = run(&["--lease-duration", "10s", "--lease-renew-deadline", "10s"]);
    assert!(!ok);
    assert!(err.contains("--lease-renew-deadline"), "{err}");
    assert!(
        !err.contains("Kubernetes API"),
        "checked before connecting: {err}"
    );
}

#[test]
fn unparsable_durations_and_names_are_refused() {
    let (ok, err) = run(&["--lease-duration", "soon"]);
    assert!(!ok);
    assert!(
        err.contains("--lease-duration") && err.contains("15s"),
        "{err}"
    );
    let (ok, err) = run(&["--lease-name", "Not_A_Name"]);
    assert!(!ok);
    assert!(err.contains("MADBASE_OPERATOR_LEASE_NAME"), "{err}");
    let (ok, err) = run(&["--leader-election", "maybe"]);
    assert!(!ok);
    assert!(err.contains("--leader-election"), "{err}");
}
