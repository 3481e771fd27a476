//! Provider libraries: finding them in the plugins directory (vetting, then a sandboxed probe
//! whose results are cached), and loading the one the host runs in-process.

mod cache;
mod discovery;
mod library;
pub(crate) mod probe;
mod vet;

#[cfg(feature = "testing")]
pub(crate) use discovery::load_in_process;
pub(crate) use discovery::revet;
pub use discovery::{
    discover, probe_file, DiscoverOptions, Discovered, Discovery, PluginFile, Rejected,
};
pub(crate) use library::load_library;
pub use library::LoadedLibrary;
pub use probe::{Prober, PROBE_COMMAND};
pub use vet::{vet_dir, vet_file, FileIdentity, VetPolicy, Vetted};
