//! The home policy: who may write the directories and files cronhost runs jobs from. The rule
//! sshd's StrictModes applies to `~/.ssh`: everything owned by root or the user running
//! cronhost, and writable by nobody else (group-writable only when the group is root); the
//! directories above the home may be writable by others only when they are sticky (`/tmp`).

use std::path::{Path, PathBuf};

/// What is wrong with one path under the home policy.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Violation {
    /// Owned by a user other than root and the one running cronhost.
    ForeignOwner {
        /// The owner's uid.
        uid: u32,
    },
    /// Writable by users other than its owner (and root).
    WritableByOthers {
        /// Its mode bits.
        mode: u32,
    },
    /// A symbolic link, or not the kind of file it must be (a directory, a regular file).
    WrongKind {
        /// What it is.
        found: &'static str,
        /// What it must be.
        expected: &'static str,
    },
    /// A POSIX ACL may grant others access the mode bits do not show.
    HasAcl,
    /// A state file with more than one hard link: writing it writes another file too.
    HardLinked {
        /// How many links it has.
        links: u64,
    },
    /// Its metadata could not be read.
    Unreadable {
        /// It does not exist (any more).
        vanished: bool,
        /// What the OS said.
        message: String,
    },
}

/// A path that breaks the home policy, with the command that fixes it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path} {}; {}", describe(.violation), fix(.path, .violation))]
pub struct PolicyError {
    /// The offending path.
    pub path: PathBuf,
    /// What is wrong with it.
    pub violation: Violation,
}

fn describe(violation: &Violation) -> String {
    match violation {
        Violation::ForeignOwner { uid } => format!(
            "is owned by uid {uid}, not by root or the user running cronhost (uid {})",
            effective_uid()
        ),
        Violation::WritableByOthers { mode } => {
            format!("is writable by other users (mode {:o})", mode & 0o7777)
        }
        Violation::WrongKind { found, expected } => format!("is {found}, not {expected}"),
        Violation::HasAcl => {
            "has a POSIX ACL, which may let other users write it whatever its mode says".into()
        }
        Violation::HardLinked { links } => format!("has {links} hard links"),
        Violation::Unreadable { message, .. } => format!("cannot be checked: {message}"),
    }
}

fn fix(path: &Path, violation: &Violation) -> String {
    let path = path.display();
    match violation {
        Violation::ForeignOwner { .. } => {
            format!(
                "run cronhost as its owner, or `chown {} {path}`",
                effective_uid()
            )
        }
        Violation::WritableByOthers { .. } => format!("`chmod go-w {path}`"),
        Violation::WrongKind { .. } | Violation::HardLinked { .. } => {
            format!("remove or replace {path}")
        }
        Violation::HasAcl => format!("`setfacl -b {path}`"),
        Violation::Unreadable { .. } => "check the path".into(),
    }
}

/// The effective uid of this process.
pub fn effective_uid() -> u32 {
    #[cfg(unix)]
    // SAFETY: geteuid has no preconditions.
    return unsafe { libc::geteuid() };
    #[cfg(not(unix))]
    0
}

/// Whether a path may be trusted to hold what cronhost runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// A directory above the home: others may write it only when it is sticky.
    Ancestor,
    /// The home or a state directory.
    Directory,
    /// A state file (store, lock, output): never a link.
    File,
    /// The config file: a link is followed (to a file managed elsewhere); the file it leads
    /// to is held to the same rule.
    Config,
}

/// Check every directory from `/` down to `home` (resolved through symlinks), the `config`
/// file (followed), then each path of `directories` (which must be real directories, not
/// links) and `files` that exists (which must be regular files).
pub fn check_tree(
    home: &Path,
    config: Option<&Path>,
    directories: &[PathBuf],
    files: &[PathBuf],
) -> Result<(), PolicyError> {
    let resolved = check_ancestors(home)?;
    check_path(&resolved, Role::Directory)?;
    if let Some(config) = config.filter(|c| c.exists()) {
        check_path(config, Role::Config)?;
    }
    for dir in directories {
        check_if_present(dir, Role::Directory)?;
    }
    for file in files {
        check_if_present(file, Role::File)?;
    }
    Ok(())
}

