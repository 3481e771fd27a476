//! The plugin host in-process: real provider libraries loaded from temporary plugins dirs,
//! discovery and rejection, the resolver's fallbacks, the guard, and the 1.0 compatibility.

use std::sync::Arc;

use cronhost::plugins::{Discovery, VetPolicy};
use cronhost::provider::{resolve, Core, ProviderCallError, ProviderHandle, Services, Trigger};
use cronhost::Config;
use cronhost::Heartbeat;
use cronhost_e2e::{
    artifacts, capture_logs, discover_in, discover_with, logs_containing, ScriptedEngine, TestHome,
};
use cronhost_provider_api::FireOutcome;

const ZOO_NAMES: [&str; 26] = [
    "zoo-ticker",
    "zoo-panic-new",
    "zoo-error-new",
    "zoo-panic-is-available",
    "zoo-unavailable",
    "zoo-panic-start",
    "zoo-fail-start",
    "zoo-return-from-start",
    "zoo-panic-stop",
    "zoo-panic-on-jobs-changed",
    "zoo-panic-fire-due",
    "zoo-panic-reconcile",
    "zoo-hang-new",
    "zoo-hang-is-available",
    "zoo-hang-reconcile",
    "zoo-hang-stop",
    "zoo-ignore-stop",
    "zoo-silent",
    "zoo-flood",
    "zoo-segfault-start",
    "zoo-abort-start",
    "zoo-stack-overflow-start",
    "zoo-spin-is-available",
    "zoo-stray-threads",
    "zoo-hostile-text",
    "zoo-thread-report",
];

fn zoo_home() -> (TestHome, Discovery) {
    let home = TestHome::new();
    home.install(&artifacts().zoo, "zoo.so");
    let discovery = discover_in(&home.plugins_dir());
    (home, discovery)
}

fn config(text: &str) -> Config {
    Config::parse(text).expect("valid test config")
}

fn reason_for<'a>(discovery: &'a Discovery, file: &str) -> &'a str {
    let found = discovery
        .rejected
        .iter()
        .find(|r| r.path.file_name().and_then(|n| n.to_str()) == Some(file));
    &found
        .unwrap_or_else(|| panic!("{file} not rejected: {:?}", discovery.rejected))
        .reason
}

#[test]
fn discovery_loads_every_provider_and_rejects_garbage_with_a_reason() {
    let home = TestHome::new();
    home.write_plugin_file("00-empty.so", b"");
    home.write_plugin_file("01-text.so", b"this is not a shared library\n");
    home.install(&artifacts().not_a_plugin, "02-not-a-plugin.so");
    home.install(&artifacts().zoo, "03-zoo.so");
    home.write_plugin_file("notes.txt", b"ignored: wrong extension");
    std::fs::create_dir(home.plugins_dir().join("04-directory.so")).unwrap();

    let discovery = discover_in(&home.plugins_dir());

    assert_eq!(
        discovery.names(),
        ZOO_NAMES,
        "every zoo provider, in library order"
    );
    assert!(reason_for(&discovery, "00-empty.so").contains("not a loadable shared library"));
    assert!(reason_for(&discovery, "01-text.so").contains("not a loadable shared library"));
    assert!(reason_for(&discovery, "02-not-a-plugin.so").contains("no abi_stable root module"));
    assert!(reason_for(&discovery, "04-directory.so").contains("not a regular file"));
    assert_eq!(discovery.rejected.len(), 4, "{:?}", discovery.rejected);
    for rejected in &discovery.rejected {
        assert!(
            !rejected.reason.contains('\n'),
            "one-line reason: {}",
            rejected.reason
        );
    }
}

#[test]
fn libraries_built_for_another_major_version_or_interface_are_rejected_by_name() {
    let home = TestHome::new();
    home.install(&artifacts().api_v2, "v2.so");
    home.install(&artifacts().foreign, "foreign.so");
    home.install(&artifacts().zoo, "zoo.so");
    let discovery = discover_in(&home.plugins_dir());
    let v2 = reason_for(&discovery, "v2.so");
    assert!(
        v2.contains("built against cronhost-provider-api 2.0.0") && v2.contains("needs 1.x"),
        "{v2}"
    );
    let foreign = reason_for(&discovery, "foreign.so");
    assert!(foreign.contains("interface layout mismatch"), "{foreign}");
    assert!(
        !foreign.contains('\n') && foreign.len() < 400,
        "one short line: {foreign}"
    );
    assert!(discovery.find("zoo-ticker").is_some(), "the scan went on");
    assert!(discovery.find("refused-v2").is_none() && discovery.find("refused-foreign").is_none());
}

