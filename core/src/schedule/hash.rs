//! A hash that is the same on every build, host and run: what Jenkins' `H` and a job's
//! jitter offset pick their values from.

/// A stable 64-bit hash of `text` (FNV-1a): the same on every build, host and run, unlike
/// the standard library's hashers.
///
/// ```
/// use cronhost_core::schedule::stable_hash;
/// assert_eq!(stable_hash("j1"), stable_hash("j1"));
/// assert_ne!(stable_hash("j1"), stable_hash("j2"));
/// ```
pub fn stable_hash(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}
