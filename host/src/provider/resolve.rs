//! Choosing the trigger from `cron.provider`, falling back to the built-in ticker on any doubt.

use std::sync::Arc;

use super::builtin::BUILTIN_NAME;
use super::guard::ProviderHandle;
use crate::config::{Config, Fallback};
use crate::plugins::Discovery;

/// What drives the fires.
#[derive(Debug, Clone)]
pub enum Trigger {
    /// The built-in in-process ticker.
    Builtin,
    /// A provider from a library.
    Provider(Arc<ProviderHandle>),
    /// Nothing fires: the selected provider is unusable and `cron.fallback = "none"`.
    Paused(String),
}

impl Trigger {
    /// `builtin` or the provider's name.
    pub fn name(&self) -> &str {
        match self {
            Trigger::Builtin => BUILTIN_NAME,
            Trigger::Provider(provider) => provider.name(),
            Trigger::Paused(_) => "paused",
        }
    }
}

/// The outcome of resolving `cron.provider`.
#[derive(Debug, Clone)]
pub struct Resolution {
    /// What drives the fires.
    pub trigger: Trigger,
    /// The provider the config asked for, if not the built-in.
    pub requested: Option<String>,
    /// Why the requested provider is not used, when it is not.
    pub fallback_reason: Option<String>,
}

/// Resolve `cron.provider` against the discovered libraries. Never fails: an empty or built-in
/// name selects the built-in ticker (INFO); an unknown, unavailable, failing or panicking
/// provider falls back to it with a WARN saying why; a usable one is selected (INFO).
pub fn resolve(config: &Config, discovery: &Discovery) -> Resolution {
    let Some(requested) = config.selected_provider() else {
        log::info!("cron.provider selects the built-in ticker");
        return Resolution {
            trigger: Trigger::Builtin,
            requested: None,
            fallback_reason: None,
        };
    };
    match try_provider(requested, config, discovery) {
        Ok(provider) => {
            log::info!(
                "provider `{requested}` from {} drives the fires",
                provider.origin().display()
            );
            Resolution {
                trigger: Trigger::Provider(Arc::new(provider)),
                requested: Some(requested.to_owned()),
                fallback_reason: None,
            }
        }
        Err(reason) if config.cron.fallback == Fallback::None => {
            log::error!(
                "{reason}; cron.fallback = \"none\": NOTHING FIRES on this host until it is fixed"
            );
            Resolution {
                trigger: Trigger::Paused(reason.clone()),
                requested: Some(requested.to_owned()),
                fallback_reason: Some(reason),
            }
        }
        Err(reason) => {
            log::warn!("{reason}; using the built-in ticker");
            Resolution {
                trigger: Trigger::Builtin,
                requested: Some(requested.to_owned()),
                fallback_reason: Some(reason),
            }
        }
    }
}

fn try_provider(
    name: &str,
    config: &Config,
    discovery: &Discovery,
) -> Result<ProviderHandle, String> {
    let Some(discovered) = discovery.find(name) else {
        let available = discovery.names();
        let available = if available.is_empty() {
            "none".to_owned()
        } else {
            available.join(", ")
        };
        return Err(format!(
            "cron.provider `{name}` is not installed in {} (available: {available})",
            discovery.dir.display()
        ));
    };
    let provider = ProviderHandle::open(discovered, config).map_err(|e| e.to_string())?;
    match provider.is_available() {
        Ok(true) => Ok(provider),
        Ok(false) => Err(format!("provider `{name}` reports it is not available")),
        Err(e) => Err(e.to_string()),
    }
}
