//! cronhost: a cron host whose trigger is a plug-in.
//!
//! The host owns what firing means (the [`engine`]); a *provider* decides when. Providers are
//! shared libraries built on `cronhost-provider-api`, found in a plugins directory
//! ([`plugins`]) and selected by the config key `cron.provider` ([`Config`]). The built-in
//! ticker ([`provider::run_builtin_ticker`]) is compiled in and takes over whenever a provider
//! is missing, unavailable or failing; every call into a provider is guarded
//! ([`provider::ProviderHandle`]).
//!
//! ```no_run
//! use std::sync::Arc;
//! use cronhost::{Config, Daemon, Home};
//!
//! let home = Home::open("/tmp/cronhost-demo")?;
//! let config = Config::load(&home)?;
//! let engine = home.open_engine(config.cron.engine_settings())?;
//! let daemon = Daemon::start(&home, config, Arc::new(engine))?;
//! daemon.stop_flag().set(); // from a signal handler, in a real program
//! daemon.supervise(|| false);
//! daemon.shutdown();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

mod catalog;
mod config;
mod crash_guard;
mod crontab;
mod daemon;
mod embed;
mod heartbeat;
mod home;
mod isolate;
mod job_file;
mod lock;
mod metrics;
pub mod plugins;
pub mod provider;
pub mod status;
mod subprocess;
#[cfg(feature = "testing")]
pub mod testing;
mod text_file;
mod workers;

pub use catalog::{Catalog, ProviderRow};
pub use config::{
    Config, ConfigError, CronConfig, Fallback, InvalidConfig, Isolation, JobOutput, MetricsConfig,
};
pub use crash_guard::{CrashGuard, CrashVerdict};
pub use cronhost_core::handler::{CancelReason, CancelToken, Handler, RunContext};
pub use cronhost_core::{clock, engine, events, handler, run, schedule, store, text, StopFlag};
pub use crontab::{
    Crontab, CrontabError, CrontabJob, CrontabOptions, LineError, LineProblem, LineWarning, Warning,
};
pub use daemon::{Daemon, DaemonError, HomeLost, SupervisorEnd};
pub use embed::{Host, HostBuilder, HostError};
pub use heartbeat::{Heartbeat, HeartbeatState};
pub use home::{Home, HomeError};
pub use isolate::serve_if_asked;
pub use job_file::{anchored_program, JobFile, JobFileError};
pub use lock::{DaemonLock, LockError, LockLost};
