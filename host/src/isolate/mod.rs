//! Isolation mode (`isolation = "process"`): a provider runs in a child process of its own,
//! so a segfault, `abort()`, a `panic = "abort"` build, a stack overflow or an endless loop
//! costs the host only that child. The host serves the host services to it over a small,
//! versioned, length-prefixed protocol on the child's stdin and stdout.

mod backend;
mod child;
mod pending;
mod protocol;
mod remote;
mod spawn;

pub use child::serve_if_asked;
pub use spawn::spawn_provider;
