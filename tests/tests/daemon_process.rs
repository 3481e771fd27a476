//! The `cronhost` binary as an operator runs it: real processes, real jobs, real signals.

use std::process::Command;
use std::time::{Duration, Instant};

use cronhost_e2e::{
    artifacts, count_lines, marking_job as job, wait_for, Running, TestHome, PATIENCE,
};

#[test]
fn run_fires_jobs_through_the_builtin_ticker_and_exits_0_on_sigterm() {
    let home = TestHome::new();
    let out = job(&home, "tick");
    let running = Running::start(&home);
    running.wait_for_log("the built-in ticker drives the fires");
    wait_for("two fires", PATIENCE, || count_lines(&out) >= 2);
    let (status, log) = running.terminate();
    assert_eq!(status.code(), Some(0), "{log}");
    assert!(log.contains("received signal 15; stopping"), "{log}");
    assert!(log.contains("fire job=tick scheduled="), "{log}");
}

#[test]
fn the_example_provider_drives_the_fires() {
    let home = TestHome::new();
    home.install(&artifacts().example, "example.so");
    home.write_config("[cron]\nprovider = \"example\"\n[providers.example]\ninterval_ms = 50\n");
    let out = job(&home, "ex");
    let running = Running::start(&home);
    running.wait_for_log("provider `example` from");
    running.wait_for_log("[example] example ticker started, every 50 ms");
    wait_for("two fires", PATIENCE, || count_lines(&out) >= 2);
    let (status, log) = running.terminate();
    assert_eq!(status.code(), Some(0), "{log}");
    assert!(log.contains("[example] example ticker stopped"), "{log}");
}

#[test]
fn an_unknown_provider_warns_and_jobs_still_fire() {
    let home = TestHome::new();
    home.install(&artifacts().example, "example.so");
    home.write_config("[cron]\nprovider = \"nope\"\n");
    let out = job(&home, "fallback");
    let running = Running::start(&home);
    running.wait_for_log("cron.provider `nope` is not installed");
    running.wait_for_log("(available: example); using the built-in ticker");
    wait_for("two fires", PATIENCE, || count_lines(&out) >= 2);
    assert_eq!(running.terminate().0.code(), Some(0));
}

#[test]
fn a_provider_failing_at_start_leaves_the_jobs_firing() {
    let home = TestHome::new();
    home.install(&artifacts().zoo, "zoo.so");
    home.write_config("[cron]\nprovider = \"zoo-fail-start\"\n");
    let out = job(&home, "survivor");
    let running = Running::start(&home);
    running.wait_for_log("zoo: start refuses; the builtin ticker takes over");
    wait_for("two fires", PATIENCE, || count_lines(&out) >= 2);
    running.wait_for_log("retrying provider `zoo-fail-start` (attempt 2)");
    assert_eq!(running.terminate().0.code(), Some(0));
}

#[test]
fn a_panicking_stop_does_not_spoil_shutdown() {
    let home = TestHome::new();
    home.install(&artifacts().zoo, "zoo.so");
    home.write_config("[cron]\nprovider = \"zoo-panic-stop\"\n");
    let out = job(&home, "stopper");
    let running = Running::start(&home);
    wait_for("a fire", PATIENCE, || count_lines(&out) >= 1);
    let (status, log) = running.terminate();
    assert_eq!(status.code(), Some(0), "{log}");
    assert!(
        log.contains("provider `zoo-panic-stop` stop failed: panicked in stop: zoo: stop boom"),
        "{log}"
    );
    assert!(log.contains("cronhost stopped"), "{log}");
}

#[test]
fn a_panicking_reconcile_is_logged_and_the_jobs_keep_firing() {
    let home = TestHome::new();
    home.install(&artifacts().zoo, "zoo.so");
    home.write_config("[cron]\nprovider = \"zoo-panic-reconcile\"\nreconcile_interval_secs = 1\n");
    let out = job(&home, "steady");
    let running = Running::start(&home);
    running.wait_for_log("provider `zoo-panic-reconcile` reconcile failed: panicked in reconcile: zoo: reconcile boom");
    let fired = count_lines(&out);
    wait_for("fires after the panic", PATIENCE, || {
        count_lines(&out) >= fired + 2
    });
    assert_eq!(running.terminate().0.code(), Some(0));
}

