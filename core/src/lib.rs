//! cronhost-core: what firing a job means, independent of what triggers it.
//!
//! Schedules ([`schedule`]), the job store and its exactly-once claims ([`store`]), the engine
//! that scans, claims and starts due occurrences ([`engine`]), the runner that runs a claimed
//! occurrence as a child process or in-process through a handler the application registered
//! ([`handler`], [`run`]), what they tell of runs ([`events`]), and the few pieces they share:
//! the clock, the stop flag, the file policy, counters and safe text.
//! It takes paths and settings; it knows nothing of plugins, providers, config files or the
//! command line (those live in the `cronhost` crate and the `cronhost` binary).
//!
//! ```no_run
//! use cronhost_core::engine::{CronEngine, CronEngineSettings, Engine};
//! use cronhost_core::store::JobSpec;
//!
//! let engine = CronEngine::open(
//!     "/tmp/cronhost-demo/cron/cronhost.db".as_ref(),
//!     "/tmp/cronhost-demo/cron/output".as_ref(),
//!     CronEngineSettings::default(),
//! )?;
//! engine
//!     .store()
//!     .add_job(&JobSpec::new("*/5 * * * * *", ["true"]), "UTC", cronhost_core::clock::now())?;
//! let report = engine.tick()?; // claims and starts whatever is due now
//! println!("{} fired", report.fired);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

pub mod clock;
pub mod engine;
pub mod events;
pub mod fs;
pub mod handler;
pub mod metrics;
mod output_files;
pub mod run;
pub mod schedule;
mod stop;
pub mod store;
pub mod text;

pub use stop::StopFlag;
