//! Hosts embedded in the test process: built on a [`TestHome`], and the
//! runs they finish.

use cronhost::store::{Run, RunStatus};
use cronhost::Host;

use crate::{wait_for, TestHome, PATIENCE};

/// A schedule that fires every second.
pub const EVERY_SECOND: &str = "* * * * * *";

/// A host on `home` with the home's config (the defaults without one).
pub fn host(home: &TestHome) -> Host {
    Host::builder().home(home.path()).build().expect("host")
}

/// A host on `home` with the config `config` (TOML).
pub fn host_with(home: &TestHome, config: &str) -> Host {
    Host::builder()
        .home(home.path())
        .config(cronhost::Config::parse(config).expect("config"))
        .build()
        .expect("host")
}

/// The oldest finished (not skipped) run of `job`, once there is one.
pub fn first_finished(host: &Host, job: &str) -> Run {
    let mut found = None;
    wait_for(&format!("a finished run of {job}"), PATIENCE, || {
        found = host
            .runs(Some(job), 100)
            .unwrap()
            .into_iter()
            .rev()
            .find(|run| run.status.is_final() && run.status != RunStatus::Skipped);
        found.is_some()
    });
    found.unwrap()
}
