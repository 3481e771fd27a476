//! Removing job output files (`output/<job-id>/<scheduled-instant>.log`, named by
//! [`run::output_path`](crate::run::output_path)) when their runs are pruned: only regular files,
//! only inside real directories of ours, reached through descriptors opened without following
//! a link, so nothing planted in the output tree can point the removal elsewhere.

use std::path::Path;

use chrono::{DateTime, Utc};

/// Remove the output files of `job_id`'s runs scheduled at `instants`. Nothing is removed
/// unless `output_dir` and its `job_id` directory are real directories that pass the home
/// policy (owned by us or root, writable by nobody else); then only the regular files among
/// the named ones (a link, a directory or a device in a file's place stays). Files already
/// gone are fine. Returns how many were removed.
pub(crate) fn remove(
    output_dir: &Path,
    job_id: &str,
    instants: impl IntoIterator<Item = DateTime<Utc>>,
) -> usize {
    // The id names a directory: one that is not a cronhost id could lead anywhere.
    if !crate::store::is_job_id(job_id) {
        return 0;
    }
    imp::remove(output_dir, job_id, instants)
}

#[cfg(unix)]
mod imp {
    use std::ffi::{CString, OsStr};
    use std::fs::File;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::MetadataExt;
    use std::path::Path;

    use chrono::{DateTime, Utc};

    pub(super) fn remove(
        output_dir: &Path,
        job_id: &str,
        instants: impl IntoIterator<Item = DateTime<Utc>>,
    ) -> usize {
        let Some(output) = open_checked_dir(None, output_dir) else {
            return 0;
        };
        let Some(dir) = open_checked_dir(Some(&output), &output_dir.join(job_id)) else {
            return 0;
        };
        instants
            .into_iter()
            .filter_map(|at| {
                crate::run::output_path(output_dir, job_id, at)
                    .file_name()
                    .map(OsStr::to_owned)
            })
            .filter(|name| remove_regular_file(&dir, name))
            .count()
    }

    /// `path` opened as a directory without following a link in its last component (from
    /// `parent` when given, by its last component), and checked to be what the home policy
    /// allows: the policy is checked on the path, then the path must still be the very
    /// directory opened (device and inode), so a swap in between is refused.
    fn open_checked_dir(parent: Option<&File>, path: &Path) -> Option<File> {
        let name = match parent {
            Some(_) => path.file_name()?.as_bytes(),
            None => path.as_os_str().as_bytes(),
        };
        let name = CString::new(name).ok()?;
        let flags = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC;
        // SAFETY: a NUL-terminated name; the parent descriptor, when given, is open.
        let fd = unsafe {
            match parent {
                Some(parent) => libc::openat(parent.as_raw_fd(), name.as_ptr(), flags),
                None => libc::open(name.as_ptr(), flags),
            }
        };
        if fd < 0 {
            return None;
        }
        // SAFETY: a descriptor just opened here and owned by nothing else.
        let dir = File::from(unsafe { OwnedFd::from_raw_fd(fd) });
        crate::fs::check_directory(path).ok()?;
        let opened = dir.metadata().ok()?;
        let at_path = path.symlink_metadata().ok()?;
        (opened.is_dir() && opened.dev() == at_path.dev() && opened.ino() == at_path.ino())
            .then_some(dir)
    }

    /// Remove `name` in `dir` if it is a regular file (never a link: neither it nor what it
    /// points to).
    fn remove_regular_file(dir: &File, name: &OsStr) -> bool {
        let Ok(name) = CString::new(name.as_bytes()) else {
            return false;
        };
        // SAFETY: a zeroed stat buffer is a valid out-parameter for fstatat.
        let mut stat: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: an open directory descriptor, a NUL-terminated name and a stat buffer.
        let found = unsafe {
            libc::fstatat(
                dir.as_raw_fd(),
                name.as_ptr(),
                &mut stat,
                libc::AT_SYMLINK_NOFOLLOW,
            )
        } == 0;
        if !found || stat.st_mode & libc::S_IFMT != libc::S_IFREG {
            return false;
        }
        // SAFETY: an open directory descriptor and a NUL-terminated name; unlinkat never
        // follows a link in the name's place.
        unsafe { libc::unlinkat(dir.as_raw_fd(), name.as_ptr(), 0) == 0 }
    }
}

#[cfg(not(unix))]
mod imp {
    use std::path::Path;

    use chrono::{DateTime, Utc};

    /// Without descriptors to check through, nothing is removed.
    pub(super) fn remove(
        _output_dir: &Path,
        _job_id: &str,
        _instants: impl IntoIterator<Item = DateTime<Utc>>,
    ) -> usize {
        0
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    fn at(second: u32) -> DateTime<Utc> {
        use chrono::TimeZone;
        Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, second).unwrap()
    }

    fn output_tree() -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let output = dir.path().join("output");
        crate::fs::create_private_dir(&output.join("j1")).unwrap();
        (dir, output)
    }

    #[test]
    fn only_the_named_regular_files_go() {
        let (_dir, output) = output_tree();
        let file = |s| crate::run::output_path(&output, "j1", at(s));
        for s in 0..4 {
            std::fs::write(file(s), "out").unwrap();
        }
        let elsewhere = tempfile::NamedTempFile::new().unwrap();
        std::os::unix::fs::symlink(elsewhere.path(), file(5)).unwrap();
        assert_eq!(remove(&output, "j1", [at(0), at(1), at(5), at(9)]), 2);
        assert!(!file(0).exists() && !file(1).exists());
        assert!(file(2).exists() && file(3).exists(), "files not named stay");
        assert!(
            file(5).symlink_metadata().is_ok() && elsewhere.path().exists(),
            "a link in a file's place stays, and so does what it points to"
        );
        assert_eq!(remove(&output, "../j1", [at(2)]), 0, "not a job id");
    }

    #[test]
    fn nothing_goes_through_a_linked_or_shared_directory() {
        let (dir, output) = output_tree();
        let victim = dir.path().join("victim");
        std::fs::create_dir(&victim).unwrap();
        let name = crate::run::output_path(&output, "j2", at(0));
        std::fs::write(victim.join(name.file_name().unwrap()), "keep").unwrap();
        std::os::unix::fs::symlink(&victim, output.join("j2")).unwrap();
        assert_eq!(remove(&output, "j2", [at(0)]), 0);
        assert_eq!(std::fs::read_dir(&victim).unwrap().count(), 1);

        use std::os::unix::fs::PermissionsExt;
        let shared = output.join("j1");
        std::fs::write(crate::run::output_path(&output, "j1", at(0)), "x").unwrap();
        std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o777)).unwrap();
        assert_eq!(
            remove(&output, "j1", [at(0)]),
            0,
            "a directory others can write"
        );
    }
}