#[test]
fn a_panicking_on_jobs_changed_is_logged_and_the_new_job_fires() {
    let home = TestHome::new();
    home.install(&artifacts().zoo, "zoo.so");
    home.write_config("[cron]\nprovider = \"zoo-panic-on-jobs-changed\"\n");
    let first_out = job(&home, "first");
    let running = Running::start(&home);
    wait_for("the first job", PATIENCE, || count_lines(&first_out) >= 1);
    let second_out = job(&home, "second");
    running.wait_for_log(
        "on_jobs_changed failed: panicked in on_jobs_changed: zoo: on_jobs_changed boom",
    );
    wait_for("the added job", PATIENCE, || count_lines(&second_out) >= 1);
    assert_eq!(running.terminate().0.code(), Some(0));
}

#[test]
fn providers_json_lists_the_selection_the_providers_and_every_rejection() {
    let home = TestHome::new();
    home.install(&artifacts().zoo, "10-zoo.so");
    home.install(&artifacts().duplicate, "20-dup.so");
    home.install(&artifacts().compat_1_0, "30-compat.so");
    home.install(&artifacts().compat_1_1, "31-compat.so");
    home.install(&artifacts().compat_1_2, "32-compat.so");
    home.write_plugin_file("00-empty.so", b"");
    home.write_config(
        "[cron]\nprovider = \"zoo-ticker\"\nprovider_call_timeout_ms = 1000\n[providers.zoo-unavailable]\nisolation = \"process\"\n",
    );
    let output = Command::new(&artifacts().cronhost)
        .args([
            "--home",
            home.path().to_str().unwrap(),
            "providers",
            "--json",
        ])
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "exit 0 even with rejected files"
    );
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON on stdout");
    assert_eq!(json["selected"], "zoo-ticker");

    let providers = json["providers"].as_array().unwrap();
    let row = |name: &str| providers.iter().find(|p| p["name"] == name).cloned();
    assert_eq!(row("builtin").unwrap()["available"], true);
    let ticker = row("zoo-ticker").unwrap();
    assert_eq!(ticker["available"], true);
    assert_eq!(ticker["api_version"], cronhost_provider_api::API_VERSION);
    assert!(ticker["path"].as_str().unwrap().ends_with("10-zoo.so"));
    assert_eq!(ticker["isolation"], "in-process");
    // Asked in its own process, it answers all the same.
    let isolated = row("zoo-unavailable").unwrap();
    assert_eq!(isolated["available"], false);
    assert_eq!(isolated["isolation"], "process");
    assert_eq!(row("zoo-panic-is-available").unwrap()["available"], false);
    assert_eq!(row("compat-1.0").unwrap()["api_version"], "1.0.0");
    assert_eq!(row("compat-1.1").unwrap()["api_version"], "1.1.0");
    assert_eq!(row("compat-1.2").unwrap()["api_version"], "1.2.0");
    assert!(row("dup-only").is_some());
    assert!(
        row("zoo-panic-new").is_none(),
        "a provider whose constructor panics is rejected"
    );

    let rejected = json["rejected"].as_array().unwrap();
    let reason = |file: &str, needle: &str| {
        rejected.iter().any(|r| {
            r["path"].as_str().unwrap().ends_with(file)
                && r["reason"].as_str().unwrap().contains(needle)
        })
    };
    assert!(
        reason("00-empty.so", "not a loadable shared library"),
        "{rejected:?}"
    );
    assert!(
        reason("20-dup.so", "duplicate provider name `zoo-ticker`"),
        "{rejected:?}"
    );
    assert!(
        reason(
            "10-zoo.so",
            "panicked in constructor: zoo: constructor boom"
        ),
        "{rejected:?}"
    );
    assert!(
        reason("10-zoo.so", "zoo: constructor refuses"),
        "{rejected:?}"
    );
}

