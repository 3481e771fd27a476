//! A PostgreSQL server for the cluster tests: `DATABASE_URL` when set, otherwise a throwaway
//! server (initdb + pg_ctl in a temporary directory on a free port, run as the `postgres` user
//! when we are root), stopped when the test process exits.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The URL of a server the tests may use.
pub fn database_url() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| match std::env::var("DATABASE_URL") {
        Ok(url) if !url.trim().is_empty() => url,
        _ => start_throwaway_server(),
    })
}

/// A cluster name no other test (or test run) uses.
pub fn unique_cluster(test: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    format!("{test}-{}-{nanos}", std::process::id())
}

fn find_binary(name: &str) -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH")
        .map(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join(name))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    let debian: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|versions| {
            versions
                .filter_map(|v| v.ok())
                .map(|v| v.path().join("bin").join(name))
                .collect()
        })
        .unwrap_or_default();
    on_path
        .into_iter()
        .chain(debian)
        .find(|path| path.is_file())
}

static SERVER_DIR: OnceLock<PathBuf> = OnceLock::new();

extern "C" fn stop_server() {
    if let (Some(dir), Some(pg_ctl)) = (SERVER_DIR.get(), find_binary("pg_ctl")) {
        let _ = as_server_user(
            &pg_ctl,
            &[
                "-D",
                &dir.join("data").to_string_lossy(),
                "-m",
                "immediate",
                "stop",
            ],
        )
        .status();
        let _ = std::fs::remove_dir_all(dir);
    }
}

fn running_as_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn as_server_user(program: &Path, args: &[&str]) -> Command {
    if running_as_root() {
        let mut command = Command::new("runuser");
        command
            .args(["-u", "postgres", "--"])
            .arg(program)
            .args(args);
        command
    } else {
        let mut command = Command::new(program);
        command.args(args);
        command
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free local port")
}

fn start_throwaway_server() -> String {
    let (Some(initdb), Some(pg_ctl)) = (find_binary("initdb"), find_binary("pg_ctl")) else {
        panic!(
            "the cluster tests need PostgreSQL: set DATABASE_URL to a server they may use (e.g. postgres://postgres@127.0.0.1:5432/test), or install the PostgreSQL server binaries (initdb, pg_ctl) so the tests can start a throwaway one"
        );
    };
    let dir = std::env::temp_dir().join(format!("cronhost-pg-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temporary directory for PostgreSQL");
    if running_as_root() {
        let _ = Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(&dir)
            .status();
    }
    let data = dir.join("data");
    let data_arg = data.to_string_lossy().into_owned();
    let status = as_server_user(
        &initdb,
        &[
            "-D",
            &data_arg,
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
        ],
    )
    .stdout(std::process::Stdio::null())
    .status()
    .expect("initdb runs");
    assert!(status.success(), "initdb failed");
    let port = free_port();
    let options = format!(
        "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
        dir.display()
    );
    let log = dir.join("server.log").to_string_lossy().into_owned();
    let status = as_server_user(
        &pg_ctl,
        &["-D", &data_arg, "-l", &log, "-o", &options, "-w", "start"],
    )
    .stdout(std::process::Stdio::null())
    .status()
    .expect("pg_ctl runs");
    assert!(status.success(), "pg_ctl start failed; see {log}");
    let _ = SERVER_DIR.set(dir);
    // SAFETY: registering a plain extern "C" function to run at exit.
    unsafe { libc::atexit(stop_server) };
    format!("postgres://postgres@127.0.0.1:{port}/postgres")
}
