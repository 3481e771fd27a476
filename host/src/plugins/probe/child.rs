//! The probe child (`cronhost plugin-probe`): sandboxes itself, then loads each library it was
//! handed as an open descriptor and reports what it offers, one JSON line per event. Whatever a
//! library's code does here (crash, abort, exit, hang) costs only this process.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use super::sandbox;
use super::wire::{
    CheckFailure, Event, Item, LibraryReport, ProbeRequest, ProviderReport, PROBE_PROTOCOL,
    STDERR_ITEM_MARK,
};
use crate::plugins::library::{open_library, LoadedLibrary};
use crate::subprocess::protocol_pipes;

/// The first argument that makes the `cronhost` binary probe plugin libraries for its parent.
pub const PROBE_COMMAND: &str = "plugin-probe";

/// The largest request a probe reads.
const MAX_REQUEST_BYTES: u64 = 16 * 1024 * 1024;

/// Serve one probe request over stdin/stdout; returns the exit code.
pub(crate) fn serve_probe() -> i32 {
    let (input, output) = match protocol_pipes() {
        Ok(pipes) => pipes,
        Err(e) => {
            eprintln!("cronhost {PROBE_COMMAND}: cannot set up the protocol pipes: {e}");
            return 2;
        }
    };
    let request: ProbeRequest = match serde_json::from_reader(input.take(MAX_REQUEST_BYTES)) {
        Ok(request) => request,
        Err(e) => {
            eprintln!("cronhost {PROBE_COMMAND}: unreadable request: {e}");
            return 2;
        }
    };
    if request.protocol != PROBE_PROTOCOL {
        eprintln!(
            "cronhost {PROBE_COMMAND}: the host speaks probe protocol {}, this binary {PROBE_PROTOCOL}",
            request.protocol
        );
        return 2;
    }
    let mut probe = Probe {
        output,
        files: HashMap::new(),
        loaded: HashMap::new(),
    };
    for item in &request.items {
        let fd = match item {
            Item::Library { fd, .. } | Item::Available { fd, .. } => *fd,
        };
        if let Err(e) = probe.adopt(fd) {
            eprintln!("cronhost {PROBE_COMMAND}: descriptor {fd} was not handed over: {e}");
            return 2;
        }
    }
    let files: Vec<&File> = probe.files.values().collect();
    match sandbox::restrict(&files) {
        Ok(report) => probe.send(&Event::Sandboxed(report)),
        Err(e) => {
            eprintln!("cronhost {PROBE_COMMAND}: {e}");
            return 3;
        }
    }
    for (index, item) in request.items.iter().enumerate() {
        eprintln!("{STDERR_ITEM_MARK}{index}");
        probe.send(&Event::Begin(index));
        let event = match item {
            Item::Library { fd, path } => {
                Event::Library(index, probe.library(*fd, path).map(report))
            }
            Item::Available {
                fd,
                path,
                provider,
                config_json,
            } => Event::Available(
                index,
                probe
                    .library(*fd, path)
                    .and_then(|library| library.new_provider(provider, config_json))
                    .map_err(CheckFailure::Constructor)
                    .and_then(|provider| {
                        provider
                            .is_available()
                            .into_result()
                            .map_err(|e| CheckFailure::IsAvailable(e.into_string()))
                    }),
            ),
        };
        probe.send(&event);
    }
    0
}

struct Probe {
    output: File,
    files: HashMap<i32, File>,
    loaded: HashMap<i32, Result<&'static LoadedLibrary, String>>,
}

