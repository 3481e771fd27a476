//! The ticker thread in-process: the built-in ticker's loop, heartbeat and survival, and the
//! hand-over to it when a provider stops driving the fires. Ports the reference behaviour.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cronhost::engine::{EngineError, TickReport};
use cronhost::Config;
use cronhost::Daemon;
use cronhost::Heartbeat;
use cronhost_e2e::{artifacts, capture_logs, logs_containing, wait_for, ScriptedEngine, TestHome};

const PATIENCE: Duration = Duration::from_secs(20);

fn start(home: &TestHome, config_text: &str, engine: Arc<ScriptedEngine>) -> Daemon {
    let config = Config::parse(config_text).expect("valid test config");
    cronhost_e2e::helpers_from_built_cronhost();
    Daemon::start(&home.home(), config, engine).expect("daemon starts")
}

fn heartbeat(home: &TestHome) -> cronhost::HeartbeatState {
    Heartbeat::read(&home.state_dir()).unwrap_or_default()
}

#[test]
fn the_builtin_ticker_ticks_and_stops_without_waiting_out_its_interval() {
    let home = TestHome::new();
    let engine = Arc::new(ScriptedEngine::clean());
    // A one-hour interval: if stopping waited for the interval, shutdown would not finish.
    let daemon = start(
        &home,
        "[cron]\ntick_interval_ms = 3600000",
        Arc::clone(&engine),
    );
    assert_eq!(daemon.resolution().trigger.name(), "builtin");
    wait_for("the first tick", PATIENCE, || engine.ticks() >= 1);
    let began = Instant::now();
    assert!(daemon.shutdown(), "ticker thread joined");
    assert!(
        began.elapsed() < Duration::from_secs(5),
        "stop took {:?}",
        began.elapsed()
    );
    let ticks = engine.ticks();
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(engine.ticks(), ticks, "no tick after shutdown");
}

#[test]
fn the_ticker_survives_panicking_and_failing_ticks() {
    capture_logs();
    let home = TestHome::new();
    let engine = Arc::new(ScriptedEngine::new(|n| match n {
        1 => panic!("engine boom on tick one"),
        2 => Err(EngineError::Failed("tick two fails".into())),
        _ => Ok(TickReport::default()),
    }));
    let daemon = start(&home, "[cron]\ntick_interval_ms = 5", Arc::clone(&engine));
    wait_for("ticks after the panic", PATIENCE, || engine.ticks() >= 4);
    wait_for("a clean tick recorded", PATIENCE, || {
        heartbeat(&home).success_at_ms.is_some()
    });
    assert!(daemon.shutdown());
    assert!(!logs_containing("tick panicked: engine boom on tick one").is_empty());
    assert!(!logs_containing("tick failed: tick two fails").is_empty());
}

#[test]
fn a_liveness_beat_comes_before_the_first_tick_and_success_after_a_clean_one() {
    let home = TestHome::new();
    let state_dir = home.state_dir();
    let seen_at_first_tick = Arc::new(Mutex::new(None));
    let seen = Arc::clone(&seen_at_first_tick);
    let engine = Arc::new(ScriptedEngine::new(move |n| {
        if n == 1 {
            *seen.lock().unwrap() = Some(Heartbeat::read(&state_dir));
        }
        Ok(TickReport::default())
    }));
    let daemon = start(&home, "[cron]\ntick_interval_ms = 5", Arc::clone(&engine));
    wait_for("a few ticks", PATIENCE, || engine.ticks() >= 3);
    assert!(daemon.shutdown());

    let at_first_tick = seen_at_first_tick
        .lock()
        .unwrap()
        .clone()
        .expect("tick 1 ran");
    let at_first_tick = at_first_tick.expect("a heartbeat existed before the first tick");
    assert!(
        at_first_tick.alive_at_ms.is_some(),
        "liveness beat before the loop"
    );
    assert_eq!(
        at_first_tick.success_at_ms, None,
        "the pre-loop beat is liveness only"
    );
    let after = heartbeat(&home);
    assert_eq!(after.trigger, "builtin");
    assert!(
        after.success_at_ms.is_some(),
        "a clean tick bumped the success marker"
    );
    assert_eq!(after.last_error, None);
}

#[test]
fn a_failing_tick_records_liveness_but_never_success() {
    let home = TestHome::new();
    let engine = Arc::new(ScriptedEngine::new(|_| {
        Err(EngineError::Failed("every tick fails".into()))
    }));
    let daemon = start(&home, "[cron]\ntick_interval_ms = 5", Arc::clone(&engine));
    wait_for("several failing ticks", PATIENCE, || engine.ticks() >= 3);
    wait_for("the error recorded", PATIENCE, || {
        heartbeat(&home).last_error.is_some()
    });
    assert!(daemon.shutdown());
    let state = heartbeat(&home);
    assert!(state.alive_at_ms.is_some());
    assert_eq!(
        state.success_at_ms, None,
        "a failing tick bumped the success marker"
    );
    assert_eq!(
        state.last_error.as_deref(),
        Some("tick failed: every tick fails")
    );
}