/// [`check_path`] where `path` exists; one that does not, or that vanishes while it is checked
/// (SQLite removes its `-wal` when the last connection closes), passes.
fn check_if_present(path: &Path, role: Role) -> Result<(), PolicyError> {
    match check_path(path, role) {
        Err(PolicyError {
            violation: Violation::Unreadable { vanished: true, .. },
            ..
        }) => Ok(()),
        other => other,
    }
}

/// Check the way to `dir`: every symbolic link on the path as given must be owned by root or
/// us (a link another user planted in `/tmp` must not steer us), and every directory above
/// `dir`, resolved, must be owned by root or us and writable by nobody else unless it is sticky.
/// Returns `dir` resolved.
pub fn check_ancestors(dir: &Path) -> Result<PathBuf, PolicyError> {
    check_links(dir)?;
    let resolved = dir.canonicalize().map_err(|e| PolicyError {
        path: dir.to_path_buf(),
        violation: Violation::Unreadable {
            vanished: e.kind() == std::io::ErrorKind::NotFound,
            message: e.to_string(),
        },
    })?;
    let mut ancestors: Vec<&Path> = resolved.ancestors().skip(1).collect();
    ancestors.reverse();
    for ancestor in ancestors {
        check_path(ancestor, Role::Ancestor)?;
    }
    Ok(resolved)
}

