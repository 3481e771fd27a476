//! The probe cache: what each plugin file offered, or why it was rejected, remembered per file
//! version under the home, so a start with an unchanged plugins directory probes nothing and a
//! file that crashed the probe is tried again only once it changes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::probe::LibraryReport;
use super::vet::FileIdentity;
use cronhost_core::fs::state_file::{read_json, write_json};

/// The largest cache file read; a larger one is ignored (and rewritten).
const MAX_CACHE_BYTES: u64 = 8 * 1024 * 1024;

/// What a probe concluded about one version of a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Entry {
    /// The version of the file this is about.
    pub identity: FileIdentity,
    /// Its SHA-256.
    pub sha256: String,
    /// What it offers, or why it was rejected.
    pub verdict: Result<LibraryReport, String>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct CacheFile {
    /// The host that wrote it: another version's verdicts are not reused.
    host: String,
    entries: BTreeMap<PathBuf, Entry>,
}

/// The cache, loaded from (and saved to) one file; without a file it remembers nothing.
#[derive(Debug, Default)]
pub(crate) struct ProbeCache {
    path: Option<PathBuf>,
    file: CacheFile,
    changed: bool,
}

fn host_version() -> String {
    format!(
        "cronhost {} / provider-api {}",
        env!("CARGO_PKG_VERSION"),
        cronhost_provider_api::API_VERSION
    )
}

impl ProbeCache {
    /// The cache kept in `path` (`None`: nothing is kept). An unreadable, foreign or damaged
    /// file counts as empty.
    pub fn load(path: Option<&Path>) -> Self {
        let file = path
            .and_then(|p| read_json::<CacheFile>(p, MAX_CACHE_BYTES).ok().flatten())
            .filter(|file| file.host == host_version())
            .unwrap_or_else(|| CacheFile {
                host: host_version(),
                entries: BTreeMap::new(),
            });
        Self {
            path: path.map(Path::to_path_buf),
            file,
            changed: false,
        }
    }

    /// The entry for `path` if it is about this very version of the file.
    pub fn lookup(&self, path: &Path, identity: &FileIdentity) -> Option<&Entry> {
        self.file
            .entries
            .get(path)
            .filter(|entry| entry.identity == *identity)
    }

    /// Remember `entry` for `path`.
    pub fn insert(&mut self, path: PathBuf, entry: Entry) {
        if self.file.entries.get(&path) != Some(&entry) {
            self.file.entries.insert(path, entry);
            self.changed = true;
        }
    }

    /// Forget files no longer present.
    pub fn retain(&mut self, present: &[PathBuf]) {
        let before = self.file.entries.len();
        self.file.entries.retain(|path, _| present.contains(path));
        self.changed |= self.file.entries.len() != before;
    }

    /// Write the cache back if anything changed (atomically; a failure is logged, not fatal:
    /// the next start probes again).
    pub fn save(&mut self) {
        let Some(path) = &self.path else { return };
        if !self.changed {
            return;
        }
        match write_json(path, &self.file) {
            Ok(()) => self.changed = false,
            Err(e) => log::warn!("cannot save the plugin probe cache {}: {e}", path.display()),
        }
    }
}