impl Probe {
    /// Take ownership of handed descriptor `fd` (once), checking it is an open file.
    fn adopt(&mut self, fd: i32) -> std::io::Result<()> {
        if self.files.contains_key(&fd) || fd < 3 {
            return if fd < 3 {
                Err(std::io::Error::other("a standard stream"))
            } else {
                Ok(())
            };
        }
        #[cfg(unix)]
        {
            use std::os::fd::FromRawFd;
            // SAFETY: fcntl on a number only checks whether it is an open descriptor.
            if unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
                return Err(std::io::Error::last_os_error());
            }
            // SAFETY: the host handed this descriptor to this process for it to own; it is
            // adopted once (checked above).
            let file = unsafe { File::from_raw_fd(fd) };
            self.files.insert(fd, file);
            Ok(())
        }
        #[cfg(not(unix))]
        Err(std::io::Error::other("handing descriptors needs Unix"))
    }

    fn send(&mut self, event: &Event) {
        if let Ok(mut line) = serde_json::to_vec(event) {
            line.push(b'\n');
            // The host gone: nothing left to report to, and the parent-death signal follows.
            let _ = self
                .output
                .write_all(&line)
                .and_then(|()| self.output.flush());
        }
    }

    /// The library behind `fd`, loaded once.
    fn library(&mut self, fd: i32, path: &str) -> Result<&'static LoadedLibrary, String> {
        if let Some(loaded) = self.loaded.get(&fd) {
            return loaded.clone();
        }
        let loaded = match self.files.get(&fd) {
            Some(file) => load_from(file, fd, Path::new(path)),
            None => Err(format!("descriptor {fd} was not handed over")),
        };
        self.loaded.insert(fd, loaded.clone());
        loaded
    }
}

/// Load the library read through `file` (descriptor `fd`): through `/proc/self/fd/N` when this
/// user may open it again, else from a private in-memory copy (a root-only file probed as
/// `nobody`). Never unloaded.
fn load_from(file: &File, fd: i32, path: &Path) -> Result<&'static LoadedLibrary, String> {
    let direct = PathBuf::from(format!("/proc/self/fd/{fd}"));
    let load_path = match File::open(&direct) {
        Ok(_) => direct,
        Err(_) => memory_copy(file)?,
    };
    let library = open_library(path, &load_path, String::new())?;
    Ok(Box::leak(Box::new(library)))
}

/// Copy `file` into a memfd and return the path it can be loaded from.
#[cfg(target_os = "linux")]
fn memory_copy(file: &File) -> Result<PathBuf, String> {
    use std::os::fd::FromRawFd;
    use std::os::unix::fs::FileExt;
    // SAFETY: memfd_create with a valid C string; the descriptor is owned by the File below.
    let memfd = unsafe { libc::memfd_create(c"cronhost-probe".as_ptr(), 0) };
    if memfd < 0 {
        return Err(format!(
            "cannot read the library as the probe user, nor copy it: {}",
            std::io::Error::last_os_error()
        ));
    }
    // SAFETY: memfd is a fresh descriptor owned by nobody else.
    let mut copy = unsafe { File::from_raw_fd(memfd) };
    let mut buffer = vec![0u8; 256 * 1024];
    let mut offset = 0u64;
    loop {
        let n = file
            .read_at(&mut buffer, offset)
            .map_err(|e| format!("cannot read the library: {e}"))?;
        if n == 0 {
            break;
        }
        copy.write_all(&buffer[..n])
            .map_err(|e| format!("cannot copy the library: {e}"))?;
        offset += n as u64;
    }
    let path = PathBuf::from(format!("/proc/self/fd/{memfd}"));
    std::mem::forget(copy); // the loader needs the descriptor for the life of the process
    Ok(path)
}

#[cfg(not(target_os = "linux"))]
fn memory_copy(_file: &File) -> Result<PathBuf, String> {
    Err("cannot read the library as the probe user".into())
}

fn report(library: &'static LoadedLibrary) -> LibraryReport {
    LibraryReport {
        library_version: library.library_version.clone(),
        api_version: library.api_version.clone(),
        providers: library
            .metadata
            .providers
            .iter()
            .map(|info| ProviderReport {
                name: info.name.to_string(),
                description: info.description.to_string(),
                start_blocks: info.start_blocks,
            })
            .collect(),
    }
}
