//! No file in `plugins.d` can take a cronhost command down: discovery runs in a sandboxed probe
//! child, the host loads only its selected provider, and a provider that took a host down once
//! runs isolated after the restart (the crash-loop guard). Real libraries, real processes.

use std::io::Read;
use std::net::{TcpListener, UdpSocket};
use std::path::Path;

use cronhost_e2e::{
    artifacts, c_zoo, count_lines, escape_library, marking_job, wait_for, Running, TestHome,
    PATIENCE,
};

/// Each bad file, and what its rejection must say.
fn bad_files() -> Vec<(&'static str, &'static Path, &'static [&'static str])> {
    let zoo = c_zoo();
    vec![
        (
            "10-ctor-abort.so",
            &zoo.abort,
            &[
                "loading it crashed the probe",
                "SIGABRT",
                "zoo: constructor aborting",
            ],
        ),
        (
            "11-ctor-segv.so",
            &zoo.segv,
            &[
                "loading it crashed the probe",
                "SIGSEGV",
                "zoo: constructor about to segfault",
            ],
        ),
        (
            "12-ctor-exit.so",
            &zoo.exit,
            &["loading it ended the probe", "exited with code 0"],
        ),
        (
            "13-ctor-hang.so",
            &zoo.hang,
            &["did not finish within 2000 ms", "zoo: constructor hanging"],
        ),
        (
            "14-missing-dep.so",
            &zoo.missing_dep,
            &["not a loadable shared library", "libzoo_gone.so"],
        ),
        (
            "15-panic-abort-register.so",
            &artifacts().panic_abort_register,
            &["SIGABRT", "zoo: registering provider failed"],
        ),
    ]
}

/// A home whose plugins dir holds every bad file beside the example provider.
fn bad_home(config: &str) -> TestHome {
    let home = TestHome::new();
    home.install(&artifacts().example, "50-example.so");
    for (file, library, _) in bad_files() {
        home.install(library, file);
    }
    home.write_config(&format!(
        "[cron]\nprovider_call_timeout_ms = 2000\n{config}"
    ));
    home
}

