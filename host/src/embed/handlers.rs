//! In-process handlers by name, the jobs they run (`schedule`: add or update, idempotent
//! across restarts), and run events for the application to react to.

use std::sync::mpsc::Receiver;

use cronhost_core::events::RunEvent;
use cronhost_core::handler::Handler;
use cronhost_core::store::{Job, JobSpec, StoreError};

use super::{Host, HostError};

impl Host {
    /// Register `handler` as the in-process handler `name` (replacing any of that name): the
    /// jobs whose `handler` is `name` run through it, in this process. A job whose handler is
    /// registered in no running process fails with a reason that says so.
    pub fn handle(&self, name: &str, handler: impl Handler) -> Result<(), HostError> {
        Ok(self.engine.runner().handlers().register(name, handler)?)
    }

    /// Register `handler` as `name` and make sure the job `name` runs it on `schedule`: added
    /// the first time, its schedule brought up to date after (it keeps its id, history, state
    /// and every other setting, an operator's `jobs edit` included). Refused when a job of
    /// that name exists that is not this handler's (a command job, say): nothing is replaced.
    ///
    /// ```no_run
    /// # let host = cronhost::Host::builder().home("/tmp/h").build()?;
    /// use cronhost::RunContext;
    ///
    /// let job = host.schedule("greet", "0 9 * * 1-5", |_: &mut RunContext| {
    ///     println!("good morning");
    /// })?;
    /// assert_eq!(job.handler.as_deref(), Some("greet"));
    /// # Ok::<(), cronhost::HostError>(())
    /// ```
    pub fn schedule(
        &self,
        name: &str,
        schedule: &str,
        handler: impl Handler,
    ) -> Result<Job, HostError> {
        self.schedule_with(name, schedule, || self.handle(name, handler))
    }

    /// Register the handler `name` with `register`, then add the job `name` or bring its
    /// schedule up to date. Registered first, so that no tick finds the job without its
    /// handler; a refused job unregisters a handler registered here, so a refusal leaves
    /// nothing behind.
    pub(super) fn schedule_with(
        &self,
        name: &str,
        schedule: &str,
        register: impl FnOnce() -> Result<(), HostError>,
    ) -> Result<Job, HostError> {
        let handlers = self.engine.runner().handlers();
        let had = handlers.contains(name);
        register()?;
        self.schedule_job(name, schedule).inspect_err(|_| {
            if !had {
                handlers.unregister(name);
            }
        })
    }

    /// The job `name` run by the handler `name` on `schedule`, added or brought up to date.
    fn schedule_job(&self, name: &str, schedule: &str) -> Result<Job, HostError> {
        let spec = JobSpec::handled_by(schedule, name);
        let store = self.engine.store();
        let existing = match store.job(name) {
            Ok(job) => Some(job),
            Err(StoreError::NoSuchJob(_)) => None,
            Err(e) => return Err(e.into()),
        };
        let Some(existing) = existing else {
            return self.add_job(&spec);
        };
        if existing.handler.as_deref() != Some(name) {
            let runs = match &existing.handler {
                Some(other) => format!("the handler `{other}`"),
                None => format!("the command `{}`", existing.command.join(" ")),
            };
            return Err(HostError::NotThisHandlersJob {
                name: name.to_owned(),
                runs,
            });
        }
        if existing.schedule_text == spec.schedule.trim() {
            return Ok(existing);
        }
        Ok(self
            .edit_job(&existing.id, |stored| stored.schedule = spec.schedule)?
            .after)
    }

    /// A channel that receives every run event from now on (started, finished, skipped), of
    /// command jobs and in-process jobs alike. Dropping the receiver unsubscribes.
    ///
    /// ```no_run
    /// # let host = cronhost::Host::builder().home("/tmp/h").build()?;
    /// use cronhost::events::RunEvent;
    ///
    /// let events = host.events();
    /// std::thread::spawn(move || {
    ///     for event in events {
    ///         if let RunEvent::Finished { job_name, status, .. } = event {
    ///             println!("{job_name}: {status}");
    ///         }
    ///     }
    /// });
    /// # Ok::<(), cronhost::HostError>(())
    /// ```
    pub fn events(&self) -> Receiver<RunEvent> {
        self.engine.runner().events().subscribe()
    }

    /// Call `callback` with every run event from now on, on the thread where it happened:
    /// keep it short (hand long work to a thread or a channel). A panic in it is caught.
    pub fn on_event(&self, callback: impl Fn(&RunEvent) + Send + Sync + 'static) {
        self.engine.runner().events().on_event(callback);
    }
}
