//! [`HostBuilder`]: where an embedded host keeps its state and what configuration it uses.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use super::{Host, HostError};
use crate::config::Config;
use crate::home::Home;

/// Builds a [`Host`]. Only the home is required.
#[derive(Default)]
pub struct HostBuilder {
    home: Option<PathBuf>,
    plugins_dir: Option<PathBuf>,
    config: Option<Config>,
}

impl HostBuilder {
    /// The home directory (job store, state, output); created 0700 when missing.
    pub fn home(mut self, dir: impl Into<PathBuf>) -> Self {
        self.home = Some(dir.into());
        self
    }

    /// Where provider libraries are found (default: `cron.plugins_dir` of the config).
    pub fn plugins_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.plugins_dir = Some(dir.into());
        self
    }

    /// The configuration (default: the home's `cronhost.toml`, or the defaults without one).
    pub fn config(mut self, config: Config) -> Self {
        self.config = Some(config);
        self
    }

    /// Open the home and its store. Nothing runs until [`Host::start`]. A home that breaks the
    /// home policy (another user could write it) is refused, as by the `cronhost` commands.
    pub fn build(self) -> Result<Host, HostError> {
        let home = Home::open(self.home.ok_or(HostError::NoHome)?)?;
        home.check_policy()?;
        let mut config = match self.config {
            Some(config) => config,
            None => Config::load(&home)?,
        };
        if let Some(dir) = self.plugins_dir {
            config.cron.plugins_dir = dir;
        }
        let engine = home.open_engine(config.cron.engine_settings())?;
        if let Err(e) = engine.settle_orphaned_runs() {
            log::warn!("cannot settle runs left by dead processes: {e}");
        }
        Ok(Host {
            home,
            config,
            engine: Arc::new(engine),
            running: Mutex::new(None),
            lifecycle: Mutex::new(()),
        })
    }
}