#[test]
fn a_malformed_config_is_refused_naming_the_file_and_left_untouched() {
    let home = TestHome::new();
    let text = "[cron]\nprovider = \"example\"\ntick_intervall_ms = 5\n";
    home.write_config(text);
    let output = Command::new(&artifacts().cronhost)
        .args(["--home", home.path().to_str().unwrap(), "run"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("cronhost.toml") && stderr.contains("tick_intervall_ms"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(home.path().join("cronhost.toml")).unwrap(),
        text
    );
}

#[test]
fn a_missing_home_is_created() {
    let parent = TestHome::new();
    let home = parent.path().join("fresh").join("home");
    let output = Command::new(&artifacts().cronhost)
        .args(["--home", home.to_str().unwrap(), "providers"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    assert!(home.is_dir());
    assert!(String::from_utf8_lossy(&output.stdout).contains("selected:    builtin"));
}

#[test]
fn providers_check_vets_and_loads_one_file() {
    let home = TestHome::new();
    let good = home.install(&artifacts().zoo, "zoo.so");
    let output = home.cronhost(&["providers", "check", good.to_str().unwrap(), "--json"]);
    assert_eq!(output.status.code(), Some(0));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["verdict"], "ok");
    assert_eq!(report["sha256"].as_str().unwrap().len(), 64);
    assert!(report["providers"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["name"] == "zoo-ticker"));

    let text = home.write_plugin_file("text.so", b"not a library");
    let output = home.cronhost(&["providers", "check", text.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("refused: not a loadable shared library")
    );
}

#[test]
fn a_provider_hanging_in_reconcile_is_quarantined_and_the_builtin_ticker_takes_over() {
    let home = TestHome::new();
    home.install(&artifacts().zoo, "zoo.so");
    home.write_config("[cron]\nprovider = \"zoo-hang-reconcile\"\nreconcile_interval_secs = 1\nprovider_call_timeout_ms = 300\n");
    let out = job(&home, "keeps-firing");
    let running = Running::start(&home);
    running.wait_for_log("reconcile did not return within 300ms; the provider is quarantined");
    running.wait_for_log(
        "is quarantined: reconcile did not return within 300ms; it is not used again",
    );
    let fired = count_lines(&out);
    wait_for("fires through the built-in ticker", PATIENCE, || {
        count_lines(&out) >= fired + 2
    });
    let began = Instant::now();
    let (status, log) = running.terminate();
    assert_eq!(status.code(), Some(0), "{log}");
    assert!(
        began.elapsed() < Duration::from_secs(10),
        "shutdown was not held up: {:?}",
        began.elapsed()
    );
}

#[test]
fn hanging_stop_and_a_start_that_ignores_the_stop_signal_do_not_hold_up_shutdown() {
    for (provider, evidence) in [
        ("zoo-hang-stop", "stop did not return within 300ms"),
        (
            "zoo-ignore-stop",
            "the ticker thread did not stop in time; abandoning it",
        ),
    ] {
        let home = TestHome::new();
        home.install(&artifacts().zoo, "zoo.so");
        home.write_config(&format!(
            "[cron]\nprovider = \"{provider}\"\nshutdown_timeout_ms = 1000\nprovider_call_timeout_ms = 300\n"
        ));
        let out = job(&home, "stopper");
        let running = Running::start(&home);
        wait_for("a fire", PATIENCE, || count_lines(&out) >= 1);
        let began = Instant::now();
        let (status, log) = running.terminate();
        assert_eq!(status.code(), Some(0), "{provider}: {log}");
        assert!(
            began.elapsed() < Duration::from_secs(10),
            "{provider}: shutdown took {:?}",
            began.elapsed()
        );
        assert!(log.contains(evidence), "{provider}: {log}");
    }
}

#[test]
fn a_provider_flooding_the_log_and_fire_due_is_held_in_check() {
    let home = TestHome::new();
    home.install(&artifacts().zoo, "zoo.so");
    home.write_config("[cron]\nprovider = \"zoo-flood\"\n");
    let out = job(&home, "calm");
    let running = Running::start(&home);
    running.wait_for_log("log lines in a second: suppressing");
    wait_for("fires despite the flood", PATIENCE, || {
        count_lines(&out) >= 2
    });
    let (status, log) = running.terminate();
    assert_eq!(status.code(), Some(0));
    assert!(
        log.len() < 2 * 1024 * 1024,
        "the log stayed bounded: {} bytes",
        log.len()
    );
    assert!(
        !log.contains(&"x".repeat(5000)),
        "the enormous line was cut"
    );
}

#[test]
fn completions_print_a_script_for_each_shell_without_a_home() {
    for (shell, marker) in [
        ("bash", "-F _clap_complete_cronhost cronhost"),
        ("zsh", "#compdef cronhost"),
        (
            "fish",
            "complete --keep-order --exclusive --command cronhost",
        ),
    ] {
        let output = Command::new(&artifacts().cronhost)
            .args(["completions", shell])
            .env_remove("CRONHOST_HOME")
            .env("HOME", "/nonexistent-home-for-completions")
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(0), "{shell}");
        let script = String::from_utf8_lossy(&output.stdout);
        assert!(script.contains(marker), "{shell}: {script:.400}");
        // The script asks this very binary for the words at each TAB.
        assert!(
            script.contains(artifacts().cronhost.to_str().unwrap()),
            "{shell}: {script:.400}"
        );
    }
    // What the shell then runs: subcommands complete without a home.
    let words = Command::new(&artifacts().cronhost)
        .args(["--", "cronhost", "pro"])
        .env("COMPLETE", "bash")
        .env("_CLAP_COMPLETE_INDEX", "1")
        .env("_CLAP_IFS", "\n")
        .env_remove("CRONHOST_HOME")
        .env("HOME", "/nonexistent-home-for-completions")
        .output()
        .unwrap();
    assert!(words.status.success());
    assert_eq!(String::from_utf8_lossy(&words.stdout).trim(), "providers");
    let bad = Command::new(&artifacts().cronhost)
        .args(["completions", "tcsh"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn colour_only_on_a_terminal_and_never_with_no_color() {
    let home = TestHome::new();
    let command = format!(
        "{} --home {} status",
        artifacts().cronhost.display(),
        home.path().display()
    );
    // `script` gives the command a terminal.
    let on_terminal = |no_color: bool| {
        let mut script = Command::new("script");
        script.args(["-qec", &command, "/dev/null"]);
        if no_color {
            script.env("NO_COLOR", "1");
        } else {
            script.env_remove("NO_COLOR");
        }
        String::from_utf8_lossy(&script.output().expect("script runs").stdout).into_owned()
    };
    assert!(on_terminal(false).contains("\x1b[31mcronhost is not running"));
    assert!(
        !on_terminal(true).contains('\x1b'),
        "NO_COLOR turns colour off"
    );
    let piped = home.cronhost(&["status"]);
    assert!(
        !String::from_utf8_lossy(&piped.stdout).contains('\x1b'),
        "no colour into a pipe"
    );
}

#[test]
fn run_tells_a_notify_socket_when_it_is_ready_and_when_it_stops() {
    use std::os::unix::net::UnixDatagram;
    let home = TestHome::new();
    let socket_path = home.path().join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).unwrap();
    socket
        .set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    let (child, log) = home.spawn_daemon(
        "notify.log",
        &[("NOTIFY_SOCKET", socket_path.to_str().unwrap())],
    );
    let mut buffer = [0u8; 64];
    let n = socket.recv(&mut buffer).expect("READY=1 arrives");
    assert_eq!(&buffer[..n], b"READY=1");
    let running = Running::adopt(child, log);
    let (status, _) = running.terminate();
    assert_eq!(status.code(), Some(0));
    let n = socket.recv(&mut buffer).expect("STOPPING=1 arrives");
    assert_eq!(&buffer[..n], b"STOPPING=1");
}

/// `GET path` on `address`; the whole response.
fn http_get(address: &str, path: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(address).expect("metrics listener");
    let request = format!("GET {path} HTTP/1.1\r\nHost: {address}\r\n\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in:\n{text}"))
}

#[test]
fn metrics_count_fires_failures_skips_and_lateness_when_enabled() {
    let home = TestHome::new();
    home.write_config("[metrics]\nlisten = \"127.0.0.1:0\"\n");
    home.add_job(&["*/1 * * * * *", "--name", "fails", "--", "false"]);
    home.add_job(&["*/1 * * * * *", "--name", "slow", "--", "sleep", "3"]);
    let running = Running::start(&home);
    let address = running.metrics_address();
    wait_for("a failure and an overlap skip counted", PATIENCE, || {
        let text = http_get(&address, "/metrics");
        text.contains("cronhost_skips_total{reason=\"overlap\"}")
            && metric(&text, "cronhost_runs_failed_total") >= 1.0
    });
    let text = http_get(&address, "/metrics");
    assert!(text.starts_with("HTTP/1.1 200 OK"), "{text}");
    let fires = metric(&text, "cronhost_fires_total");
    assert!(fires >= 2.0, "{text}");
    assert_eq!(
        metric(&text, "cronhost_fire_lateness_ms_count"),
        fires,
        "every fire has a lateness"
    );
    assert_eq!(
        metric(&text, "cronhost_fire_lateness_ms_bucket{le=\"+Inf\"}"),
        fires
    );
    assert!(
        text.contains("cronhost_trigger_info{trigger=\"builtin\"} 1"),
        "{text}"
    );
    let age = metric(&text, "cronhost_heartbeat_age_seconds");
    assert!((0.0..60.0).contains(&age), "{age}");
    assert!(http_get(&address, "/other").starts_with("HTTP/1.1 404"));
    let (status, _) = running.terminate();
    assert_eq!(status.code(), Some(0));
}

#[test]
fn metrics_are_off_by_default_and_a_bad_listen_address_does_not_stop_the_jobs() {
    let home = TestHome::new();
    home.write_config("[metrics]\nlisten = \"not-an-address\"\n");
    let out = job(&home, "fires-anyway");
    let running = Running::start(&home);
    running.wait_for_log("cannot serve metrics on not-an-address");
    wait_for("fires regardless", PATIENCE, || count_lines(&out) >= 1);
    let (status, log) = running.terminate();
    assert_eq!(status.code(), Some(0));
    let quiet = TestHome::new();
    let quiet_running = Running::start(&quiet);
    quiet_running.wait_for_log("running in");
    let (status, log_off) = quiet_running.terminate();
    assert_eq!(status.code(), Some(0));
    assert!(!log_off.contains("metrics"), "off by default: {log_off}");
    let _ = log;
}

/// The interface grew in 1.2 and again in 1.3 (a host service each): a library built against
/// 1.1 or 1.2 is checked against that version's frozen layout, loads, and fires through the
/// services it calls (1.2's `next_due_in` too), in the host's process and in a child of its
/// own. Before the frozen layouts, abi_stable refused such a library at load (fewer prefix
/// fields than the host's) and nothing fired (`fallback = "none"`).
#[test]
fn providers_built_against_1_1_and_1_2_still_load_and_fire_in_process_and_isolated() {
    let older = [
        (
            &artifacts().compat_1_1,
            "compat-1.1",
            "provider `compat-1.1` from",
        ),
        (
            &artifacts().compat_1_2,
            "compat-1.2",
            "next_due_in answered Some(",
        ),
    ];
    for (library, name, sign) in older {
        for isolation in ["in-process", "process"] {
            let home = TestHome::new();
            home.install(library, "compat.so");
            home.write_config(&format!(
                "[cron]\nprovider = \"{name}\"\nfallback = \"none\"\n[providers.{name}]\nisolation = \"{isolation}\"\n"
            ));
            let out = job(&home, "old");
            let running = Running::start(&home);
            running.wait_for_log(sign);
            wait_for("two fires", PATIENCE, || count_lines(&out) >= 2);
            let (status, log) = running.terminate();
            assert_eq!(status.code(), Some(0), "{name}, {isolation}: {log}");
            assert!(
                !log.contains("built-in ticker"),
                "{name}, {isolation}: {log}"
            );
        }
    }
}
