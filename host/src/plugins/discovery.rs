//! Scanning the plugins directory: every shared library, in sorted order, loaded or rejected.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use cronhost_provider_api::ffi::ProviderInfo;
use serde::Serialize;

use super::library::{load_library, LoadedLibrary};
use super::vet::{vet_dir, vet_file, VetPolicy};

/// A provider offered by a loaded library.
#[derive(Debug, Clone)]
pub struct Discovered {
    /// What the library says about this provider.
    pub info: ProviderInfo,
    /// The library offering it.
    pub library: Arc<LoadedLibrary>,
}

impl Discovered {
    /// The provider's name.
    pub fn name(&self) -> &str {
        self.info.name.as_str()
    }
}

/// A file (or a provider in it) that was not taken, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rejected {
    /// The file.
    pub path: PathBuf,
    /// One line saying why.
    pub reason: String,
}

/// The outcome of scanning a plugins directory.
#[derive(Debug, Clone, Default)]
pub struct Discovery {
    /// The directory scanned.
    pub dir: PathBuf,
    /// Providers that can be selected, in the sorted order of their files.
    pub providers: Vec<Discovered>,
    /// Files and providers that were rejected.
    pub rejected: Vec<Rejected>,
}

impl Discovery {
    /// The provider called `name`.
    pub fn find(&self, name: &str) -> Option<&Discovered> {
        self.providers.iter().find(|p| p.name() == name)
    }

    /// The names of every selectable provider.
    pub fn names(&self) -> Vec<&str> {
        self.providers.iter().map(Discovered::name).collect()
    }
}

/// Scan `dir` for files with this platform's shared-library extension, in sorted order, vet
/// each ([`vet_file`]) and load it. A file that fails is rejected with a one-line reason and the scan goes on; a
/// provider name already offered by an earlier file is rejected as a duplicate. A missing
/// directory is an empty scan.
pub fn discover(dir: &Path, policy: &VetPolicy) -> Discovery {
    let mut discovery = Discovery {
        dir: dir.to_path_buf(),
        ..Default::default()
    };
    let files = match candidate_files(dir) {
        Ok(files) => files,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return discovery,
        Err(e) => {
            discovery.rejected.push(Rejected {
                path: dir.to_path_buf(),
                reason: format!("cannot read the plugins directory: {e}"),
            });
            return discovery;
        }
    };
    if let Err(reason) = vet_dir(dir) {
        log::warn!("plugins directory {} refused: {reason}", dir.display());
        discovery.rejected.push(Rejected {
            path: dir.to_path_buf(),
            reason,
        });
        return discovery;
    }
    let mut owner_of: HashMap<String, PathBuf> = HashMap::new();
    for path in files {
        let library =
            match vet_file(dir, &path, policy).and_then(|vetted| load_library(&path, vetted)) {
                Ok(library) => Arc::new(library),
                Err(reason) => {
                    log::warn!("plugin {} rejected: {reason}", path.display());
                    discovery.rejected.push(Rejected { path, reason });
                    continue;
                }
            };
        for info in library.metadata.providers.iter() {
            let name = info.name.to_string();
            if let Some(first) = owner_of.get(&name) {
                let reason = format!(
                    "duplicate provider name `{name}`: already offered by {}",
                    first.display()
                );
                log::warn!("plugin {} rejected: {reason}", path.display());
                discovery.rejected.push(Rejected {
                    path: path.clone(),
                    reason,
                });
                continue;
            }
            owner_of.insert(name, path.clone());
            discovery.providers.push(Discovered {
                info: info.clone(),
                library: Arc::clone(&library),
            });
        }
    }
    discovery
}

fn candidate_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let extension = std::env::consts::DLL_EXTENSION;
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().and_then(|e| e.to_str()) == Some(extension) {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}
