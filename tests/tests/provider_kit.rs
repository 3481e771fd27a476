//! The provider author kit: the template provider, loaded by the SDK-side test harness
//! (`cronhost::testing::ProviderTestHost`) into a real host in this process, fires real jobs.

use std::time::Duration;

use cronhost::store::RunStatus;
use cronhost::testing::ProviderTestHost;
use cronhost_e2e::artifacts;
use cronhost_provider_api::FireOutcome;

#[test]
fn the_template_provider_drives_real_jobs_through_the_test_harness() {
    let host = ProviderTestHost::load(&artifacts().template, "template", r#"{"interval_ms": 50}"#)
        .expect("the template loads");
    assert_eq!(host.provider().is_available(), Ok(true));
    let job = host.add_job("* * * * * *", "true").unwrap();
    host.start();
    let runs = host.wait_for_runs(2, Duration::from_secs(30)).unwrap();
    assert!(runs
        .iter()
        .all(|run| run.job_id == job.id && run.status == RunStatus::Succeeded));
    assert_eq!(
        host.provider().fire_due(host.services(), "no-such-job"),
        Ok(FireOutcome::NoSuchJob)
    );
    assert_eq!(
        host.stop(),
        Ok(()),
        "start returns once stopped, and stop succeeds"
    );
}

#[test]
fn the_harness_says_why_a_provider_does_not_load() {
    let error = ProviderTestHost::load(&artifacts().template, "no-such-provider", "{}")
        .err()
        .expect("refused");
    assert!(
        error.contains("no provider `no-such-provider`") && error.contains("template"),
        "{error}"
    );
    let error = ProviderTestHost::load(&artifacts().template, "template", r#"{"interval_ms": 0}"#)
        .err()
        .expect("the template refuses interval_ms = 0");
    assert!(error.contains("interval_ms"), "{error}");
}
