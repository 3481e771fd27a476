//! The on-failure hook: a job's `--on-failure` shell command, run once an occurrence has
//! failed for the last time (no retry left), with the failed run's details in its
//! environment and its output appended to the run's output.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::output::Sink;
use super::pipes::Pipes;
use super::Runner;
use crate::store::{Claim, RunStatus};

/// The longest an on-failure hook may run before its process group is killed.
pub const HOOK_TIMEOUT: Duration = Duration::from_secs(60);

/// The failed run a hook is told about.
pub(crate) struct Failure {
    pub claim: Claim,
    pub status: RunStatus,
    pub exit_code: Option<i32>,
    pub error: Option<String>,
    pub output_file: Option<std::path::PathBuf>,
}

impl Runner {
    /// Run the job's on-failure hook for `failure`, if it has one; its output goes to `sink`.
    /// The hook's process group is ended at [`HOOK_TIMEOUT`] or when the host stops.
    pub(crate) fn run_on_failure_hook(&self, failure: &Failure, sink: &mut Sink) {
        let job = &failure.claim.job;
        let Some(hook) = job.on_failure.as_deref() else {
            return;
        };
        sink.note(&format!(
            "[cronhost: running the on-failure hook: sh -c {hook:?}]"
        ));
        let mut command = Command::new("sh");
        command
            .args(["-c", hook])
            .envs(&job.env)
            .env("CRONHOST_JOB_ID", &job.id)
            .env("CRONHOST_JOB_NAME", &job.name)
            .env("CRONHOST_RUN_ID", &failure.claim.run_id)
            .env(
                "CRONHOST_SCHEDULED_AT",
                failure.claim.scheduled_at.to_rfc3339(),
            )
            .env("CRONHOST_ATTEMPT", failure.claim.attempt.to_string())
            .env("CRONHOST_STATUS", failure.status.as_str())
            .env(
                "CRONHOST_EXIT_CODE",
                failure.exit_code.map(|c| c.to_string()).unwrap_or_default(),
            )
            .env(
                "CRONHOST_ERROR",
                failure.error.as_deref().unwrap_or_default(),
            )
            .env(
                "CRONHOST_OUTPUT_FILE",
                failure
                    .output_file
                    .as_deref()
                    .map(|p| p.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(dir) = job
            .workdir
            .as_deref()
            .filter(|d| std::path::Path::new(d).is_dir())
        {
            command.current_dir(dir);
        }
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let mut child = match command.spawn() {
            Ok(child) => child,
            Err(e) => {
                log::warn!("job={}: cannot start its on-failure hook: {e}", job.name);
                sink.note(&format!(
                    "[cronhost: the on-failure hook did not start: {e}]"
                ));
                return;
            }
        };
        let group = child.id();
        self.track_group(group);
        let mut pipes = Pipes::take(&mut child);
        let ended = super::wait_for(
            &mut child,
            &mut pipes,
            sink,
            Instant::now().checked_add(HOOK_TIMEOUT),
        );
        pipes.read_stragglers(sink);
        self.untrack_group(group);
        match ended {
            super::Ended::Exited(status) if status.success() => {
                log::info!("job={}: on-failure hook ran", job.name);
                sink.note("[cronhost: the on-failure hook succeeded]");
            }
            super::Ended::Exited(status) => {
                log::warn!("job={}: on-failure hook ended: {status}", job.name);
                sink.note(&format!("[cronhost: the on-failure hook ended: {status}]"));
            }
            super::Ended::Unwatchable(e) => {
                log::warn!("job={}: cannot wait for its on-failure hook: {e}", job.name);
                sink.note(&format!(
                    "[cronhost: cannot wait for the on-failure hook: {e}]"
                ));
            }
            super::Ended::TimedOut => {
                log::warn!(
                    "job={}: on-failure hook killed after {}s",
                    job.name,
                    HOOK_TIMEOUT.as_secs()
                );
                sink.note(&format!(
                    "[cronhost: the on-failure hook was killed after {}s]",
                    HOOK_TIMEOUT.as_secs()
                ));
            }
        }
    }
}
