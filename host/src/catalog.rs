//! The provider catalogue behind `cronhost providers`: what is installed, usable and selected.

use std::path::PathBuf;

use serde::Serialize;

use crate::config::Config;
use crate::plugins::{Discovery, Rejected};
use crate::provider::{ProviderHandle, BUILTIN_NAME};

/// One selectable provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProviderRow {
    /// Its name.
    pub name: String,
    /// The library's version.
    pub version: String,
    /// The provider-api version it was built against.
    pub api_version: String,
    /// The library file.
    pub path: PathBuf,
    /// Its SHA-256, for `cron.plugin_allowlist` (empty for the built-in ticker).
    pub sha256: String,
    /// Whether it constructs and reports itself available with the current config.
    pub available: bool,
    /// Where it runs: `in-process` or `process` (`[providers.NAME] isolation`).
    pub isolation: &'static str,
}

/// Everything `cronhost providers` shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Catalog {
    /// The trigger `cronhost run` would use now.
    pub selected: String,
    /// Selectable providers, the built-in first.
    pub providers: Vec<ProviderRow>,
    /// Files and providers that were rejected, with reasons.
    pub rejected: Vec<Rejected>,
}

impl Catalog {
    /// Probe every discovered provider (construct with its config section and ask
    /// `is_available`) and resolve the selection as `cronhost run` would.
    pub fn build(config: &Config, discovery: &Discovery) -> Self {
        let mut rows = vec![ProviderRow {
            name: BUILTIN_NAME.into(),
            version: env!("CARGO_PKG_VERSION").into(),
            api_version: cronhost_provider_api::API_VERSION.into(),
            path: PathBuf::from("(built in)"),
            sha256: String::new(),
            available: true,
            isolation: "in-process",
        }];
        let mut rejected = discovery.rejected.clone();
        for discovered in &discovery.providers {
            let library = &discovered.library;
            match ProviderHandle::open(discovered, config) {
                Ok(provider) => {
                    let available = match provider.is_available() {
                        Ok(available) => available,
                        Err(error) => {
                            rejected.push(Rejected {
                                path: library.path.clone(),
                                reason: error.to_string(),
                            });
                            false
                        }
                    };
                    rows.push(ProviderRow {
                        name: discovered.name().to_owned(),
                        version: library.library_version.clone(),
                        api_version: library.api_version.clone(),
                        path: library.path.clone(),
                        sha256: library.sha256.clone(),
                        available,
                        isolation: match config.isolation(discovered.name()) {
                            crate::config::Isolation::InProcess => "in-process",
                            crate::config::Isolation::Process => "process",
                        },
                    });
                }
                Err(error) => rejected.push(Rejected {
                    path: library.path.clone(),
                    reason: error.to_string(),
                }),
            }
        }
        // The resolver's rule, applied to the probes above (without constructing again).
        let selected = match config.selected_provider() {
            Some(name) if rows.iter().any(|row| row.name == name && row.available) => {
                name.to_owned()
            }
            _ => BUILTIN_NAME.to_owned(),
        };
        Self {
            selected,
            providers: rows,
            rejected,
        }
    }
}
