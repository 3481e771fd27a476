//! The host as a library: build one ([`HostBuilder`]), register in-process handlers and
//! schedule their jobs, control jobs, hear of runs, start and stop it, all from inside another
//! Rust application. Lifecycle (`host.rs`), the builder (`builder.rs`), job control
//! (`jobs.rs`) and handlers and events (`handlers.rs`) are separate files over one [`Host`].

mod builder;
mod handlers;
mod host;
mod jobs;
#[cfg(feature = "tokio")]
mod tokio_runtime;

pub use builder::HostBuilder;
pub use host::{Host, HostError};