fn chmod(path: &std::path::Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn vetting_refuses_writable_foreign_and_outside_files_before_loading_them() {
    let home = TestHome::new();
    let dir = home.plugins_dir();
    home.install(&artifacts().zoo, "10-zoo.so");
    let writable = home.install(&artifacts().duplicate, "20-group-writable.so");
    chmod(&writable, 0o664);
    // A symlink to a library outside the directory, and one to a library inside it.
    let outside = home.path().join("outside.so");
    std::fs::copy(&artifacts().example, &outside).unwrap();
    std::os::unix::fs::symlink(&outside, dir.join("30-link-outside.so")).unwrap();
    std::os::unix::fs::symlink(dir.join("10-zoo.so"), dir.join("40-link-inside.so")).unwrap();
    let fifo = std::ffi::CString::new(dir.join("50-fifo.so").to_str().unwrap()).unwrap();
    // SAFETY: mkfifo on a path we own.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if root {
        let foreign = home.install(&artifacts().example, "60-foreign.so");
        std::os::unix::fs::chown(&foreign, Some(65534), Some(65534)).unwrap();
    }

    let discovery = discover_in(&dir);
    assert!(reason_for(&discovery, "20-group-writable.so").contains("writable by group or others"));
    assert!(reason_for(&discovery, "30-link-outside.so").contains("outside the plugins directory"));
    assert!(reason_for(&discovery, "50-fifo.so").contains("not a regular file"));
    if root {
        assert!(reason_for(&discovery, "60-foreign.so").contains("owned by uid 65534"));
    }
    // The link inside the directory loads (its providers duplicate the zoo's, the first file).
    assert!(reason_for(&discovery, "40-link-inside.so").contains("duplicate provider name"));
    assert!(discovery.find("zoo-ticker").is_some(), "the scan went on");

    // A plugins directory others may write to is refused whole.
    chmod(&dir, 0o777);
    let discovery = discover_in(&dir);
    assert!(discovery.providers.is_empty());
    assert!(
        discovery.rejected[0]
            .reason
            .contains("writable by group or others"),
        "{:?}",
        discovery.rejected
    );
    chmod(&dir, 0o755);
}

#[test]
fn with_an_allowlist_only_listed_digests_load() {
    let home = TestHome::new();
    home.install(&artifacts().zoo, "zoo.so");
    home.install(&artifacts().example, "example.so");
    let open = discover_in(&home.plugins_dir());
    let zoo_digest = open.find("zoo-ticker").unwrap().file.sha256.clone();
    assert_eq!(zoo_digest.len(), 64);
    let policy = VetPolicy {
        allowlist: [zoo_digest].into_iter().collect(),
    };
    let listed = discover_with(&home.plugins_dir(), policy.clone());
    assert!(listed.find("zoo-ticker").is_some());
    assert!(listed.find("example").is_none());
    assert!(reason_for(&listed, "example.so").contains("not in cron.plugin_allowlist"));
}

#[test]
fn hanging_prompt_calls_are_cut_off_and_quarantine_the_provider() {
    capture_logs();
    let (_home, discovery) = zoo_home();
    for (name, call) in [
        ("zoo-hang-new", "constructor"),
        ("zoo-hang-is-available", "is_available"),
    ] {
        let began = std::time::Instant::now();
        let text = format!("[cron]\nprovider = \"{name}\"\nprovider_call_timeout_ms = 300\n");
        let resolution = resolve(&config(&text), &discovery, None);
        assert!(
            began.elapsed() < std::time::Duration::from_secs(10),
            "{name}: the deadline held"
        );
        assert_eq!(resolution.trigger.name(), "builtin", "{name}");
        let reason = resolution.fallback_reason.unwrap();
        assert!(
            reason.contains(&format!("{call} did not return within 300ms")),
            "{name}: {reason}"
        );
    }
    let provider = ProviderHandle::construct_within(
        discovery.find("zoo-hang-reconcile").unwrap(),
        "{}",
        std::time::Duration::from_millis(300),
    )
    .unwrap();
    assert!(matches!(
        provider.reconcile(),
        Err(ProviderCallError::Hung { .. })
    ));
    assert!(provider.quarantine().is_set());
    assert!(
        matches!(provider.stop(), Err(ProviderCallError::Quarantined { .. })),
        "a quarantined provider is not called again"
    );
}

