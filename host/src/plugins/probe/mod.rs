//! Discovery's probe: plugin libraries are loaded by a sandboxed child process (the host's own
//! binary, `cronhost plugin-probe`), never by the host, because loading a library runs its
//! code. A library that crashes, ends or hangs the child is rejected with the reason, and the
//! rest are probed in a fresh child.

mod child;
mod parent;
mod sandbox;
mod wire;

pub(crate) use child::serve_probe;
pub use child::PROBE_COMMAND;
pub use parent::Prober;
pub(crate) use parent::{Job, Probed};
pub use wire::{LibraryReport, ProviderReport, SandboxReport};
