//! `cronhost jobs ...` through the real binary against a temporary home: durations, the
//! anchoring of intervals, pausing and resuming, manual runs.

use cronhost_e2e::TestHome;
use serde_json::Value;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn show(home: &TestHome, job: &str) -> Value {
    let output = home.cronhost(&["jobs", "show", job, "--json"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap()
}

/// `jobs add ARGS` is refused with exit 2, nothing stored, and a message containing `expected`.
fn assert_refused(home: &TestHome, args: &[&str], expected: &str) {
    let mut full = vec!["jobs", "add"];
    full.extend_from_slice(args);
    let output = home.cronhost(&full);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
    assert!(stderr.contains(expected), "{args:?}: {stderr}");
}

#[test]
fn durations_combine_units_and_timeouts_take_them_too() {
    let home = TestHome::new();
    home.add_job(&[
        "every 1h30m",
        "--name",
        "ninety",
        "--timeout",
        "10m",
        "--",
        "true",
    ]);
    let job = show(&home, "ninety");
    assert_eq!(job["schedule"], "every:5400");
    assert_eq!(job["timeout_secs"], 600);
    // A plain number is still seconds.
    home.add_job(&[
        "every 7m",
        "--name",
        "plain",
        "--timeout",
        "600",
        "--",
        "true",
    ]);
    assert_eq!(show(&home, "plain")["timeout_secs"], 600);

    assert_refused(&home, &["every 500ms", "--", "true"], "1s at the least");
    assert_refused(&home, &["500ms", "--", "true"], "1s at the least");
    assert_refused(&home, &["every 1 month", "--", "true"], "no fixed length");
    assert_refused(
        &home,
        &["every 1h", "--timeout", "500ms", "--", "true"],
        "a timeout is whole seconds, 1s at the least",
    );
    assert_refused(
        &home,
        &["every 1h", "--timeout", "400d", "--", "true"],
        "allowed 1 to 31536000 seconds",
    );
    assert_refused(
        &home,
        &["every 1h", "--timeout", "soon", "--", "true"],
        "soon",
    );
    let jobs: Value =
        serde_json::from_slice(&home.cronhost(&["jobs", "list", "--json"]).stdout).unwrap();
    assert_eq!(
        jobs.as_array().unwrap().len(),
        2,
        "nothing refused was stored"
    );
}
