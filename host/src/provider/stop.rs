//! The stop flag as providers see it: the core's [`StopFlag`] behind the stable-ABI
//! `StopSignal` trait object that crosses the boundary.

use std::time::{Duration, Instant};

use cronhost_core::StopFlag;
use cronhost_provider_api::abi_stable::{sabi_trait::TD_Opaque, std_types::RArc};
use cronhost_provider_api::ffi::{StopSignal, StopSignalBox, StopSignal_TO};

/// `flag` as the trait object handed to providers.
pub fn stop_signal(flag: &StopFlag) -> StopSignalBox {
    StopSignal_TO::from_ptr(RArc::new(Signal(flag.clone())), TD_Opaque)
}

/// The flag behind the ABI trait.
#[derive(Clone)]
struct Signal(StopFlag);

impl StopSignal for Signal {
    fn is_set(&self) -> bool {
        self.0.is_set()
    }

    fn wait(&self, timeout_ms: u64) -> bool {
        let deadline = Instant::now()
            .checked_add(Duration::from_millis(timeout_ms))
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(86_400 * 365));
        self.0.wait_until(deadline)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signal_follows_the_flag() {
        let stop = StopFlag::new();
        assert!(!stop_signal(&stop).is_set());
        stop.set();
        assert!(stop_signal(&stop).wait(u64::MAX));
    }
}
