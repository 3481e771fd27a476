//! The provider boundary: a no-op provider method called through the stable ABI, with and
//! without the host's guard, against a plain `dyn Trait` call; the `fire_due` round trip
//! (host → provider → host services → engine) the same three ways and isolated in a child
//! process; and discovery of a plugins dir with 50 files, 10 of them providers, cold (every
//! library probed in a sandboxed child) and warm (from the probe cache). At the end it prints
//! each call figure next to its baseline, as a ratio.
//!
//! `CRONHOST_E2E_RELEASE=1 cargo bench -p cronhost-e2e --bench boundary`

use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BatchSize, Bencher, Criterion};
use cronhost::engine::Engine;
use cronhost::plugins::{discover, DiscoverOptions};
use cronhost::provider::{Core, ProviderHandle, Services};
use cronhost::Heartbeat;
use cronhost_e2e::{artifacts, discover_in, ScriptedEngine, TestHome};
use cronhost_provider_api::abi_stable::std_types::{ROk, RStr};
use cronhost_provider_api::FireOutcome;

/// The same shapes as the provider interface, as plain Rust traits.
trait DirectProvider {
    fn is_available(&self) -> bool;
    fn fire_due(&self, host: &dyn DirectHost, job_id: &str) -> FireOutcome;
}

trait DirectHost {
    fn fire_due(&self, job_id: &str) -> FireOutcome;
}

struct Plain;

impl DirectProvider for Plain {
    fn is_available(&self) -> bool {
        true
    }
    fn fire_due(&self, host: &dyn DirectHost, job_id: &str) -> FireOutcome {
        host.fire_due(job_id)
    }
}

struct PlainHost(Arc<ScriptedEngine>);

impl DirectHost for PlainHost {
    fn fire_due(&self, job_id: &str) -> FireOutcome {
        match self.0.fire_due(job_id) {
            Ok(cronhost::engine::FireOutcome::Fired) => FireOutcome::Fired,
            _ => FireOutcome::NoSuchJob,
        }
    }
}

/// Time per call of every figure, for the ratios: each sample criterion took (warm-up
/// included), by figure.
static MEASURED: Mutex<BTreeMap<&'static str, Vec<f64>>> = Mutex::new(BTreeMap::new());

/// Measure `call` under `figure` for criterion and for the ratios.
fn timed(b: &mut Bencher, figure: &'static str, mut call: impl FnMut()) {
    b.iter_custom(|iters| {
        let began = Instant::now();
        for _ in 0..iters {
            call();
        }
        let took = began.elapsed();
        let per_call = took.as_secs_f64() / iters.max(1) as f64;
        MEASURED
            .lock()
            .unwrap()
            .entry(figure)
            .or_default()
            .push(per_call);
        took
    })
}

/// The median time per call of `figure`, if it was measured in this run.
fn median(figure: &str) -> Option<f64> {
    let mut samples = MEASURED.lock().unwrap().get(figure)?.clone();
    samples.sort_by(f64::total_cmp);
    Some(samples[samples.len() / 2])
}

const DYN_NOOP: &str = "no-op: dyn call";
const ABI_NOOP: &str = "no-op: stable ABI, the answer read";
const ABI_NOOP_WHOLE: &str = "no-op: stable ABI, the whole RResult kept";
const THREAD_PER_CALL: &str = "no-op: stable ABI on a thread started per call (the design before)";
const PROMPT: &str = "no-op: stable ABI + host guard, prompt call";
const ISOLATED: &str = "no-op: isolated";
const DIRECT_FIRE: &str = "fire_due: dyn calls";
const ABI_FIRE: &str = "fire_due: stable ABI";
const GUARDED_FIRE: &str = "fire_due: stable ABI + host guard";
const ISOLATED_FIRE: &str = "fire_due: isolated";

/// Figures of the code before issue 16 (BENCHMARKS.md, 2026-12-02), the baseline of calls
/// whose old design this bench cannot rebuild in the same run.
const RECORDED_ISOLATED: f64 = 201e-6;
const RECORDED_ISOLATED_FIRE: f64 = 217e-6;

