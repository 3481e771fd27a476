//! The job set from `HOME/jobs.toml`: interval jobs anchored to the epoch, claimed in memory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Deserialize;

use super::{Engine, EngineError, FireOutcome, TickReport};
use crate::run::{spawn_job, valid_job_id};

/// One job as written in `jobs.toml`:
///
/// ```toml
/// [[job]]
/// name = "hello"
/// every = "5s"            # s, m, h or d
/// command = ["echo", "hello"]
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobSpec {
    /// Unique name; also the job's id. Letters, digits, `-`, `_` and `.`.
    pub name: String,
    /// The interval, e.g. `30s`, `5m`, `2h`, `1d`, optionally prefixed with `every `.
    pub every: String,
    /// The argv to run, without a shell.
    pub command: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct JobFile {
    #[serde(default)]
    job: Vec<JobSpec>,
}

#[derive(Debug)]
struct Job {
    spec: JobSpec,
    period: Duration,
    next_run: SystemTime,
}

#[derive(Debug, Default)]
struct State {
    modified: Option<SystemTime>,
    jobs: BTreeMap<String, Job>,
}

/// An engine over `jobs.toml`. Occurrences fall on multiples of the period since the Unix
/// epoch, so every host computes the same nominal instants. Claims are compare-and-set on the
/// job's next run under one lock: one occurrence starts once per process.
#[derive(Debug)]
pub struct JobFileEngine {
    path: PathBuf,
    output_dir: PathBuf,
    state: Mutex<State>,
}

impl JobFileEngine {
    /// Read `path` (a missing file is an empty job set); job output goes to
    /// `output_dir/NAME.log`.
    pub fn open(path: &Path, output_dir: &Path) -> Result<Self, EngineError> {
        let engine = Self {
            path: path.to_path_buf(),
            output_dir: output_dir.to_path_buf(),
            state: Mutex::new(State::default()),
        };
        engine.refresh()?;
        Ok(engine)
    }

    /// The ids of every job, sorted.
    pub fn job_ids(&self) -> Vec<String> {
        self.lock().jobs.keys().cloned().collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn error(&self, message: String) -> EngineError {
        EngineError::JobSet {
            path: self.path.display().to_string(),
            message,
        }
    }

    fn parse(&self, text: &str) -> Result<BTreeMap<String, (JobSpec, Duration)>, EngineError> {
        let file: JobFile = toml::from_str(text)
            .map_err(|e| self.error(e.to_string().trim_end().replace('\n', " ")))?;
        let mut jobs = BTreeMap::new();
        for spec in file.job {
            if !valid_job_id(&spec.name) {
                return Err(self.error(format!(
                    "job name `{}` is not allowed: use letters, digits, `-`, `_` and `.`",
                    spec.name
                )));
            }
            if spec.command.is_empty() {
                return Err(self.error(format!("job `{}` has an empty command", spec.name)));
            }
            let period = parse_interval(&spec.every)
                .map_err(|e| self.error(format!("job `{}`: {e}", spec.name)))?;
            let name = spec.name.clone();
            if jobs.insert(name.clone(), (spec, period)).is_some() {
                return Err(self.error(format!("job name `{name}` appears twice")));
            }
        }
        Ok(jobs)
    }

    /// Claim the occurrence due at or before `now` (compare-and-set on next_run) and start it.
    fn claim_and_run(&self, job: &mut Job, now: SystemTime) -> Result<bool, EngineError> {
        if job.next_run > now {
            return Ok(false);
        }
        let scheduled = job.next_run;
        job.next_run = next_multiple_after(now, job.period);
        let lateness = now.duration_since(scheduled).unwrap_or_default();
        log::info!(
            "fire job={} scheduled={} late={}ms",
            job.spec.name,
            format_instant(scheduled),
            lateness.as_millis()
        );
        spawn_job(&job.spec.name, &job.spec.command, &self.output_dir).map_err(|message| {
            EngineError::Job {
                job: job.spec.name.clone(),
                message,
            }
        })?;
        Ok(true)
    }
}

impl Engine for JobFileEngine {
    fn tick(&self) -> Result<TickReport, EngineError> {
        let now = SystemTime::now();
        let mut report = TickReport::default();
        let mut state = self.lock();
        for job in state.jobs.values_mut() {
            match self.claim_and_run(job, now) {
                Ok(true) => report.fired += 1,
                Ok(false) => {}
                Err(e) => {
                    log::warn!("{e}");
                    report.errors += 1;
                }
            }
        }
        Ok(report)
    }

    fn fire_due(&self, job_id: &str) -> Result<FireOutcome, EngineError> {
        let now = SystemTime::now();
        let mut state = self.lock();
        let Some(job) = state.jobs.get_mut(job_id) else {
            return Ok(FireOutcome::NoSuchJob);
        };
        Ok(match self.claim_and_run(job, now)? {
            true => FireOutcome::Fired,
            false => FireOutcome::ClaimLost,
        })
    }

    fn due_job_ids(&self) -> Result<Vec<String>, EngineError> {
        let now = SystemTime::now();
        let state = self.lock();
        Ok(state
            .jobs
            .values()
            .filter(|job| job.next_run <= now)
            .map(|job| job.spec.name.clone())
            .collect())
    }

    fn next_due(&self) -> Option<SystemTime> {
        self.lock().jobs.values().map(|job| job.next_run).min()
    }

    fn refresh(&self) -> Result<bool, EngineError> {
        let modified = match std::fs::metadata(&self.path) {
            Ok(meta) => Some(meta.modified().unwrap_or(UNIX_EPOCH)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(self.error(format!("cannot read: {e}"))),
        };
        if self.lock().modified == modified && modified.is_some() {
            return Ok(false);
        }
        let parsed = match modified {
            None => BTreeMap::new(),
            Some(_) => {
                let text = std::fs::read_to_string(&self.path)
                    .map_err(|e| self.error(format!("cannot read: {e}")))?;
                self.parse(&text)?
            }
        };
        let now = SystemTime::now();
        let mut state = self.lock();
        let mut previous = std::mem::take(&mut state.jobs);
        let changed = state.modified.is_some() || modified.is_some();
        state.modified = modified;
        for (name, (spec, period)) in parsed {
            let next_run = match previous.remove(&name) {
                Some(old) if old.period == period => old.next_run,
                _ => next_multiple_after(now, period),
            };
            state.jobs.insert(
                name,
                Job {
                    spec,
                    period,
                    next_run,
                },
            );
        }
        Ok(changed)
    }
}

/// Parse `30s`, `5m`, `2h`, `1d`, `every 30s`, `every hour`.
pub fn parse_interval(text: &str) -> Result<Duration, String> {
    let trimmed = text.trim();
    let body = trimmed.strip_prefix("every ").unwrap_or(trimmed).trim();
    let unit_seconds = |unit: &str| match unit {
        "s" | "sec" | "second" | "seconds" => Some(1),
        "m" | "min" | "minute" | "minutes" => Some(60),
        "h" | "hour" | "hours" => Some(3600),
        "d" | "day" | "days" => Some(86_400),
        _ => None,
    };
    let split = body
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(body.len());
    let (digits, unit) = body.split_at(split);
    let count: u64 = if digits.is_empty() {
        1
    } else {
        digits
            .parse()
            .map_err(|_| format!("interval `{text}` is too large"))?
    };
    match unit_seconds(unit.trim()) {
        Some(seconds) if count > 0 => count
            .checked_mul(seconds)
            .map(Duration::from_secs)
            .ok_or_else(|| format!("interval `{text}` is too large")),
        _ => Err(format!(
            "interval `{text}` is not understood; write e.g. `30s`, `5m`, `2h`, `1d` or `every hour`"
        )),
    }
}

/// The first multiple of `period` since the epoch strictly after `now`.
fn next_multiple_after(now: SystemTime, period: Duration) -> SystemTime {
    let since = now
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    let period_ns = period.as_nanos().max(1);
    let next = (since / period_ns + 1) * period_ns;
    UNIX_EPOCH + Duration::from_nanos(u64::try_from(next).unwrap_or(u64::MAX))
}

/// An instant as `seconds.millis` since the epoch, for log lines.
pub(crate) fn format_instant(instant: SystemTime) -> String {
    let since = instant.duration_since(UNIX_EPOCH).unwrap_or_default();
    format!("{}.{:03}", since.as_secs(), since.subsec_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_parse_and_bad_ones_are_refused() {
        assert_eq!(parse_interval("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_interval("every 5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_interval("every hour"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_interval("1d"), Ok(Duration::from_secs(86_400)));
        for bad in ["", "0s", "5 parsecs", "every", "99999999999999999999s"] {
            assert!(parse_interval(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn occurrences_fall_on_period_multiples() {
        let now = UNIX_EPOCH + Duration::from_millis(10_500);
        let next = next_multiple_after(now, Duration::from_secs(5));
        assert_eq!(next, UNIX_EPOCH + Duration::from_secs(15));
        let on_boundary = UNIX_EPOCH + Duration::from_secs(15);
        assert_eq!(
            next_multiple_after(on_boundary, Duration::from_secs(5)),
            UNIX_EPOCH + Duration::from_secs(20)
        );
    }

    #[test]
    fn a_bad_job_file_is_refused_and_the_previous_set_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("jobs.toml");
        std::fs::write(
            &path,
            "[[job]]\nname = \"a\"\nevery = \"1s\"\ncommand = [\"true\"]\n",
        )
        .unwrap();
        let engine = JobFileEngine::open(&path, dir.path()).unwrap();
        assert_eq!(engine.job_ids(), ["a"]);
        std::fs::write(
            &path,
            "[[job]]\nname = \"../x\"\nevery = \"1s\"\ncommand = [\"true\"]\n",
        )
        .unwrap();
        // Make sure the modification time differs even on coarse-grained file systems.
        let later = SystemTime::now() + Duration::from_secs(5);
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(later)
            .unwrap();
        let error = engine.refresh().unwrap_err().to_string();
        assert!(
            error.contains("../x") && error.contains("jobs.toml"),
            "{error}"
        );
        assert_eq!(engine.job_ids(), ["a"]);
    }

    #[test]
    fn claiming_is_compare_and_set() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("jobs.toml");
        std::fs::write(
            &path,
            "[[job]]\nname = \"a\"\nevery = \"1h\"\ncommand = [\"true\"]\n",
        )
        .unwrap();
        let engine = JobFileEngine::open(&path, dir.path()).unwrap();
        assert_eq!(
            engine.fire_due("a").unwrap(),
            FireOutcome::ClaimLost,
            "not due yet"
        );
        assert_eq!(engine.fire_due("nope").unwrap(), FireOutcome::NoSuchJob);
        // Make it due, then two claims race: exactly one wins.
        engine.lock().jobs.get_mut("a").unwrap().next_run = SystemTime::now();
        assert_eq!(engine.due_job_ids().unwrap(), ["a"]);
        let outcomes = [engine.fire_due("a").unwrap(), engine.fire_due("a").unwrap()];
        assert_eq!(outcomes, [FireOutcome::Fired, FireOutcome::ClaimLost]);
    }
}