#[test]
fn a_healthy_provider_drives_the_fires() {
    let home = TestHome::new();
    home.install(&artifacts().zoo, "zoo.so");
    let engine = Arc::new(ScriptedEngine::clean());
    let config = "[cron]\nprovider = \"zoo-ticker\"\ntick_interval_ms = 3600000\n[providers.zoo-ticker]\ninterval_ms = 5\n";
    let daemon = start(&home, config, Arc::clone(&engine));
    assert_eq!(daemon.resolution().trigger.name(), "zoo-ticker");
    wait_for("ticks driven by the provider", PATIENCE, || {
        engine.ticks() >= 3
    });
    wait_for("the provider's heartbeat", PATIENCE, || {
        heartbeat(&home).trigger == "zoo-ticker"
    });
    assert!(daemon.shutdown());
}

/// A provider that stops driving the fires hands over to the built-in ticker at once, and is
/// retried with backoff.
fn assert_builtin_takes_over(provider: &str, failure: &str) {
    capture_logs();
    let home = TestHome::new();
    home.install(&artifacts().zoo, "zoo.so");
    let engine = Arc::new(ScriptedEngine::clean());
    let config = format!("[cron]\nprovider = \"{provider}\"\ntick_interval_ms = 5\n");
    let daemon = start(&home, &config, Arc::clone(&engine));
    assert_eq!(
        daemon.resolution().trigger.name(),
        provider,
        "resolved before it failed"
    );
    // These providers never tick, so every tick is the built-in ticker's.
    wait_for("the built-in ticker to tick", PATIENCE, || {
        engine.ticks() >= 3
    });
    wait_for("the built-in heartbeat", PATIENCE, || {
        heartbeat(&home).trigger == "builtin"
    });
    let takeover = format!("the builtin ticker takes over; retrying `{provider}` in 1s");
    wait_for("the take-over warning", PATIENCE, || {
        logs_containing(&takeover)
            .iter()
            .any(|l| l.starts_with("WARN") && l.contains(failure))
    });
    wait_for("a retry of the provider", PATIENCE, || {
        !logs_containing(&format!("retrying provider `{provider}` (attempt 2)")).is_empty()
    });
    assert!(daemon.shutdown());
}

#[test]
fn a_provider_whose_start_fails_hands_over_to_the_builtin_ticker() {
    assert_builtin_takes_over("zoo-fail-start", "zoo: start refuses");
}

#[test]
fn a_provider_whose_start_panics_hands_over_to_the_builtin_ticker() {
    assert_builtin_takes_over("zoo-panic-start", "panicked in start: zoo: start boom");
}

#[test]
fn a_blocking_provider_whose_start_returns_hands_over_to_the_builtin_ticker() {
    assert_builtin_takes_over(
        "zoo-return-from-start",
        "start returned while the host is running",
    );
}

#[test]
fn a_provider_built_against_1_0_drives_the_fires() {
    let home = TestHome::new();
    home.install(&artifacts().compat_1_0, "compat.so");
    let engine = Arc::new(ScriptedEngine::clean());
    let daemon = start(
        &home,
        "[cron]\nprovider = \"compat-1.0\"",
        Arc::clone(&engine),
    );
    assert_eq!(daemon.resolution().trigger.name(), "compat-1.0");
    wait_for("ticks driven by the 1.0 provider", PATIENCE, || {
        engine.ticks() >= 3
    });
    wait_for("its heartbeat", PATIENCE, || {
        heartbeat(&home).trigger == "compat-1.0"
    });
    assert!(daemon.shutdown());
}

#[test]
fn a_provider_that_stops_beating_is_quarantined_and_the_builtin_ticker_takes_over() {
    let home = TestHome::new();
    home.install(&artifacts().zoo, "zoo.so");
    let engine = Arc::new(ScriptedEngine::clean());
    // Stale after 3 × 5 ms + 20 s: the silent provider is given up on after about 20 s.
    let daemon = start(
        &home,
        "[cron]\nprovider = \"zoo-silent\"\ntick_interval_ms = 5\n",
        Arc::clone(&engine),
    );
    assert_eq!(daemon.resolution().trigger.name(), "zoo-silent");
    wait_for(
        "the built-in ticker to take over",
        Duration::from_secs(60),
        || engine.ticks() >= 3,
    );
    let state = heartbeat(&home);
    assert_eq!(state.trigger, "builtin");
    assert!(state
        .fallback
        .unwrap_or_default()
        .contains("its heartbeat stopped"));
    assert!(daemon.shutdown());
}