fn human(seconds: f64) -> String {
    if seconds >= 1e-6 {
        format!("{:.1} µs", seconds * 1e6)
    } else {
        format!("{:.2} ns", seconds * 1e9)
    }
}

/// Print each figure next to its baseline: measured in this run where the bench can, else
/// the recorded figure of the code before.
fn ratios(_c: &mut Criterion) {
    let same_run = [
        (ABI_NOOP, DYN_NOOP, "target ≤ 1.25×"),
        (ABI_NOOP_WHOLE, DYN_NOOP, ""),
        (PROMPT, THREAD_PER_CALL, "target ≤ 10 µs"),
        (ABI_FIRE, DIRECT_FIRE, ""),
        (GUARDED_FIRE, DIRECT_FIRE, ""),
    ];
    println!("\nEach figure next to its baseline (median time per call):");
    for (figure, baseline, target) in same_run {
        if let (Some(f), Some(b)) = (median(figure), median(baseline)) {
            println!(
                "  {figure}: {} | {baseline}: {} | {:.2}× {target}",
                human(f),
                human(b),
                f / b
            );
        }
    }
    for (figure, recorded, target) in [
        (ISOLATED, RECORDED_ISOLATED, "target ≤ 50 µs"),
        (ISOLATED_FIRE, RECORDED_ISOLATED_FIRE, ""),
    ] {
        if let Some(f) = median(figure) {
            println!(
                "  {figure}: {} | recorded before issue 16: {} | {:.2}× {target}",
                human(f),
                human(recorded),
                f / recorded
            );
        }
    }
}

fn boundary(c: &mut Criterion) {
    let home = TestHome::new();
    home.install(&artifacts().zoo, "zoo.so");
    let discovery = discover_in(&home.plugins_dir());
    let discovered = discovery.find("zoo-ticker").expect("zoo-ticker");
    let raw = discovered
        .load()
        .expect("loaded")
        .new_provider("zoo-ticker", "{}")
        .expect("constructed");
    let guarded = ProviderHandle::construct(discovered, "{}").expect("constructed");
    let isolated = ProviderHandle::isolated(
        discovered,
        "{}",
        Duration::from_secs(10),
        artifacts().cronhost.clone(),
    )
    .expect("isolated");
    let engine = Arc::new(ScriptedEngine::clean());
    let state = tempfile::tempdir().unwrap();
    let services = Services::new(
        Arc::new(Core {
            engine: Arc::clone(&engine) as Arc<dyn Engine>,
            heartbeat: Heartbeat::new(&state.path().join("cron")),
        }),
        "zoo-ticker",
        "{}",
    );
    let direct: Box<dyn DirectProvider> = Box::new(Plain);
    let direct_host = PlainHost(Arc::clone(&engine));

    let raw = Arc::new(raw);
    let mut group = c.benchmark_group("no-op provider method (is_available)");
    group.bench_function("direct dyn Trait call", |b| {
        timed(b, DYN_NOOP, || {
            black_box(black_box(&direct).is_available());
        })
    });
    // What the host does with the answer: read it (a `dyn` call's `bool` comes back in a
    // register; the ABI's `RResult<bool, RString>` through memory).
    group.bench_function(
        "stable ABI (SDK catch_unwind inside), the answer read",
        |b| {
            timed(b, ABI_NOOP, || {
                black_box(matches!(black_box(&raw).is_available(), ROk(true)));
            })
        },
    );
    // The figure as measured before 2026-12-03: the whole 40-byte result kept, which forces a
    // copy the host never makes.
    group.bench_function("stable ABI, the whole RResult black-boxed", |b| {
        timed(b, ABI_NOOP_WHOLE, || {
            black_box(black_box(&raw).is_available());
        })
    });
    group.bench_function(
        "stable ABI on a thread started per call (the design before)",
        |b| {
            timed(b, THREAD_PER_CALL, || {
                let (done, answer) = mpsc::channel();
                let raw = Arc::clone(&raw);
                std::thread::Builder::new()
                    .name("provider-is_available".into())
                    .spawn(move || {
                        let _ = done.send(raw.is_available());
                    })
                    .unwrap();
                black_box(answer.recv_timeout(Duration::from_secs(5)).unwrap());
            })
        },
    );
    group.bench_function(
        "stable ABI + host guard, prompt call (the provider's worker)",
        |b| {
            timed(b, PROMPT, || {
                black_box(guarded.is_available().unwrap());
            })
        },
    );
    group.bench_function("isolated: pipe round trip to the child", |b| {
        timed(b, ISOLATED, || {
            black_box(isolated.is_available().unwrap());
        })
    });
    group.finish();

    let mut group = c.benchmark_group("fire_due round trip (provider → host services → engine)");
    group.bench_function("direct dyn Trait calls", |b| {
        timed(b, DIRECT_FIRE, || {
            black_box(direct.fire_due(&direct_host, black_box("job")));
        })
    });
    group.bench_function("stable ABI", |b| {
        timed(b, ABI_FIRE, || {
            black_box(raw.fire_due(&services, RStr::from_str(black_box("job"))));
        })
    });
    group.bench_function("stable ABI + host guard", |b| {
        timed(b, GUARDED_FIRE, || {
            black_box(guarded.fire_due(&services, black_box("job")).unwrap());
        })
    });
    group.bench_function("isolated: two pipe round trips", |b| {
        timed(b, ISOLATED_FIRE, || {
            black_box(isolated.fire_due(&services, black_box("job")).unwrap());
        })
    });
    group.finish();
}

