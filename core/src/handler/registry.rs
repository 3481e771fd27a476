//! Handlers by name: the [`Handler`] trait a blocking closure implements, what a handler may
//! return ([`IntoRunResult`]), and the registry a host keeps ([`Handlers`]).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use super::task::{AsyncHandler, Spawn};
use super::RunContext;
use crate::store::StoreError;

/// The error a handler returns: any error, kept with its sources; the run's recorded error is
/// its message followed by its sources' (`outer: inner`).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What a handler may return: nothing (it succeeded, or panicked), or a `Result` whose error
/// is any [`std::error::Error`] (or a `String`/`&str`).
pub trait IntoRunResult {
    /// The run's result.
    fn into_run_result(self) -> Result<(), BoxError>;
}

impl IntoRunResult for () {
    fn into_run_result(self) -> Result<(), BoxError> {
        Ok(())
    }
}

impl<E: Into<BoxError>> IntoRunResult for Result<(), E> {
    fn into_run_result(self) -> Result<(), BoxError> {
        self.map_err(Into::into)
    }
}

/// A blocking in-process job. It runs on a thread of its own for every occurrence the host
/// claims, with the same exactly-once, overlap, catch-up and retry rules as a command; a panic
/// is caught and recorded as a failed run. Closures implement it:
///
/// ```
/// use std::io::Write;
/// use cronhost_core::handler::{Handler, RunContext};
///
/// let report = |run: &mut RunContext| -> std::io::Result<()> {
///     writeln!(run, "report for {}", run.scheduled_at())?; // lands in the run's output
///     Ok(())
/// };
/// fn takes(_: impl Handler) {}
/// takes(report);
/// takes(|_: &mut RunContext| {}); // returning nothing is success
/// ```
pub trait Handler: Send + Sync + 'static {
    /// Run one occurrence to completion.
    fn run(&self, run: &mut RunContext) -> Result<(), BoxError>;
}

impl<F, R> Handler for F
where
    F: Fn(&mut RunContext) -> R + Send + Sync + 'static,
    R: IntoRunResult,
{
    fn run(&self, run: &mut RunContext) -> Result<(), BoxError> {
        self(run).into_run_result()
    }
}

/// A handler as registered: blocking, or async with the runtime that runs it.
#[derive(Clone)]
pub(crate) enum Registered {
    Blocking(Arc<dyn Handler>),
    Async {
        handler: Arc<dyn AsyncHandler>,
        spawn: Arc<dyn Spawn>,
    },
}

/// The handlers of one host, by name. A job whose `handler` names none of them fails with a
/// reason that says so; it never silently succeeds.
///
/// ```
/// use cronhost_core::handler::{Handlers, RunContext};
///
/// let handlers = Handlers::default();
/// handlers.register("greet", |_: &mut RunContext| {})?;
/// assert_eq!(handlers.names(), ["greet"]);
/// assert!(handlers.register("", |_: &mut RunContext| {}).is_err());
/// # Ok::<(), cronhost_core::store::StoreError>(())
/// ```
#[derive(Default)]
pub struct Handlers {
    by_name: RwLock<HashMap<String, Registered>>,
}

impl Handlers {
    /// Register (or replace) the blocking handler `name`. Names follow the job-name rules.
    pub fn register(&self, name: &str, handler: impl Handler) -> Result<(), StoreError> {
        self.insert(name, Registered::Blocking(Arc::new(handler)))
    }

    /// Register (or replace) the async handler `name`, whose runs are spawned with `spawn`.
    pub fn register_async(
        &self,
        name: &str,
        handler: impl AsyncHandler,
        spawn: impl Spawn,
    ) -> Result<(), StoreError> {
        self.insert(
            name,
            Registered::Async {
                handler: Arc::new(handler),
                spawn: Arc::new(spawn),
            },
        )
    }

    fn insert(&self, name: &str, handler: Registered) -> Result<(), StoreError> {
        crate::store::check_handler_name(name)?;
        self.by_name
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(name.to_owned(), handler);
        Ok(())
    }

    /// Forget the handler `name`; whether there was one. Its job's next runs fail.
    pub fn unregister(&self, name: &str) -> bool {
        self.by_name
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(name)
            .is_some()
    }

    /// Whether a handler of this name is registered.
    pub fn contains(&self, name: &str) -> bool {
        self.by_name
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .contains_key(name)
    }

    /// The registered names, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .by_name
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .keys()
            .cloned()
            .collect();
        names.sort();
        names
    }

    pub(crate) fn get(&self, name: &str) -> Option<Registered> {
        self.by_name
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
            .cloned()
    }
}

/// `error` and its sources, `outer: inner`, as a run records it.
pub(crate) fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        let inner_text = inner.to_string();
        // Errors that print their source themselves are not repeated.
        if !text.ends_with(&inner_text) {
            text.push_str(": ");
            text.push_str(&inner_text);
        }
        source = inner.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("cannot send the report")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn the_recorded_error_keeps_its_sources() {
        let error = Outer(std::io::Error::other("connection refused"));
        assert_eq!(
            error_chain(&error),
            "cannot send the report: connection refused"
        );
    }

    #[test]
    fn strings_and_errors_are_both_run_results() {
        assert!(().into_run_result().is_ok());
        let failed: Result<(), &str> = Err("no data");
        assert_eq!(failed.into_run_result().unwrap_err().to_string(), "no data");
    }
}
