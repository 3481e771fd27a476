//! Scanning the plugins directory: every shared library, in sorted order, vetted, then probed
//! in a sandboxed child (or taken from the probe cache), and listed or rejected. Nothing is
//! loaded into this process here; [`Discovered::load`] does that for the one provider the host
//! runs in-process.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use once_cell::sync::Lazy;
use serde::Serialize;

use super::cache::{Entry, ProbeCache};
use super::library::{load_library, LoadedLibrary};
use super::probe::{Job, LibraryReport, Probed, Prober, ProviderReport, SandboxReport};
use super::vet::{vet_dir, vet_file_known, FileIdentity, VetPolicy, Vetted};

/// A plugin file that passed vetting and the probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginFile {
    /// The file.
    pub path: PathBuf,
    /// Its SHA-256 (what `cron.plugin_allowlist` lists).
    pub sha256: String,
    /// The version of the file that was vetted and probed.
    pub identity: FileIdentity,
    /// The version of the crate that built it.
    pub library_version: String,
    /// The `cronhost-provider-api` version it was built against.
    pub api_version: String,
}

/// A provider offered by a probed library.
#[derive(Debug, Clone)]
pub struct Discovered {
    /// What the library says about this provider.
    pub info: ProviderReport,
    /// The library offering it.
    pub file: Arc<PluginFile>,
}

impl Discovered {
    /// The provider's name.
    pub fn name(&self) -> &str {
        &self.info.name
    }

    /// Load the library into this process, once per process and file version: vetted again,
    /// it must still be the very file the probe loaded (same identity, or same digest). Only
    /// the host's selected in-process provider is loaded this way.
    pub fn load(&self) -> Result<Arc<LoadedLibrary>, String> {
        load_once(revet(&self.file)?, &self.file.path)
    }
}

/// Load a vetted file into this process, once per process and file version (the loader
/// cannot unload, and a second copy would double its statics).
fn load_once(vetted: Vetted, path: &Path) -> Result<Arc<LoadedLibrary>, String> {
    /// Libraries loaded into this process, by file version and digest.
    type Loaded = HashMap<(FileIdentity, String), Arc<LoadedLibrary>>;
    static LOADED: Lazy<Mutex<Loaded>> = Lazy::new(Mutex::default);
    let key = (vetted.identity, vetted.sha256.clone());
    let mut loaded = LOADED.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(library) = loaded.get(&key) {
        return Ok(Arc::clone(library));
    }
    let library = Arc::new(load_library(path, vetted)?);
    loaded.insert(key, Arc::clone(&library));
    Ok(library)
}

/// Vet `path` in `dir` and load it into **this** process, without a probe: for a library the
/// caller trusts not to crash it, such as a provider under test in its own test suite
/// (the test kit's `ProviderTestHost`). Returns the providers it offers.
#[cfg(feature = "testing")]
pub fn load_in_process(
    dir: &Path,
    path: &Path,
    policy: &VetPolicy,
) -> Result<Vec<Discovered>, String> {
    vet_dir(dir)?;
    let vetted = super::vet::vet_file(dir, path, policy)?;
    let (identity, sha256) = (vetted.identity, vetted.sha256.clone());
    let library = load_once(vetted, path)?;
    let file = Arc::new(PluginFile {
        path: path.to_path_buf(),
        sha256,
        identity,
        library_version: library.library_version.clone(),
        api_version: library.api_version.clone(),
    });
    Ok(library
        .metadata
        .providers
        .iter()
        .map(|info| Discovered {
            info: ProviderReport {
                name: info.name.to_string(),
                description: info.description.to_string(),
                start_blocks: info.start_blocks,
            },
            file: Arc::clone(&file),
        })
        .collect())
}