/// 50 files: 10 provider libraries (each a fresh copy, so every cold round really loads
/// them), 20 shared libraries that are not providers, and 20 other files.
fn plugins_dir_of_fifty() -> TestHome {
    let home = TestHome::new();
    let providers = [&artifacts().example, &artifacts().zoo];
    for n in 0..10 {
        home.install(providers[n % 2], &format!("provider-{n:02}.so"));
    }
    for n in 0..20 {
        home.install(&artifacts().not_a_plugin, &format!("other-{n:02}.so"));
    }
    for n in 0..20 {
        home.write_plugin_file(&format!("notes-{n:02}.txt"), b"not a library");
    }
    home
}

/// Discovery as the daemon runs it: the built `cronhost` probes, results cached in the home.
fn options(home: &TestHome) -> DiscoverOptions {
    let mut options = DiscoverOptions::new(&artifacts().cronhost, Duration::from_secs(10));
    options.cache_file = Some(home.home().probe_cache_file());
    options
}

fn check(found: &cronhost::plugins::Discovery) {
    assert!(found.find("example").is_some() && found.find("zoo-ticker").is_some());
    let not_providers = found
        .rejected
        .iter()
        .filter(|r| r.reason.contains("not a cronhost provider"))
        .count();
    assert_eq!(not_providers, 20, "{:?}", found.rejected);
}

fn discovery(c: &mut Criterion) {
    let mut group = c.benchmark_group("discovery");
    group.sample_size(10);
    group.bench_function(
        "50 files, 10 providers, cold: vet, hash, probe in a sandboxed child",
        |b| {
            b.iter_batched(
                plugins_dir_of_fifty,
                |home| {
                    let found = discover(&home.plugins_dir(), &options(&home));
                    check(&found);
                    assert_eq!(found.probed, 30);
                    home
                },
                BatchSize::PerIteration,
            )
        },
    );
    let home = plugins_dir_of_fifty();
    let options = options(&home);
    check(&discover(&home.plugins_dir(), &options));
    group.bench_function("50 files, 10 providers, warm: vet, probe cache", |b| {
        b.iter(|| {
            let found = discover(&home.plugins_dir(), &options);
            check(&found);
            assert_eq!(found.probed, 0);
        })
    });
    group.finish();
}

criterion_group!(benches, boundary, discovery, ratios);
criterion_main!(benches);