fn json(output: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

#[test]
fn providers_lists_every_bad_file_with_its_reason_and_the_good_provider_stays_selectable() {
    let home = bad_home("provider = \"example\"\n");
    let output = home.cronhost(&["providers", "--json"]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let catalog = json(&output);
    assert_eq!(catalog["selected"], "example", "{catalog:#}");
    let example = catalog["providers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|row| row["name"] == "example")
        .expect("example listed");
    assert_eq!(example["available"], true);
    let rejected = catalog["rejected"].as_array().unwrap();
    for (file, _, needles) in bad_files() {
        let reason = rejected
            .iter()
            .find(|r| r["path"].as_str().unwrap().ends_with(file))
            .unwrap_or_else(|| panic!("{file} not rejected: {rejected:#?}"))["reason"]
            .as_str()
            .unwrap()
            .to_owned();
        for needle in needles {
            assert!(
                reason.contains(needle),
                "{file}: {needle:?} not in {reason:?}"
            );
        }
        assert!(!reason.contains('\n'), "one line: {reason:?}");
    }
    assert_eq!(rejected.len(), bad_files().len(), "{rejected:#?}");
    // The probe ran as the least privilege this machine offers.
    let sandbox = &catalog["probe_sandbox"];
    assert_eq!(sandbox["no_new_privs"], true, "{sandbox}");
    assert_eq!(sandbox["landlock"], "enforced", "{sandbox}");
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        assert!(
            sandbox["user"].as_str().unwrap().starts_with("nobody"),
            "{sandbox}"
        );
        assert_eq!(sandbox["network_namespace"], true, "{sandbox}");
    }
}

#[test]
fn providers_check_gives_every_bad_file_its_verdict_and_exits_1() {
    let home = bad_home("");
    for (file, _, needles) in bad_files() {
        let path = home.plugins_dir().join(file);
        let output = home.cronhost(&["providers", "check", path.to_str().unwrap()]);
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert_eq!(output.status.code(), Some(1), "{file}: {stdout}");
        assert!(stdout.contains("refused"), "{file}: {stdout}");
        for needle in needles {
            assert!(
                stdout.contains(needle),
                "{file}: {needle:?} not in {stdout}"
            );
        }
    }
    let good = home.plugins_dir().join("50-example.so");
    let output = home.cronhost(&["providers", "check", good.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0));
}

#[test]
fn a_daemon_fires_on_beside_every_bad_file_with_the_good_provider_selected() {
    let home = bad_home("provider = \"example\"\n");
    let marks = marking_job(&home, "beside-bad-files");
    let daemon = Running::start(&home);
    daemon.wait_for_log("provider `example` from");
    wait_for("three fires", PATIENCE, || count_lines(&marks) >= 3);
    let status = home.cronhost(&["status"]);
    assert_eq!(
        status.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&status.stdout)
    );
    let (exit, log) = daemon.terminate();
    assert_eq!(exit.code(), Some(0), "{log}");
    for (file, _, _) in bad_files() {
        assert!(
            log.lines().any(|l| l.contains("WARN") && l.contains(file)),
            "{file} not reported: {log}"
        );
    }
}

#[test]
fn an_unchanged_plugins_dir_is_not_probed_again_and_a_crashing_file_only_once_changed() {
    let home = TestHome::new();
    home.install(&artifacts().example, "50-example.so");
    let abort = home.install(&c_zoo().abort, "10-ctor-abort.so");
    home.install(&c_zoo().missing_dep, "14-missing-dep.so");
    let start_and_read_probed = |home: &TestHome| {
        let daemon = Running::start(home);
        daemon.wait_for_log("probed in a sandboxed child");
        let (exit, log) = daemon.terminate();
        assert_eq!(exit.code(), Some(0), "{log}");
        let line = log
            .lines()
            .find(|l| l.contains("probed in a sandboxed child"))
            .unwrap()
            .to_owned();
        assert!(line.contains("1 provider(s), 2 rejected"), "{line}");
        line
    };
    assert!(start_and_read_probed(&home).contains("; 3 file(s) probed"));
    assert!(start_and_read_probed(&home).contains("; 0 file(s) probed"));
    // A changed file (a byte appended: new identity and digest) is probed again, alone.
    let mut bytes = std::fs::read(&abort).unwrap();
    bytes.push(0);
    std::fs::write(&abort, bytes).unwrap();
    assert!(start_and_read_probed(&home).contains("; 1 file(s) probed"));
}

#[test]
fn probing_an_untrusted_file_can_neither_write_nor_reach_the_network() {
    let home = TestHome::new();
    // A directory anyone may write to: only the sandbox stands between the library and it.
    let open_dir = home.path().join("open");
    std::fs::create_dir(&open_dir).unwrap();
    std::fs::set_permissions(
        &open_dir,
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .unwrap();
    let marker = open_dir.join("escaped");
    let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = tcp.local_addr().unwrap().port();
    let udp = UdpSocket::bind(("127.0.0.1", port)).unwrap();
    tcp.set_nonblocking(true).unwrap();
    udp.set_nonblocking(true).unwrap();
    let library = escape_library(home.path(), &marker, port);
    let installed = home.install(&library, "escape.so");

    let output = std::process::Command::new(&artifacts().cronhost)
        .arg("--home")
        .arg(home.path())
        .args(["providers", "check", installed.to_str().unwrap()])
        .env("RUST_LOG", "debug")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    // The constructor ran in the probe, and every attempt failed.
    let said = stderr
        .lines()
        .find(|l| l.contains("zoo-escape:"))
        .unwrap_or_else(|| panic!("the constructor did not run: {stderr}"));
    assert!(!said.contains("succeeded"), "{said}");
    assert!(!marker.exists(), "the probe wrote {}", marker.display());
    assert!(
        tcp.accept().is_err(),
        "the probe connected over TCP: {said}"
    );
    let mut datagram = [0u8; 16];
    assert!(
        udp.recv(&mut datagram).is_err(),
        "the probe sent UDP: {said}"
    );

    // The same library loaded without the sandbox does escape: the test can see an escape.
    let path = std::ffi::CString::new(installed.to_str().unwrap()).unwrap();
    // SAFETY: loading a test library whose only effects are the marker and the sockets.
    let handle = unsafe { libc::dlopen(path.as_ptr(), libc::RTLD_NOW) };
    assert!(!handle.is_null(), "control load failed");
    assert!(marker.exists(), "the control load wrote no marker");
    wait_for("the control connection", PATIENCE, || tcp.accept().is_ok());
    wait_for("the control datagram", PATIENCE, || {
        udp.recv(&mut datagram).is_ok()
    });
}

/// The library files mapped into process `pid`.
fn mapped(pid: u32) -> String {
    let mut maps = String::new();
    std::fs::File::open(format!("/proc/{pid}/maps"))
        .and_then(|mut f| f.read_to_string(&mut maps))
        .expect("read maps");
    maps
}

#[test]
fn the_host_maps_only_its_selected_in_process_provider_and_never_an_isolated_one() {
    let home = TestHome::new();
    home.install(&artifacts().example, "example.so");
    home.install(&artifacts().zoo, "zoo.so");
    home.install(&c_zoo().abort, "abort.so");
    for (isolation, example_mapped) in [("in-process", true), ("process", false)] {
        home.write_config(&format!(
            "[cron]\nprovider = \"example\"\n[providers.example]\nisolation = \"{isolation}\"\n"
        ));
        let daemon = Running::start(&home);
        daemon.wait_for_log("provider `example` from");
        let maps = mapped(daemon.pid());
        assert_eq!(
            maps.contains("plugins.d/example.so"),
            example_mapped,
            "{isolation}: {maps}"
        );
        assert!(!maps.contains("plugins.d/zoo.so"), "{isolation}: {maps}");
        assert!(!maps.contains("plugins.d/abort.so"), "{isolation}: {maps}");
        let (exit, log) = daemon.terminate();
        assert_eq!(exit.code(), Some(0), "{log}");
    }
}

#[test]
fn a_provider_that_took_the_host_down_runs_isolated_after_the_restart() {
    let home = TestHome::new();
    home.install(&artifacts().zoo, "zoo.so");
    home.write_config("[cron]\nprovider = \"zoo-segfault-start\"\n");
    let marks = marking_job(&home, "after-crash");
    let catalog = json(&home.cronhost(&["providers", "--json"]));
    let sha256 = catalog["providers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|row| row["name"] == "zoo-segfault-start")
        .unwrap()["sha256"]
        .as_str()
        .unwrap()
        .to_owned();

    // In-process, the segfault takes the first host down.
    let first = Running::start(&home);
    let first_pid = first.pid();
    let (exit, log) = first.wait_exit();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&exit),
        Some(libc::SIGSEGV),
        "{log}"
    );

    // The restarted host holds it against the provider and runs it isolated: jobs fire.
    let second = Running::start(&home);
    second.wait_for_log("runs isolated in process");
    let log = second.log();
    let error = log
        .lines()
        .find(|l| l.contains("ERROR") && l.contains("ended without a clean stop"))
        .unwrap_or_else(|| panic!("no ERROR about the crash: {log}"));
    for needle in ["zoo-segfault-start", &sha256, &format!("pid {first_pid}")] {
        assert!(error.contains(needle), "{needle:?} not in {error}");
    }
    let before = count_lines(&marks);
    wait_for("fires after the restart", PATIENCE, || {
        count_lines(&marks) >= before + 3
    });
    let status = home.cronhost(&["status"]);
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(
        text.contains("crash:") && text.contains("zoo-segfault-start"),
        "{text}"
    );
    let status = json(&home.cronhost(&["status", "--json"]));
    assert_eq!(status["crash_verdicts"][0]["pid"], first_pid, "{status:#}");
    let catalog = json(&home.cronhost(&["providers", "--json"]));
    let row = catalog["providers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|row| row["name"] == "zoo-segfault-start")
        .unwrap()
        .clone();
    assert_eq!(row["isolation"], "process", "{row:#}");
    assert!(row["crash_verdict"].is_string(), "{row:#}");
    let (exit, log) = second.terminate();
    assert_eq!(exit.code(), Some(0), "{log}");
    cronhost_e2e::assert_each_occurrence_ran_once(&marks);

    // The operator lifts the verdict; lifting a verdict that is not there is bad input.
    let cleared = home.cronhost(&["providers", "clear", "zoo-segfault-start"]);
    assert_eq!(cleared.status.code(), Some(0));
    let again = home.cronhost(&["providers", "clear", "zoo-segfault-start"]);
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("no crash verdict"));
    let status = json(&home.cronhost(&["status", "--json"]));
    assert_eq!(status["crash_verdicts"], serde_json::json!([]));
}

#[test]
fn a_clean_stop_leaves_no_evidence_against_an_in_process_provider() {
    let home = TestHome::new();
    home.install(&artifacts().example, "example.so");
    home.write_config("[cron]\nprovider = \"example\"\n");
    for _ in 0..2 {
        let daemon = Running::start(&home);
        daemon.wait_for_log("provider `example` from");
        let (exit, log) = daemon.terminate();
        assert_eq!(exit.code(), Some(0), "{log}");
        assert!(!log.contains("without a clean stop"), "{log}");
    }
    assert!(!home
        .state_dir()
        .join(cronhost::CrashGuard::MARKER_FILE)
        .exists());
    let status = json(&home.cronhost(&["status", "--json"]));
    assert_eq!(status["crash_verdicts"], serde_json::json!([]));
}
