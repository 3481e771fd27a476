//! The probe's least privilege, applied by the probe child to itself before it loads anything:
//! no core dumps, a network namespace of its own and the `nobody` user when started as root,
//! `PR_SET_NO_NEW_PRIVS`, and a Landlock rule set that denies every write, every TCP bind or
//! connect, abstract Unix sockets and signals outside the sandbox, and reads anything but the
//! handed libraries and the system's shared-library directories.

use std::fs::File;

use super::wire::SandboxReport;

/// Directories the dynamic loader may read (and map executable) to resolve a library's own
/// dependencies (`libc`, `libgcc_s`, …). Missing ones are skipped.
const SYSTEM_LIBRARY_PATHS: &[&str] = &[
    "/lib",
    "/lib32",
    "/lib64",
    "/usr/lib",
    "/usr/lib32",
    "/usr/lib64",
    "/usr/local/lib",
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
];

/// Restrict this process (the probe child, still single-threaded) before it loads `libraries`,
/// the descriptors it was handed. An error means a restriction the OS offers could not be
/// applied; the probe then loads nothing.
pub(crate) fn restrict(libraries: &[&File]) -> Result<SandboxReport, String> {
    let mut report = SandboxReport::default();
    no_core_dumps();
    #[cfg(target_os = "linux")]
    {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } == 0 {
            // No interfaces at all, not even loopback: nothing to reach over UDP either.
            // SAFETY: unshare(2) affects only this single-threaded process.
            report.network_namespace = unsafe { libc::unshare(libc::CLONE_NEWNET) } == 0;
            report.user = become_nobody()?;
        } else {
            report.user = current_user_name();
        }
        set_prctl(libc::PR_SET_DUMPABLE, 1, "PR_SET_DUMPABLE")?; // reset by the user change; /proc/self/fd needs it
                                                                 // Changing credentials cleared the parent-death signal the host set.
        set_prctl(
            libc::PR_SET_PDEATHSIG,
            libc::SIGKILL as libc::c_ulong,
            "PR_SET_PDEATHSIG",
        )?;
        set_prctl(libc::PR_SET_NO_NEW_PRIVS, 1, "PR_SET_NO_NEW_PRIVS")?;
        report.no_new_privs = true;
        report.landlock = landlock(libraries)?;
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = libraries;
        report.user = String::new();
        report.landlock = "not offered by this OS".into();
    }
    Ok(report)
}

fn no_core_dumps() {
    #[cfg(unix)]
    {
        let none = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: setrlimit with a valid struct; failure only leaves core dumps possible.
        unsafe {
            libc::setrlimit(libc::RLIMIT_CORE, &none);
        }
    }
}

#[cfg(target_os = "linux")]
fn set_prctl(option: libc::c_int, value: libc::c_ulong, name: &str) -> Result<(), String> {
    // SAFETY: prctl with an integer argument; no memory is passed.
    if unsafe { libc::prctl(option, value, 0, 0, 0) } != 0 {
        return Err(format!(
            "{name} failed: {}",
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}

/// Drop root for `nobody` (uid and gid 65534 when the system has no such user), with no
/// supplementary groups.
#[cfg(target_os = "linux")]
fn become_nobody() -> Result<String, String> {
    // SAFETY: getpwnam returns a pointer into static storage or null; read at once.
    let (uid, gid) = unsafe {
        let entry = libc::getpwnam(c"nobody".as_ptr());
        if entry.is_null() {
            (65534, 65534)
        } else {
            ((*entry).pw_uid, (*entry).pw_gid)
        }
    };
    // SAFETY: credential calls on this single-threaded process; each result is checked.
    unsafe {
        if libc::setgroups(0, std::ptr::null()) != 0
            || libc::setgid(gid) != 0
            || libc::setuid(uid) != 0
        {
            return Err(format!(
                "cannot drop root for nobody (uid {uid}): {}",
                std::io::Error::last_os_error()
            ));
        }
        if libc::setuid(0) == 0 {
            return Err("dropped root for nobody, yet could become root again".into());
        }
    }
    Ok(format!("nobody (uid {uid})"))
}

#[cfg(target_os = "linux")]
fn current_user_name() -> String {
    // SAFETY: geteuid has no preconditions.
    let uid = unsafe { libc::geteuid() };
    format!("uid {uid}")
}

#[cfg(target_os = "linux")]
fn landlock(libraries: &[&File]) -> Result<String, String> {
    use landlock::{
        path_beneath_rules, Access, AccessFs, AccessNet, CompatLevel, Compatible, PathBeneath,
        Ruleset, RulesetAttr, RulesetCreatedAttr, RulesetStatus, Scope, ABI,
    };
    let abi = ABI::V6;
    let fail = |e: &dyn std::fmt::Display| format!("cannot set up Landlock: {e}");
    let mut ruleset = Ruleset::default()
        .set_compatibility(CompatLevel::BestEffort)
        .handle_access(AccessFs::from_all(abi))
        .map_err(|e| fail(&e))?
        .handle_access(AccessNet::from_all(abi))
        .map_err(|e| fail(&e))?
        .scope(Scope::from_all(abi))
        .map_err(|e| fail(&e))?
        .create()
        .map_err(|e| fail(&e))?
        .add_rules(path_beneath_rules(
            SYSTEM_LIBRARY_PATHS
                .iter()
                .filter(|p| std::path::Path::new(p).exists()),
            AccessFs::ReadFile | AccessFs::ReadDir | AccessFs::Execute,
        ))
        .map_err(|e| fail(&e))?;
    for library in libraries {
        ruleset = ruleset
            .add_rule(PathBeneath::new(
                *library,
                AccessFs::ReadFile | AccessFs::Execute,
            ))
            .map_err(|e| fail(&e))?;
    }
    let status = ruleset.restrict_self().map_err(|e| fail(&e))?;
    Ok(match status.ruleset {
        RulesetStatus::FullyEnforced => "enforced".into(),
        RulesetStatus::PartiallyEnforced => "partially enforced (an older kernel)".into(),
        RulesetStatus::NotEnforced => "not offered by this kernel".into(),
    })
}
