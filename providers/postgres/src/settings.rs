//! `[providers.postgres]`: where the database is and how this host takes part in the cluster.

use std::time::Duration;

use cronhost_provider_api::{ProviderConfig, ProviderError};
use serde::Deserialize;

/// What to do while the database cannot be reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnDbDown {
    /// Run nothing without a claim (the default): no occurrence can run twice.
    Pause,
    /// Keep firing on this host alone, and say so loudly: occurrences may run on several hosts.
    Local,
}

/// The provider's settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// A libpq-style connection string or URL. Required: without it the provider is unavailable.
    pub url: String,
    /// The cluster's name; several clusters may share one database.
    pub cluster: String,
    /// How long a claim stays valid without being renewed; a host that dies mid-run loses its
    /// runs after this long and later occurrences fire elsewhere.
    pub lease_secs: u64,
    /// `pause` or `local`.
    pub on_db_down: OnDbDown,
    /// The longest the provider sleeps between scans, in milliseconds: how often it writes
    /// outcomes back and retries a database that is away (it renews its leases every quarter
    /// lease, at most a second apart, however long this is). On a host of API 1.2
    /// or later it also scans when the next occurrence is due; on an older one, only this often.
    pub poll_ms: u64,
    /// This host's name in the cluster (default: the host name and the process id).
    pub member: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            url: String::new(),
            cluster: "default".into(),
            lease_secs: 30,
            on_db_down: OnDbDown::Pause,
            poll_ms: 100,
            member: None,
        }
    }
}

impl Settings {
    /// Read and check the section.
    pub fn from_config(config: &ProviderConfig) -> Result<Self, ProviderError> {
        let settings: Self = config.parse()?;
        if settings.cluster.trim().is_empty() {
            return Err(ProviderError::new(
                "[providers.postgres] cluster must not be empty",
            ));
        }
        if !(1..=86_400).contains(&settings.lease_secs) {
            return Err(ProviderError::new(format!(
                "[providers.postgres] lease_secs = {} is out of range: allowed 1 to 86400",
                settings.lease_secs
            )));
        }
        if !(10..=60_000).contains(&settings.poll_ms) {
            return Err(ProviderError::new(format!(
                "[providers.postgres] poll_ms = {} is out of range: allowed 10 to 60000",
                settings.poll_ms
            )));
        }
        if !settings.url.trim().is_empty() {
            // Parsed here (no network): a url that cannot parse makes the provider unavailable
            // with the reason, instead of failing at its first connection.
            settings
                .url
                .parse::<postgres::Config>()
                .map_err(|e| ProviderError::new(format!("[providers.postgres] url: {e}")))?;
        }
        Ok(settings)
    }

    /// The longest wait between scans.
    pub fn poll(&self) -> Duration {
        Duration::from_millis(self.poll_ms)
    }

    /// This host's member name.
    pub fn member_name(&self) -> String {
        self.member.clone().unwrap_or_else(|| {
            let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
                .ok()
                .map(|h| h.trim().to_owned())
                .filter(|h| !h.is_empty())
                .or_else(|| std::env::var("HOSTNAME").ok())
                .unwrap_or_else(|| "localhost".into());
            // The pid alone repeats across containers (pid 1) and restarts; a per-process tag
            // keeps two live processes from sharing a name and renewing each other's leases.
            let tag = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos() ^ std::process::id())
                .unwrap_or(0)
                & 0xffff;
            format!("{host}/{}/{tag:04x}", std::process::id())
        })
    }
}
