//! Providers as the host sees them: resolution, the guard around every call, the built-in
//! ticker, the services handed to a provider, and the thread that drives the fires.

mod backend;
mod builtin;
mod guard;
mod open;
mod quarantine;
mod resolve;
mod services;
mod stop;
mod supervisor;

pub use backend::{Abandonment, Failure, InProcess, ProviderBackend};
pub use builtin::{run_builtin_ticker, BUILTIN_NAME};
pub use cronhost_core::StopFlag;
pub use guard::{
    bound_status, ProviderCallError, ProviderHandle, DEFAULT_CALL_DEADLINE, KILLED,
    MAX_ERROR_BYTES, MAX_STATUS_BYTES,
};
pub use quarantine::Quarantine;
pub use resolve::{resolve, Resolution, Trigger};
pub use services::{Core, Services, MAX_PROVIDER_LOG_BYTES};
pub use stop::stop_signal;
pub use supervisor::{spawn_ticker, Backoff, Ticker};
