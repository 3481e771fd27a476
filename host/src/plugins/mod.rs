//! Provider libraries: finding them in the plugins directory and loading them.

mod discovery;
mod library;

pub use discovery::{discover, Discovered, Discovery, Rejected};
pub use library::{load_library, LoadedLibrary};
