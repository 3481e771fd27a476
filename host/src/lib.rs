//! cronhost: a cron host whose trigger is a plug-in.
//!
//! The host owns what firing means (the [`engine`]); a *provider* decides when. Providers are
//! shared libraries built on `cronhost-provider-api`, found in a plugins directory
//! ([`plugins`]) and selected by the config key `cron.provider` ([`config`]). The built-in
//! ticker ([`provider::run_builtin_ticker`]) is compiled in and takes over whenever a provider
//! is missing, unavailable or failing; every call into a provider is guarded
//! ([`provider::ProviderHandle`]).
//!
//! ```no_run
//! use std::sync::Arc;
//! use cronhost::{config::Config, home::Home, Daemon};
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

pub mod catalog;
pub mod config;
pub mod crash_guard;
mod daemon;
mod embed;
pub mod heartbeat;
pub mod home;
pub mod isolate;
pub mod lock;
pub mod metrics;
pub mod plugins;
pub mod provider;
pub mod status;
mod subprocess;
#[cfg(feature = "testing")]
pub mod testing;

pub use cronhost_core::{
    clock, engine, run, schedule, store, text, JobOutcome, JobRun, JobRunner, StopFlag,
};
pub use daemon::{Daemon, DaemonError, SupervisorEnd};
pub use embed::{Host, HostBuilder, HostError};
