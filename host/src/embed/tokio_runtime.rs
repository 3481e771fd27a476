//! The `tokio` feature: async handlers run as tasks on the application's own tokio runtime
//! (cronhost starts none), and run events as an async channel.

use cronhost_core::events::RunEvent;
use cronhost_core::handler::{AsyncHandler, BoxFuture, Spawn};
use cronhost_core::store::Job;

use super::{Host, HostError};

/// Spawns async runs on a tokio runtime.
struct TokioSpawn(tokio::runtime::Handle);

impl Spawn for TokioSpawn {
    fn spawn(&self, task: BoxFuture<()>) {
        self.0.spawn(task);
    }

    fn spawn_blocking(&self, work: Box<dyn FnOnce() + Send + 'static>) {
        self.0.spawn_blocking(work);
    }
}

impl Host {
    /// Register the async `handler` as `name`; its runs are tasks on the tokio runtime this is
    /// called from. Refused outside a runtime ([`HostError::NoRuntime`]).
    ///
    /// ```no_run
    /// # async fn app() -> Result<(), cronhost::HostError> {
    /// # let host = cronhost::Host::builder().home("/tmp/h").build()?;
    /// use cronhost::RunContext;
    ///
    /// host.handle_async("refresh", |run: RunContext| async move {
    ///     tokio::select! {
    ///         _ = run.cancel_token().cancelled() => Err("cancelled before the refresh ended"),
    ///         _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => Ok(()),
    ///     }
    /// })?;
    /// # Ok(()) }
    /// ```
    pub fn handle_async(&self, name: &str, handler: impl AsyncHandler) -> Result<(), HostError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| HostError::NoRuntime)?;
        Ok(self
            .engine
            .runner()
            .handlers()
            .register_async(name, handler, TokioSpawn(runtime))?)
    }

    /// [`Host::schedule`] for an async handler: the job `name` runs `handler` on `schedule`,
    /// as tasks on the runtime this is called from (the README's side by side with
    /// tokio-cron-scheduler).
    ///
    /// ```no_run
    /// # use cronhost::{Host, RunContext};
    /// # async fn refresh() -> Result<(), Box<dyn std::error::Error + Send + Sync>> { Ok(()) }
    /// # async fn app() -> Result<(), Box<dyn std::error::Error>> {
    /// let host = Host::builder().home("myapp-cron").build()?;
    /// host.schedule_async("refresh", "0 */5 * * * *", |run: RunContext| async move {
    ///     tokio::select! {
    ///         result = refresh() => result, // an error is recorded on the run, with its sources
    ///         reason = run.cancel_token().cancelled() => Err(format!("stopped: {reason}").into()),
    ///     }
    /// })?;
    /// host.start()?;
    /// # Ok(()) }
    /// ```
    pub fn schedule_async(
        &self,
        name: &str,
        schedule: &str,
        handler: impl AsyncHandler,
    ) -> Result<Job, HostError> {
        // Refused outside a runtime before anything is stored.
        self.schedule_with(name, schedule, || self.handle_async(name, handler))
    }

    /// [`Host::events`] as a tokio channel, for `while let Some(event) = events.recv().await`.
    /// Dropping the receiver unsubscribes.
    pub fn events_async(&self) -> tokio::sync::mpsc::UnboundedReceiver<RunEvent> {
        let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
        self.engine
            .runner()
            .events()
            .on_event_while(move |event| sender.send(event.clone()).is_ok());
        receiver
    }
}