/// Every existing symbolic link among the components of `path` (as given, not resolved) is
/// owned by root or us.
pub fn check_links(path: &Path) -> Result<(), PolicyError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        let mut prefix = PathBuf::new();
        for component in absolute.components() {
            prefix.push(component);
            let Ok(meta) = prefix.symlink_metadata() else {
                break; // the rest does not exist yet
            };
            if meta.file_type().is_symlink() && meta.uid() != 0 && meta.uid() != effective_uid() {
                return Err(PolicyError {
                    path: prefix,
                    violation: Violation::ForeignOwner { uid: meta.uid() },
                });
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Check one existing state directory: a directory (not a link) owned by root or us, writable
/// by nobody else.
pub fn check_directory(path: &Path) -> Result<(), PolicyError> {
    check_path(path, Role::Directory)
}

#[cfg(unix)]
fn check_path(path: &Path, role: Role) -> Result<(), PolicyError> {
    use std::os::unix::fs::MetadataExt;
    let error = |violation| PolicyError {
        path: path.to_path_buf(),
        violation,
    };
    let meta = match role {
        Role::Config => path.metadata(),
        _ => path.symlink_metadata(),
    }
    .map_err(|e| {
        error(Violation::Unreadable {
            vanished: e.kind() == std::io::ErrorKind::NotFound,
            message: e.to_string(),
        })
    })?;
    let kind = meta.file_type();
    let (ok_kind, expected) = match role {
        Role::Ancestor | Role::Directory => (kind.is_dir(), "a directory"),
        Role::File | Role::Config => (kind.is_file(), "a regular file"),
    };
    if !ok_kind {
        let found = if kind.is_symlink() {
            "a symbolic link"
        } else if kind.is_dir() {
            "a directory"
        } else if kind.is_file() {
            "a regular file"
        } else {
            "a special file"
        };
        return Err(error(Violation::WrongKind { found, expected }));
    }
    let uid = meta.uid();
    if uid != 0 && uid != effective_uid() {
        return Err(error(Violation::ForeignOwner { uid }));
    }
    let mode = meta.mode();
    let sticky = mode & 0o1000 != 0;
    let others_write = mode & 0o002 != 0;
    let group_write =
        mode & 0o020 != 0 && meta.gid() != 0 && !is_private_group(meta.gid(), meta.uid());
    let tolerated = role == Role::Ancestor && sticky;
    if (others_write || group_write) && !tolerated {
        return Err(error(Violation::WritableByOthers { mode }));
    }
    if role == Role::File && meta.nlink() > 1 {
        return Err(error(Violation::HardLinked {
            links: meta.nlink(),
        }));
    }
    if role != Role::Ancestor && has_acl(path, role == Role::Config) {
        return Err(error(Violation::HasAcl));
    }
    Ok(())
}

/// Whether group `gid` is the private group of user `uid` (its primary group, with no other
/// members listed): what `umask 002` systems give every user, so group-writable then means
/// writable by the owner only (Debian's sshd tolerates it too).
#[cfg(unix)]
fn is_private_group(gid: u32, uid: u32) -> bool {
    // SAFETY: the reentrant lookups fill the zeroed structs from buffers we own and sized;
    // the pointers they return are read before the buffers go.
    unsafe {
        let mut buffer = vec![0 as libc::c_char; 16 * 1024];
        let mut user: libc::passwd = std::mem::zeroed();
        let mut found: *mut libc::passwd = std::ptr::null_mut();
        if libc::getpwuid_r(
            uid,
            &mut user,
            buffer.as_mut_ptr(),
            buffer.len(),
            &mut found,
        ) != 0
            || found.is_null()
            || user.pw_gid != gid
        {
            return false;
        }
        let owner = std::ffi::CStr::from_ptr(user.pw_name).to_owned();
        let mut group_buffer = vec![0 as libc::c_char; 64 * 1024];
        let mut group: libc::group = std::mem::zeroed();
        let mut found: *mut libc::group = std::ptr::null_mut();
        if libc::getgrgid_r(
            gid,
            &mut group,
            group_buffer.as_mut_ptr(),
            group_buffer.len(),
            &mut found,
        ) != 0
            || found.is_null()
        {
            return false;
        }
        let mut member = group.gr_mem;
        while !member.is_null() && !(*member).is_null() {
            if std::ffi::CStr::from_ptr(*member) != owner.as_c_str() {
                return false;
            }
            member = member.add(1);
        }
        true
    }
}

/// Whether `path` carries a POSIX access ACL, or (a directory) a default ACL.
#[cfg(target_os = "linux")]
fn has_acl(path: &Path, follow: bool) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(path) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    ["system.posix_acl_access\0", "system.posix_acl_default\0"]
        .iter()
        .any(|name| {
            let name = name.as_ptr().cast::<libc::c_char>();
            // SAFETY: NUL-terminated path and name; a zero-sized query only returns the size.
            let size = unsafe {
                if follow {
                    libc::getxattr(path.as_ptr(), name, std::ptr::null_mut(), 0)
                } else {
                    libc::lgetxattr(path.as_ptr(), name, std::ptr::null_mut(), 0)
                }
            };
            size > 0
        })
}

#[cfg(all(unix, not(target_os = "linux")))]
fn has_acl(_path: &Path, _follow: bool) -> bool {
    false
}

#[cfg(not(unix))]
fn check_path(_path: &Path, _role: Role) -> Result<(), PolicyError> {
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn chmod(path: &Path, mode: u32) {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn a_private_home_passes_and_each_opening_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        let state = home.join("cron");
        std::fs::create_dir_all(&state).unwrap();
        chmod(&home, 0o700);
        chmod(&state, 0o700);
        let store = state.join("cronhost.db");
        std::fs::write(&store, "").unwrap();
        chmod(&store, 0o600);
        let config = home.join("cronhost.toml");
        check_tree(
            &home,
            Some(&config),
            std::slice::from_ref(&state),
            std::slice::from_ref(&store),
        )
        .unwrap();

        chmod(&state, 0o777);
        let error =
            check_tree(&home, Some(&config), std::slice::from_ref(&state), &[]).unwrap_err();
        assert_eq!(error.path, state);
        assert!(matches!(
            error.violation,
            Violation::WritableByOthers { .. }
        ));
        assert!(error.to_string().contains("chmod go-w"), "{error}");
        chmod(&state, 0o700);

        chmod(&store, 0o666);
        let error =
            check_tree(&home, Some(&config), &[], std::slice::from_ref(&store)).unwrap_err();
        assert!(matches!(
            error.violation,
            Violation::WritableByOthers { .. }
        ));
        std::fs::remove_file(&store).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", &store).unwrap();
        let error =
            check_tree(&home, Some(&config), &[], std::slice::from_ref(&store)).unwrap_err();
        assert!(
            matches!(
                error.violation,
                Violation::WrongKind {
                    found: "a symbolic link",
                    ..
                }
            ),
            "{error}"
        );
    }

    #[test]
    fn a_sticky_ancestor_is_tolerated_a_writable_one_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let parent = dir.path().join("shared");
        let home = parent.join("home");
        std::fs::create_dir_all(&home).unwrap();
        chmod(&home, 0o700);
        chmod(&parent, 0o1777);
        let config = home.join("cronhost.toml");
        check_tree(&home, Some(&config), &[], &[]).unwrap();
        chmod(&parent, 0o777);
        let error = check_tree(&home, Some(&config), &[], &[]).unwrap_err();
        assert_eq!(error.path, parent.canonicalize().unwrap());
        chmod(&parent, 0o755);
    }
}
