//! The account importing a crontab: its user name (a system crontab's lines name one) and its
//! home directory (where cron runs its jobs), from the password database.

/// The user running this process (its effective uid), as the password database has it; `None`
/// when it has no entry there.
#[cfg(unix)]
pub(super) fn current() -> Option<(String, String)> {
    // SAFETY: the reentrant lookup fills the zeroed struct from a buffer we own and sized; the
    // strings it points to are copied before the buffer goes.
    unsafe {
        let mut buffer = vec![0 as libc::c_char; 16 * 1024];
        let mut entry: libc::passwd = std::mem::zeroed();
        let mut found: *mut libc::passwd = std::ptr::null_mut();
        if libc::getpwuid_r(
            libc::geteuid(),
            &mut entry,
            buffer.as_mut_ptr(),
            buffer.len(),
            &mut found,
        ) != 0
            || found.is_null()
            || entry.pw_name.is_null()
            || entry.pw_dir.is_null()
        {
            return None;
        }
        let text = |pointer| {
            std::ffi::CStr::from_ptr(pointer)
                .to_string_lossy()
                .into_owned()
        };
        Some((text(entry.pw_name), text(entry.pw_dir)))
    }
}

/// No password database here.
#[cfg(not(unix))]
pub(super) fn current() -> Option<(String, String)> {
    None
}
