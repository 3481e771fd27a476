//! Opening a discovered provider the way the config asks: its section, its call deadline, and
//! in-process or isolated. The only part of the provider layer that reads [`Config`].

use super::guard::{ProviderCallError, ProviderHandle};
use crate::config::{Config, Isolation};
use crate::plugins::Discovered;

impl ProviderHandle {
    /// Open a discovered provider as `config` asks: its `[providers.NAME]` section, the
    /// configured call deadline, in-process or isolated in a child process of `cronhost`
    /// (the running executable, or `CRONHOST_PROVIDER_HOST` when set).
    pub fn open(discovered: &Discovered, config: &Config) -> Result<Self, ProviderCallError> {
        Self::open_as(discovered, config, config.isolation(discovered.name()))
    }

    /// [`ProviderHandle::open`], with `isolation` instead of the configured one.
    pub fn open_as(
        discovered: &Discovered,
        config: &Config,
        isolation: Isolation,
    ) -> Result<Self, ProviderCallError> {
        let name = discovered.name();
        let config_json = config.provider_section_json(name);
        let deadline = config.provider_call_timeout();
        match isolation {
            Isolation::InProcess => Self::construct_within(discovered, &config_json, deadline),
            Isolation::Process => {
                let program =
                    crate::subprocess::helper_program().map_err(|e| ProviderCallError::Died {
                        provider: name.to_owned(),
                        call: "constructor",
                        reason: format!("cannot find the cronhost executable: {e}"),
                    })?;
                Self::isolated(discovered, &config_json, deadline, program)
            }
        }
    }
}
