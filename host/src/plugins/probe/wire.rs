//! What the host and the probe child say to each other: one request down (JSON on the child's
//! stdin), then one JSON line per event up. Plain data, no I/O.

use serde::{Deserialize, Serialize};

/// The version of this little protocol; the host and the probe are the same binary, so a
/// mismatch means a stale `CRONHOST_PROVIDER_HOST`.
pub const PROBE_PROTOCOL: u32 = 1;

/// The longest event line the host reads from a probe; a longer one ends the conversation.
pub const MAX_EVENT_BYTES: usize = 1024 * 1024;

/// The line the probe writes to its stderr before each item (followed by the item's index), so
/// the host can tell which item a library's stderr lines belong to: stderr and the events
/// travel through different pipes, whose order the host cannot otherwise know.
pub const STDERR_ITEM_MARK: &str = "--- cronhost plugin-probe item ";

/// What the probe is asked to do, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeRequest {
    /// [`PROBE_PROTOCOL`].
    pub protocol: u32,
    /// The work, one item at a time; the events name items by their index here.
    pub items: Vec<Item>,
}

/// One piece of work. Each reads only the library handed to it as an open descriptor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Item {
    /// Load the library and report what it offers.
    Library {
        /// The descriptor (inherited from the host) the library is read through.
        fd: i32,
        /// Its path, for messages.
        path: String,
    },
    /// Load the library, construct `provider` from `config_json` and ask `is_available`.
    Available {
        /// The descriptor the library is read through.
        fd: i32,
        /// Its path, for messages.
        path: String,
        /// The provider.
        provider: String,
        /// Its config section, as JSON.
        config_json: String,
    },
}

/// What the probe reports, one JSON line each.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Event {
    /// The sandbox is in place: what it holds, in words.
    Sandboxed(SandboxReport),
    /// Work on item `index` begins (its deadline starts now).
    Begin(usize),
    /// Item `index`, a [`Item::Library`], is done.
    Library(usize, Result<LibraryReport, String>),
    /// Item `index`, an [`Item::Available`], is done.
    Available(usize, Result<bool, CheckFailure>),
}

/// Why an availability check has no answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CheckFailure {
    /// The library did not load, or the constructor failed: the provider is unusable.
    Constructor(String),
    /// It constructed, but `is_available` failed.
    IsAvailable(String),
}

/// What a library says about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LibraryReport {
    /// The version of the crate that built it.
    pub library_version: String,
    /// The `cronhost-provider-api` version it was built against.
    pub api_version: String,
    /// The providers it offers.
    pub providers: Vec<ProviderReport>,
}

/// One provider a library offers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderReport {
    /// The name an operator writes in `cron.provider`.
    pub name: String,
    /// One line saying what it does.
    pub description: String,
    /// Whether `start` blocks like a ticker.
    pub start_blocks: bool,
}

/// The restrictions the probe runs under, as it applied them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SandboxReport {
    /// The user it runs as (`nobody` when started as root).
    pub user: String,
    /// Whether `PR_SET_NO_NEW_PRIVS` is set.
    pub no_new_privs: bool,
    /// Landlock: `enforced (ABI n)`, `partially enforced` or why not.
    pub landlock: String,
    /// Whether it runs in a network namespace of its own (no interfaces).
    pub network_namespace: bool,
}
