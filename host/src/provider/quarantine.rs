//! A provider's quarantine: set by the guard when the provider misses a deadline, read by the
//! guard before every call and by the host services before every fire.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// Whether a provider is quarantined, shared with the host services handed to it (so an
/// abandoned provider can no longer fire anything).
#[derive(Debug, Default)]
pub struct Quarantine {
    set: AtomicBool,
    reason: Mutex<Option<String>>,
}

impl Quarantine {
    /// Whether the provider is quarantined.
    pub fn is_set(&self) -> bool {
        self.set.load(Ordering::SeqCst)
    }

    /// Why, if it is.
    pub fn reason(&self) -> Option<String> {
        self.reason
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Quarantine the provider for `reason`.
    pub fn set(&self, reason: String) {
        *self.reason.lock().unwrap_or_else(|p| p.into_inner()) = Some(reason);
        self.set.store(true, Ordering::SeqCst);
    }
}