/// Vet `file` again for loading: the same checks, and the digest the probe saw.
pub(crate) fn revet(file: &PluginFile) -> Result<Vetted, String> {
    let dir = file.path.parent().unwrap_or(Path::new("."));
    vet_dir(dir)?;
    let policy = VetPolicy {
        allowlist: [file.sha256.clone()].into_iter().collect(),
    };
    vet_file_known(dir, &file.path, &policy, |identity| {
        (*identity == file.identity).then(|| file.sha256.clone())
    })
    .map_err(|e| format!("{e} (the file changed since it was probed?)"))
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
    /// How many files were probed in a child this time (the rest came from the cache).
    pub probed: usize,
    /// The sandbox the probe ran in, when one ran.
    pub sandbox: Option<SandboxReport>,
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

/// How to scan: the vetting policy, the probe, and where probe results are cached.
#[derive(Debug, Clone)]
pub struct DiscoverOptions {
    /// What vetting accepts.
    pub policy: VetPolicy,
    /// Starts the probe children.
    pub prober: Prober,
    /// Where probe results are remembered (`None`: probe every time).
    pub cache_file: Option<PathBuf>,
}

impl DiscoverOptions {
    /// Probe with `program` (the `cronhost` binary), each file within `deadline`, no cache.
    pub fn new(program: impl Into<PathBuf>, deadline: Duration) -> Self {
        Self {
            policy: VetPolicy::default(),
            prober: Prober::new(program, deadline),
            cache_file: None,
        }
    }
}

/// Scan `dir` for files with this platform's shared-library extension, in sorted order: vet
/// each ([`super::vet_file`]), then learn what it offers from the cache or, for new and changed
/// files, from one sandboxed probe child. A file that fails is rejected with a one-line reason
/// and the scan goes on; a provider name already offered by an earlier file is rejected as a
/// duplicate. A missing directory is an empty scan.
pub fn discover(dir: &Path, options: &DiscoverOptions) -> Discovery {
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
    let mut cache = ProbeCache::load(options.cache_file.as_deref());
    cache.retain(&files);
    // Vet every file; take what the cache knows about it, probe the rest in one child.
    let mut slots: Vec<Slot> = files
        .iter()
        .map(|path| {
            let mut cached = None;
            let vetted = vet_file_known(dir, path, &options.policy, |identity| {
                cached = cache.lookup(path, identity).cloned();
                cached.as_ref().map(|entry| entry.sha256.clone())
            });
            match (vetted, cached) {
                (Err(reason), _) => Slot::Rejected(reason),
                (Ok(_), Some(entry)) => Slot::Known(entry),
                (Ok(vetted), None) => Slot::ToProbe(vetted),
            }
        })
        .collect();
    let jobs: Vec<(usize, Job<'_>)> = slots
        .iter()
        .enumerate()
        .filter_map(|(index, slot)| match slot {
            Slot::ToProbe(vetted) => Some((
                index,
                Job {
                    file: vetted.file(),
                    path: &files[index],
                    check: None,
                },
            )),
            _ => None,
        })
        .collect();
    if !jobs.is_empty() {
        let (indices, jobs): (Vec<usize>, Vec<Job<'_>>) = jobs.into_iter().unzip();
        let (results, sandbox) = options.prober.probe(&jobs);
        drop(jobs);
        discovery.probed = indices.len();
        discovery.sandbox = sandbox;
        for (index, result) in indices.into_iter().zip(results) {
            let Slot::ToProbe(vetted) = &slots[index] else {
                continue;
            };
            let verdict = match library_verdict(result) {
                Ok(verdict) => verdict,
                // Not this file's fault: reported, not remembered.
                Err(unknown) => {
                    slots[index] = Slot::Rejected(unknown);
                    continue;
                }
            };
            let entry = Entry {
                identity: vetted.identity,
                sha256: vetted.sha256.clone(),
                verdict,
            };
            cache.insert(files[index].clone(), entry.clone());
            slots[index] = Slot::Known(entry);
        }
    }
    cache.save();
    let mut owner_of: HashMap<String, PathBuf> = HashMap::new();
    for (path, slot) in files.into_iter().zip(slots) {
        let (report, identity, sha256) = match slot {
            Slot::Known(Entry {
                verdict: Ok(report),
                identity,
                sha256,
            }) => (report, identity, sha256),
            Slot::Known(Entry {
                verdict: Err(reason),
                ..
            })
            | Slot::Rejected(reason) => {
                log::warn!("plugin {} rejected: {reason}", path.display());
                discovery.rejected.push(Rejected { path, reason });
                continue;
            }
            Slot::ToProbe(_) => continue, // every probed slot was settled above
        };
        let file = Arc::new(PluginFile {
            path: path.clone(),
            sha256,
            identity,
            library_version: report.library_version,
            api_version: report.api_version,
        });
        for info in report.providers {
            if let Some(first) = owner_of.get(&info.name) {
                let reason = format!(
                    "duplicate provider name `{}`: already offered by {}",
                    info.name,
                    first.display()
                );
                log::warn!("plugin {} rejected: {reason}", path.display());
                discovery.rejected.push(Rejected {
                    path: path.clone(),
                    reason,
                });
                continue;
            }
            owner_of.insert(info.name.clone(), path.clone());
            discovery.providers.push(Discovered {
                info,
                file: Arc::clone(&file),
            });
        }
    }
    discovery
}

/// Where one file stands during a scan.
enum Slot {
    /// Vetted, and the cache (or this scan's probe) knows what it offers.
    Known(Entry),
    /// Vetted, held open, waiting for the probe.
    ToProbe(Vetted),
    /// Refused before the probe: why.
    Rejected(String),
}

/// Load one vetted file in a probe child (no cache) and report what it offers, or why not.
pub fn probe_file(prober: &Prober, vetted: &Vetted, path: &Path) -> Result<LibraryReport, String> {
    let job = Job {
        file: vetted.file(),
        path,
        check: None,
    };
    let (mut results, _) = prober.probe(std::slice::from_ref(&job));
    let result = results
        .pop()
        .unwrap_or_else(|| Probed::Unknown("the probe gave no answer".into()));
    library_verdict(result).unwrap_or_else(Err)
}

/// What the probe's answer about a library means: what it offers or why it is rejected;
/// `Err` when the probe learnt nothing about the file (not the file's fault).
fn library_verdict(result: Probed) -> Result<Result<LibraryReport, String>, String> {
    match result {
        Probed::Library(report) if report.providers.is_empty() => {
            Ok(Err("the library offers no providers".to_owned()))
        }
        Probed::Library(report) => Ok(Ok(report)),
        Probed::Refused(reason) | Probed::Fatal(reason) => Ok(Err(reason)),
        Probed::Unknown(reason) => Err(format!("not probed: {reason}")),
        Probed::Available(_) | Probed::AvailabilityFailed(_) => {
            Err("the probe answered another question".to_owned())
        }
    }
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
