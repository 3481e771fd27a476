//! Choosing the trigger from `cron.provider`, falling back to the built-in ticker on any doubt.

use std::sync::Arc;

use super::builtin::BUILTIN_NAME;
use super::guard::ProviderHandle;
use crate::config::{Config, Fallback, Isolation};
use crate::crash_guard::{Armed, CrashGuard};
use crate::plugins::Discovery;

/// What drives the fires.
#[derive(Debug, Clone)]
#[non_exhaustive]
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
    /// The crash-guard marker kept while the provider runs in this process; disarmed at a
    /// clean stop.
    pub armed: Option<Arc<Armed>>,
}

/// Resolve `cron.provider` against the discovered libraries. Never fails: an empty or built-in
/// name selects the built-in ticker (INFO); an unknown, unavailable, failing or panicking
/// provider falls back to it with a WARN saying why; a usable one is selected (INFO).
///
/// With a `crash_guard`, a provider under a crash verdict runs isolated whatever its
/// `isolation` says, and one about to be loaded into this process is marked first.
pub fn resolve(
    config: &Config,
    discovery: &Discovery,
    crash_guard: Option<&CrashGuard>,
) -> Resolution {
    let Some(requested) = config.selected_provider() else {
        log::info!("cron.provider selects the built-in ticker");
        return Resolution {
            trigger: Trigger::Builtin,
            requested: None,
            fallback_reason: None,
            armed: None,
        };
    };
    // Once a library is loaded into this process its code stays, whatever the constructor
    // said: the marker stays armed until a clean stop either way.
    let (tried, armed) = try_provider(requested, config, discovery, crash_guard);
    let armed = armed.map(Arc::new);
    match tried {
        Ok(provider) => {
            log::info!(
                "provider `{requested}` from {} drives the fires",
                provider.origin().display()
            );
            Resolution {
                trigger: Trigger::Provider(Arc::new(provider)),
                requested: Some(requested.to_owned()),
                fallback_reason: None,
                armed,
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
                armed: armed.clone(),
            }
        }
        Err(reason) => {
            log::warn!("{reason}; using the built-in ticker");
            Resolution {
                trigger: Trigger::Builtin,
                requested: Some(requested.to_owned()),
                fallback_reason: Some(reason),
                armed: armed.clone(),
            }
        }
    }
}

fn try_provider(
    name: &str,
    config: &Config,
    discovery: &Discovery,
    crash_guard: Option<&CrashGuard>,
) -> (Result<ProviderHandle, String>, Option<Armed>) {
    let Some(discovered) = discovery.find(name) else {
        let available = discovery.names();
        let available = if available.is_empty() {
            "none".to_owned()
        } else {
            available.join(", ")
        };
        let reason = format!(
            "cron.provider `{name}` is not installed in {} (available: {available})",
            discovery.dir.display()
        );
        return (Err(reason), None);
    };
    let file = &discovered.file;
    let mut isolation = config.isolation(name);
    let mut armed = None;
    if let (Isolation::InProcess, Some(guard)) = (isolation, crash_guard) {
        match guard.verdict_for(name, &file.sha256) {
            Some(verdict) => {
                log::error!(
                    "{verdict}: it runs isolated in a child process until its file changes or `cronhost providers clear {name}`"
                );
                isolation = Isolation::Process;
            }
            None => armed = guard.arm(name, &file.path, &file.sha256),
        }
    }
    let opened = ProviderHandle::open_as(discovered, config, isolation)
        .map_err(|e| e.to_string())
        .and_then(|provider| match provider.is_available() {
            Ok(true) => Ok(provider),
            Ok(false) => Err(format!("provider `{name}` reports it is not available")),
            Err(e) => Err(e.to_string()),
        });
    (opened, armed)
}
