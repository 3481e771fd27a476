//! Async handlers: a handler that returns a future, and [`Spawn`], how the application's own
//! runtime is handed its runs. cronhost-core starts no runtime and depends on none; the
//! `cronhost` crate's `tokio` feature implements [`Spawn`] for a tokio runtime handle.

use std::future::Future;
use std::pin::Pin;

use super::{BoxError, IntoRunResult, RunContext};

/// A boxed future, as an async handler's run and a spawned task are passed around.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// An async in-process job: called with the run's context, it returns the future that does
/// the work. The same rules as a blocking [`Handler`](super::Handler); at its timeout's
/// grace, or at the shutdown deadline, a future still pending is dropped. Async closures (and
/// closures returning an `async` block) implement it:
///
/// ```
/// use cronhost_core::handler::{AsyncHandler, RunContext};
///
/// let refresh = |run: RunContext| async move {
///     if run.is_cancelled() {
///         return Err("stopped before it began");
///     }
///     Ok(())
/// };
/// fn takes(_: impl AsyncHandler) {}
/// takes(refresh);
/// ```
pub trait AsyncHandler: Send + Sync + 'static {
    /// The future that runs one occurrence.
    fn run(&self, run: RunContext) -> BoxFuture<Result<(), BoxError>>;
}

impl<F, Fut, R> AsyncHandler for F
where
    F: Fn(RunContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = R> + Send + 'static,
    R: IntoRunResult,
{
    fn run(&self, run: RunContext) -> BoxFuture<Result<(), BoxError>> {
        let future = self(run);
        Box::pin(async move { future.await.into_run_result() })
    }
}

/// Runs the tasks of async runs on the application's runtime.
pub trait Spawn: Send + Sync + 'static {
    /// Run `task` to completion on the runtime, without waiting for it.
    fn spawn(&self, task: BoxFuture<()>);

    /// Run `work`, which blocks (it records the run's end in the job store and may run the
    /// job's on-failure hook), where blocking does not stall the runtime's other tasks.
    fn spawn_blocking(&self, work: Box<dyn FnOnce() + Send + 'static>);
}
