//! Loading one provider library through abi_stable, with a one-line reason when it fails.

use std::path::{Path, PathBuf};

use abi_stable::library::{lib_header_from_path, LibraryError};
use cronhost_provider_api::ffi::{AnyProvider, AnyProviderLibrary, LibraryMetadata};

/// A provider library, loaded and checked. Libraries are never unloaded.
pub struct LoadedLibrary {
    /// Where it was loaded from.
    pub path: PathBuf,
    /// The version of the crate that built it.
    pub library_version: String,
    /// The `cronhost-provider-api` version it was built against.
    pub api_version: String,
    /// The file's SHA-256 (what `cron.plugin_allowlist` lists).
    pub sha256: String,
    /// What it says about itself.
    pub metadata: LibraryMetadata,
    module: AnyProviderLibrary,
}

impl std::fmt::Debug for LoadedLibrary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedLibrary")
            .field("path", &self.path)
            .field("library_version", &self.library_version)
            .field("api_version", &self.api_version)
            .finish_non_exhaustive()
    }
}

impl LoadedLibrary {
    /// Call the library's constructor for provider `name` with its config section (JSON).
    /// The SDK has already turned a panic into an error value; this call adds a host-side
    /// unwind guard all the same.
    pub fn new_provider(&self, name: &str, config_json: &str) -> Result<AnyProvider, String> {
        let call = || self.module.new_provider(name, config_json);
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(call)) {
            Ok(result) => result.into_result().map_err(|e| e.into_string()),
            Err(payload) => Err(format!(
                "constructor panicked: {}",
                cronhost_core::text::panic_message(&*payload)
            )),
        }
    }
}

/// Load one vetted file as a provider library into this process: check its abi_stable header,
/// version and every type layout, then read its metadata. The error is one line fit for
/// `cronhost providers`.
///
/// Loading runs the library's code in this process: the host does it only for the selected
/// provider, after the probe ([`super::discover`]) loaded the same file without harm.
pub fn load_library(path: &Path, vetted: super::Vetted) -> Result<LoadedLibrary, String> {
    let sha256 = vetted.sha256.clone();
    open_library(path, &vetted.into_load_path(), sha256)
}

/// Load the library at `load_path` (reported as `path`, with digest `sha256`).
pub(crate) fn open_library(
    path: &Path,
    load_path: &Path,
    sha256: String,
) -> Result<LoadedLibrary, String> {
    // The loader names the descriptor path (/proc/self/fd/N); the operator knows the file.
    let (from, to) = (load_path.to_string_lossy(), path.to_string_lossy());
    let one_line = |e: &LibraryError| reason(e).replace(from.as_ref(), to.as_ref());
    let header = lib_header_from_path(load_path).map_err(|e| one_line(&e))?;
    let module = AnyProviderLibrary::load(header).map_err(|e| one_line(&e))?;
    let metadata_fn = module.metadata_fn();
    let metadata = std::panic::catch_unwind(|| metadata_fn())
        .map_err(|_| "reading the library metadata panicked".to_owned())?;
    if metadata.providers.is_empty() {
        return Err("the library offers no providers".into());
    }
    Ok(LoadedLibrary {
        path: path.to_path_buf(),
        library_version: metadata.library_version.to_string(),
        api_version: header.version_strings().version.to_string(),
        sha256,
        metadata,
        module,
    })
}

/// A one-line reason for a load failure.
fn reason(error: &LibraryError) -> String {
    match error {
        LibraryError::OpenError { err, .. } => {
            format!("not a loadable shared library: {}", first_line(&err.to_string()))
        }
        LibraryError::GetSymbolError { .. } => {
            "not a cronhost provider: the library exports no abi_stable root module".into()
        }
        LibraryError::IncompatibleVersionNumber {
            expected_version,
            actual_version,
            ..
        } => format!(
            "built against cronhost-provider-api {actual_version}, this host needs {}.x; rebuild the provider against a compatible API",
            expected_version.major
        ),
        LibraryError::AbiInstability(_) => format!(
            "interface layout mismatch ({}); the library was built for another interface or an incompatible API",
            layout_error_summary(&error.to_string())
        ),
        LibraryError::InvalidAbiHeader(_) | LibraryError::InvalidCAbi { .. } => format!(
            "built with an incompatible abi_stable ({})",
            first_line(&error.to_string())
        ),
        LibraryError::RootModule { err, .. } => {
            format!("the root module failed to initialise: {}", first_line(&err.to_string()))
        }
        other => first_line(&other.to_string()),
    }
}

/// abi_stable's layout report runs to hundreds of lines; keep its `Error:` line and the
/// expected/found values after it.
fn layout_error_summary(report: &str) -> String {
    let mut lines = report
        .lines()
        .map(str::trim)
        .skip_while(|l| !l.starts_with("Error:"));
    let summary: Vec<&str> = lines.by_ref().take(5).filter(|l| !l.is_empty()).collect();
    if summary.is_empty() {
        return first_line(report);
    }
    first_line(&summary.join(" "))
}

fn first_line(text: &str) -> String {
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    cronhost_core::text::truncate(line, 240).into_owned()
}
