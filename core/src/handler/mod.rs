//! In-process jobs: handlers the embedding application registers by name, the context a run
//! gets (its job, its output, its cancellation token), and async handlers on the
//! application's own runtime. The runner ([`run`](crate::run)) starts them; this module only
//! says what a handler is.

mod cancel;
mod context;
mod registry;
mod task;

pub use cancel::{CancelReason, CancelToken, Cancelled};
pub use context::{RunContext, RunOutput};

pub(crate) use context::OutputTarget;
pub use registry::{BoxError, Handler, Handlers, IntoRunResult};
pub use task::{AsyncHandler, BoxFuture, Spawn};

pub(crate) use registry::{error_chain, Registered};
