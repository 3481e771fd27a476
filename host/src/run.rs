//! Running a job: its command as a child process, output appended to its log file.

use std::path::Path;
use std::process::{Command, Stdio};

/// Whether `id` is safe as a job id and as a file name: letters, digits, `-`, `_`, `.`, not
/// starting with `.`, at most 128 bytes.
pub fn valid_job_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && !id.starts_with('.')
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// Start `argv` (no shell) with output appended to `output_dir/JOB.log`; a reaper thread logs
/// the exit. Returns once the child has started.
pub fn spawn_job(job: &str, argv: &[String], output_dir: &Path) -> Result<(), String> {
    if !valid_job_id(job) {
        return Err(format!("job id `{job}` is not a safe file name"));
    }
    let (program, args) = argv.split_first().ok_or("empty command")?;
    crate::home::create_private_dir(output_dir)
        .map_err(|e| format!("cannot create {}: {e}", output_dir.display()))?;
    let log_path = output_dir.join(format!("{job}.log"));
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let log = options
        .open(&log_path)
        .map_err(|e| format!("cannot open {}: {e}", log_path.display()))?;
    let log_err = log
        .try_clone()
        .map_err(|e| format!("cannot open {}: {e}", log_path.display()))?;
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err)
        .spawn()
        .map_err(|e| format!("cannot start `{program}`: {e}"))?;
    let job = job.to_owned();
    std::thread::Builder::new()
        .name(format!("reap-{job}"))
        .spawn(move || match child.wait() {
            Ok(status) if status.success() => log::debug!("job={job} exited 0"),
            Ok(status) => log::warn!("job={job} failed: {status}"),
            Err(e) => log::warn!("job={job}: cannot wait for the child: {e}"),
        })
        .map_err(|e| format!("cannot start a reaper thread: {e}"))?;
    Ok(())
}
