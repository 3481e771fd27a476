//! Provider libraries: finding them in the plugins directory and loading them.

mod discovery;
mod library;
mod vet;

pub use discovery::{discover, Discovered, Discovery, Rejected};
pub use library::{load_library, LoadedLibrary};
pub use vet::{vet_dir, vet_file, VetPolicy, Vetted};
