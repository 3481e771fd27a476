//! Job control through the API: add, list, pause, resume, edit, run now and remove, with the
//! rules the `cronhost jobs` commands apply (the same store calls under both).

use cronhost_core::store::{Edited, Job, JobSpec, Run, StateChange};

use super::{Host, HostError};

impl Host {
    /// Add a job; the running host picks it up at once. Refused (nothing stored) on a bad
    /// schedule, zone or command, or a name already taken.
    pub fn add_job(&self, spec: &JobSpec) -> Result<Job, HostError> {
        Ok(self.engine.store().add_job(
            spec,
            &self.config.cron.timezone,
            cronhost_core::clock::now(),
        )?)
    }

    /// Every job.
    pub fn jobs(&self) -> Result<Vec<Job>, HostError> {
        Ok(self.engine.store().jobs()?)
    }

    /// One job, by id or name.
    pub fn job(&self, id_or_name: &str) -> Result<Job, HostError> {
        Ok(self.engine.store().job(id_or_name)?)
    }

    /// Pause a job (`cronhost jobs pause`): it fires no more until resumed. Pausing a paused
    /// job keeps when it was paused, and its reason unless `reason` gives a new one.
    pub fn pause_job(&self, id_or_name: &str, reason: Option<&str>) -> Result<Job, HostError> {
        let (job, _) =
            self.engine
                .store()
                .pause_job(id_or_name, reason, cronhost_core::clock::now())?;
        Ok(job)
    }

    /// Resume a paused job from its next future occurrence (`cronhost jobs resume`); whether
    /// it was paused. A job that is not paused is left as it is.
    pub fn resume_job(&self, id_or_name: &str) -> Result<(Job, bool), HostError> {
        let (job, change) =
            self.engine
                .store()
                .resume_job(id_or_name, None, cronhost_core::clock::now())?;
        Ok((job, change == StateChange::Changed))
    }

    /// Change a job's definition (`cronhost jobs edit`): `change` edits its spec; the job
    /// keeps its id, history and state. Refused, with nothing changed, when the result is not
    /// a valid job.
    ///
    /// ```no_run
    /// # let host = cronhost::Host::builder().home("/tmp/h").build()?;
    /// let edited = host.edit_job("report", |spec| spec.timeout_secs = Some(60))?;
    /// for change in edited.changes() {
    ///     println!("{}: {} -> {}", change.field, change.before, change.after);
    /// }
    /// # Ok::<(), cronhost::HostError>(())
    /// ```
    pub fn edit_job(
        &self,
        id_or_name: &str,
        change: impl FnOnce(&mut JobSpec),
    ) -> Result<Edited, HostError> {
        Ok(self.engine.store().edit_job(
            id_or_name,
            change,
            &self.config.cron.timezone,
            cronhost_core::clock::now(),
        )?)
    }

    /// Run a job now, outside its schedule (`cronhost jobs run`), in this process: a manual
    /// run that leaves the schedule and repeat count alone. Returns the run's id at once; its
    /// end comes as a [`RunEvent::Finished`](cronhost_core::events::RunEvent).
    pub fn run_job_now(&self, id_or_name: &str) -> Result<String, HostError> {
        Ok(self.engine.run_now(id_or_name)?)
    }

    /// Remove a job (its history stays); returns it.
    pub fn remove_job(&self, id_or_name: &str) -> Result<Job, HostError> {
        Ok(self.engine.store().remove_job(id_or_name)?)
    }

    /// The run history, newest first: of one job (id or name) or all, at most `limit` runs.
    pub fn runs(&self, job: Option<&str>, limit: usize) -> Result<Vec<Run>, HostError> {
        let job_id = match job {
            Some(id_or_name) => Some(self.job(id_or_name)?.id),
            None => None,
        };
        Ok(self.engine.store().runs(job_id.as_deref(), limit)?)
    }

    /// One run, by id.
    pub fn run(&self, run_id: &str) -> Result<Option<Run>, HostError> {
        Ok(self.engine.store().run(run_id)?)
    }
}