#[test]
fn an_enormous_error_from_a_provider_is_cut_down() {
    let (_home, discovery) = zoo_home();
    let provider = handle(&discovery, "zoo-flood");
    match provider.reconcile() {
        Err(ProviderCallError::Failed { message, .. }) => {
            assert!(message.len() < 4200, "{} bytes kept", message.len());
            assert!(message.contains("bytes cut"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_missing_plugins_dir_is_an_empty_scan() {
    let home = TestHome::new();
    let discovery = discover_in(&home.path().join("no-such-dir"));
    assert!(discovery.providers.is_empty() && discovery.rejected.is_empty());
}

#[test]
fn duplicate_provider_names_first_file_in_sorted_order_wins() {
    let home = TestHome::new();
    let zoo = home.install(&artifacts().zoo, "10-zoo.so");
    let dup = home.install(&artifacts().duplicate, "20-dup.so");
    let discovery = discover_in(&home.plugins_dir());
    let winner = discovery.find("zoo-ticker").expect("zoo-ticker offered");
    assert_eq!(winner.file.path, zoo);
    assert_eq!(winner.info.description.as_str(), "test fixture");
    let reason = reason_for(&discovery, "20-dup.so");
    assert!(
        reason.contains("duplicate provider name `zoo-ticker`"),
        "{reason}"
    );
    assert!(reason.contains("10-zoo.so"), "{reason}");
    assert_eq!(
        discovery.find("dup-only").unwrap().file.path,
        dup,
        "the rest of the library stays usable"
    );

    // Swap the order: now the duplicate library's file sorts first and wins.
    let home = TestHome::new();
    home.install(&artifacts().duplicate, "10-dup.so");
    home.install(&artifacts().zoo, "20-zoo.so");
    let discovery = discover_in(&home.plugins_dir());
    let winner = discovery.find("zoo-ticker").unwrap();
    assert_eq!(
        winner.info.description.as_str(),
        "impostor from the duplicate fixture"
    );
    assert!(reason_for(&discovery, "20-zoo.so").contains("duplicate provider name `zoo-ticker`"));
    assert!(discovery.find("zoo-panic-stop").is_some());
}

#[test]
fn empty_builtin_and_missing_provider_settings_select_the_builtin_ticker() {
    let (_home, discovery) = zoo_home();
    for text in [
        "",
        "[cron]",
        "[cron]\nprovider = \"\"",
        "[cron]\nprovider = \"builtin\"",
        "[cron]\nprovider = \"in-process\"",
    ] {
        let resolution = resolve(&config(text), &discovery, None);
        assert!(matches!(resolution.trigger, Trigger::Builtin), "{text:?}");
        assert_eq!(resolution.trigger.name(), "builtin");
        assert_eq!(resolution.fallback_reason, None, "{text:?}");
    }
}

#[test]
fn an_unknown_provider_falls_back_naming_it_and_the_available_ones() {
    capture_logs();
    let (_home, discovery) = zoo_home();
    let resolution = resolve(
        &config("[cron]\nprovider = \"nope-not-real\""),
        &discovery,
        None,
    );
    assert_eq!(resolution.trigger.name(), "builtin");
    let reason = resolution.fallback_reason.unwrap();
    assert!(
        reason.contains("`nope-not-real` is not installed"),
        "{reason}"
    );
    assert!(
        reason.contains("zoo-ticker") && reason.contains("zoo-panic-stop"),
        "{reason}"
    );
    let warnings = logs_containing("nope-not-real");
    assert!(
        warnings
            .iter()
            .any(|l| l.starts_with("WARN") && l.contains("using the built-in ticker")),
        "{warnings:?}"
    );
}

#[test]
fn broken_or_unavailable_providers_fall_back_to_the_builtin_with_the_reason() {
    capture_logs();
    let (_home, discovery) = zoo_home();
    let cases = [
        ("zoo-unavailable", "reports it is not available"),
        (
            "zoo-panic-new",
            "panicked in constructor: zoo: constructor boom",
        ),
        ("zoo-error-new", "zoo: constructor refuses"),
        (
            "zoo-panic-is-available",
            "panicked in is_available: zoo: is_available boom",
        ),
    ];
    for (name, expected) in cases {
        let resolution = resolve(
            &config(&format!("[cron]\nprovider = \"{name}\"")),
            &discovery,
            None,
        );
        assert_eq!(resolution.trigger.name(), "builtin", "{name}");
        let reason = resolution.fallback_reason.unwrap();
        assert!(
            reason.contains(expected) && reason.contains(name),
            "{name}: {reason}"
        );
        assert!(
            logs_containing(expected)
                .iter()
                .any(|l| l.starts_with("WARN")),
            "{name}: no WARN line with {expected:?}"
        );
    }
}

#[test]
fn an_available_provider_is_selected() {
    let (_home, discovery) = zoo_home();
    let resolution = resolve(
        &config("[cron]\nprovider = \"zoo-ticker\""),
        &discovery,
        None,
    );
    assert_eq!(resolution.trigger.name(), "zoo-ticker");
    assert!(matches!(resolution.trigger, Trigger::Provider(_)));
    assert_eq!(resolution.fallback_reason, None);
}

/// How a test opens a provider: in this process, or isolated in a child process.
type Open = fn(&Discovery, &str) -> ProviderHandle;

fn handle(discovery: &Discovery, name: &str) -> ProviderHandle {
    ProviderHandle::construct(discovery.find(name).unwrap(), "{}").unwrap()
}

fn isolated(discovery: &Discovery, name: &str) -> ProviderHandle {
    let provider = ProviderHandle::isolated(
        discovery.find(name).unwrap(),
        "{}",
        std::time::Duration::from_secs(5),
        artifacts().cronhost.clone(),
    )
    .unwrap();
    assert!(provider.process_id().is_some(), "{name} runs in a process");
    provider
}

fn services(name: &str, engine: Arc<ScriptedEngine>) -> Services {
    let state = tempfile::tempdir().unwrap();
    let core = Arc::new(Core {
        engine,
        heartbeat: Heartbeat::new(&state.path().join("cron")),
    });
    Services::new(core, name, "{}")
}

fn assert_contained(
    result: Result<impl std::fmt::Debug, ProviderCallError>,
    call: &str,
    name: &str,
) {
    let expected = format!("panicked in {call}: zoo: {call} boom");
    match result {
        Err(ProviderCallError::Failed {
            provider,
            call: c,
            message,
        }) => {
            assert_eq!((provider.as_str(), c), (name, call));
            assert!(message.contains(&expected), "{message}");
        }
        other => panic!("{name}.{call}: expected a contained panic, got {other:?}"),
    }
    let logged = logs_containing(&format!("provider `{name}` {call} failed: {expected}"));
    assert!(
        logged.iter().any(|l| l.starts_with("ERROR")),
        "no ERROR line for {name}.{call}"
    );
}

#[test]
fn a_panic_in_any_provider_method_is_contained_and_the_provider_stays_callable() {
    panics_are_contained(handle);
}

#[test]
fn isolated_a_panic_in_any_provider_method_is_contained_and_the_provider_stays_callable() {
    panics_are_contained(isolated);
}

fn panics_are_contained(handle: Open) {
    capture_logs();
    let (_home, discovery) = zoo_home();
    let engine = Arc::new(ScriptedEngine::clean());

    let p = handle(&discovery, "zoo-panic-stop");
    assert_contained(p.stop(), "stop", "zoo-panic-stop");
    assert_eq!(p.is_available(), Ok(true), "still callable after the panic");

    let p = handle(&discovery, "zoo-panic-on-jobs-changed");
    assert_contained(
        p.on_jobs_changed(),
        "on_jobs_changed",
        "zoo-panic-on-jobs-changed",
    );
    assert_contained(
        p.on_jobs_changed(),
        "on_jobs_changed",
        "zoo-panic-on-jobs-changed",
    );

    let p = handle(&discovery, "zoo-panic-reconcile");
    assert_contained(p.reconcile(), "reconcile", "zoo-panic-reconcile");
    assert_eq!(p.stop(), Ok(()));

    let p = handle(&discovery, "zoo-panic-fire-due");
    let s = services("zoo-panic-fire-due", Arc::clone(&engine));
    assert_contained(p.fire_due(&s, "job-1"), "fire_due", "zoo-panic-fire-due");
    assert!(engine.fired().is_empty(), "the job was not fired");

    let p = handle(&discovery, "zoo-panic-start");
    let s = services("zoo-panic-start", Arc::clone(&engine));
    let stop = cronhost::provider::StopFlag::new();
    let options = cronhost_provider_api::StartOptions {
        tick_interval_ms: 10,
    };
    assert_contained(p.start(&s, &stop, options), "start", "zoo-panic-start");

    let p = handle(&discovery, "zoo-panic-is-available");
    assert_contained(p.is_available(), "is_available", "zoo-panic-is-available");
    assert_eq!(p.reconcile(), Ok(()));
}

/// Which thread `zoo-thread-report`'s `on_jobs_changed` ran on, as it says in its error.
fn thread_of(provider: &ProviderHandle) -> String {
    match provider.on_jobs_changed() {
        Err(ProviderCallError::Failed { message, .. }) => message,
        other => panic!("expected the thread report, got {other:?}"),
    }
}

/// Prompt calls in a row run on one long-lived thread (a thread started per call would show
/// another task id), not on the caller's; `named` is the thread's name as the kernel keeps it
/// (15 bytes).
fn prompt_calls_reuse_one_thread(provider: &ProviderHandle, named: &str) {
    let first = thread_of(provider);
    assert!(first.contains(&format!("named \"{named}\"")), "{first}");
    for _ in 0..20 {
        assert_eq!(provider.is_available(), Ok(true));
        assert_eq!(
            thread_of(provider),
            first,
            "a prompt call ran on another thread"
        );
    }
}

#[test]
fn prompt_calls_of_an_in_process_provider_run_on_its_worker_thread() {
    let (_home, discovery) = zoo_home();
    let provider = handle(&discovery, "zoo-thread-report");
    prompt_calls_reuse_one_thread(&provider, "provider-zoo-th");
}

#[test]
fn isolated_calls_run_on_a_reused_thread_of_the_child() {
    let (_home, discovery) = zoo_home();
    let provider = isolated(&discovery, "zoo-thread-report");
    prompt_calls_reuse_one_thread(&provider, "provider-call");
}

#[test]
fn concurrent_prompt_calls_into_a_hung_provider_all_return_by_their_deadline() {
    let (_home, discovery) = zoo_home();
    let deadline = std::time::Duration::from_millis(300);
    let provider = ProviderHandle::construct_within(
        discovery.find("zoo-hang-reconcile").unwrap(),
        "{}",
        deadline,
    )
    .unwrap();
    // The first call hangs the worker; the others arrive while it is stuck and must not wait
    // behind it past their own deadline.
    let (results, returned) = std::sync::mpsc::channel();
    for _ in 0..3 {
        let (provider, results) = (provider.clone(), results.clone());
        std::thread::spawn(move || results.send(provider.reconcile()));
    }
    for _ in 0..3 {
        let result = returned
            .recv_timeout(std::time::Duration::from_secs(10))
            .expect("a prompt call waited behind a hung one");
        assert!(
            matches!(
                result,
                Err(ProviderCallError::Hung { .. } | ProviderCallError::Quarantined { .. })
            ),
            "{result:?}"
        );
    }
    assert!(provider.quarantine().is_set());
    assert!(matches!(
        provider.is_available(),
        Err(ProviderCallError::Quarantined { .. })
    ));
}

#[test]
fn the_default_fire_due_asks_the_host_to_claim_and_run() {
    for open in [handle as Open, isolated] {
        let (_home, discovery) = zoo_home();
        let engine = Arc::new(ScriptedEngine::clean());
        let p = open(&discovery, "zoo-ticker");
        let s = services("zoo-ticker", Arc::clone(&engine));
        assert_eq!(p.fire_due(&s, "job-7"), Ok(FireOutcome::Fired));
        assert_eq!(p.fire_due(&s, "job-8"), Ok(FireOutcome::Fired));
        assert_eq!(engine.fired(), ["job-7", "job-8"]);
    }
}

#[test]
fn a_status_over_the_size_limit_is_refused_in_either_mode() {
    for open in [handle as Open, isolated] {
        let (_home, discovery) = zoo_home();
        let error = open(&discovery, "zoo-flood")
            .status()
            .unwrap_err()
            .to_string();
        assert!(error.contains("over the 262144-byte limit"), "{error}");
        let fine = open(&discovery, "zoo-ticker").status().unwrap();
        assert_eq!(fine, Some(serde_json::json!({ "zoo": "ok" })));
    }
}

#[test]
fn an_isolated_provider_whose_process_dies_fails_its_calls_and_comes_back_on_prepare() {
    let (_home, discovery) = zoo_home();
    let p = isolated(&discovery, "zoo-ticker");
    let first = p.process_id().unwrap();
    // SAFETY: kill(2) on the child this test started.
    assert_eq!(unsafe { libc::kill(first as i32, libc::SIGKILL) }, 0);
    cronhost_e2e::wait_for("the death noticed", cronhost_e2e::PATIENCE, || {
        p.process_id().is_none()
    });
    let error = p.reconcile().unwrap_err().to_string();
    assert!(
        error.contains(&format!("(pid {first}) was killed by signal 9 (SIGKILL)")),
        "{error}"
    );
    p.prepare().unwrap();
    let second = p.process_id().expect("a fresh process");
    assert_ne!(second, first);
    assert_eq!(p.reconcile(), Ok(()));
}

#[test]
fn a_provider_built_against_the_frozen_1_0_interface_loads_in_the_current_host() {
    let home = TestHome::new();
    home.install(&artifacts().compat_1_0, "compat.so");
    home.install(&artifacts().zoo, "zoo.so");
    let discovery = discover_in(&home.plugins_dir());
    assert!(discovery.rejected.is_empty(), "{:?}", discovery.rejected);

    let compat = discovery
        .find("compat-1.0")
        .expect("the 1.0 provider is offered");
    assert_eq!(compat.file.api_version, "1.0.0");
    let current = discovery.find("zoo-ticker").unwrap();
    assert_eq!(current.file.api_version, cronhost_provider_api::API_VERSION);
    assert_ne!(
        cronhost_provider_api::API_VERSION,
        "1.0.0",
        "the current interface has grown"
    );

    // The method added in 1.1 answers with its default for the 1.0 provider and with the
    // provider's own answer for a current one.
    let old = ProviderHandle::construct(compat, "{}").unwrap();
    assert_eq!(old.status(), Ok(None));
    assert_eq!(old.is_available(), Ok(true));
    let new = ProviderHandle::construct(current, "{}").unwrap();
    assert_eq!(new.status(), Ok(Some(serde_json::json!({ "zoo": "ok" }))));
}

/// A batch's occurrence whose instant is out of range is that occurrence's error, in its place;
/// the others still fire, in the batch's order.
#[test]
fn a_batch_with_an_impossible_instant_fires_the_rest_in_order() {
    use cronhost_provider_api::abi_stable::std_types::{RErr, ROk};
    use cronhost_provider_api::ffi::{HostServices, Occurrence};
    let engine = Arc::new(ScriptedEngine::clean());
    let services = services("batch", Arc::clone(&engine));
    let occurrence = |job_id: &str, scheduled_at_ms| Occurrence {
        job_id: job_id.into(),
        scheduled_at_ms,
    };
    let batch = [
        occurrence("ja", 1_000),
        occurrence("jb", i64::MAX),
        occurrence("jc", 2_000),
    ];
    let outcomes = HostServices::fire_occurrences(&services, batch.as_slice().into()).unwrap();
    assert_eq!(outcomes.len(), 3);
    assert_eq!(outcomes[0], ROk(FireOutcome::Fired));
    assert!(
        matches!(&outcomes[1], RErr(e) if e.contains("is not a valid instant")),
        "{:?}",
        outcomes[1]
    );
    assert_eq!(outcomes[2], ROk(FireOutcome::Fired));
    assert_eq!(engine.fired(), ["ja@1000", "jc@2000"]);
}
