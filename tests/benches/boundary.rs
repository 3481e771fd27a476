//! The provider boundary: a no-op provider method called through the stable ABI, with and
//! without the host's guard, against a plain `dyn Trait` call; the `fire_due` round trip
//! (host → provider → host services → engine) the same three ways and isolated in a child
//! process; and discovery of a plugins dir with 50 files, 10 of them providers, cold (every
//! library probed in a sandboxed child) and warm (from the probe cache).
//!
//! `CRONHOST_E2E_RELEASE=1 cargo bench -p cronhost-e2e --bench boundary`

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use cronhost::engine::Engine;
use cronhost::plugins::{discover, DiscoverOptions};
use cronhost::provider::{Core, ProviderHandle, Services};
use cronhost::Heartbeat;
use cronhost_e2e::{artifacts, discover_in, ScriptedEngine, TestHome};
use cronhost_provider_api::abi_stable::std_types::RStr;
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

    let mut group = c.benchmark_group("no-op provider method (is_available)");
    group.bench_function("direct dyn Trait call", |b| {
        b.iter(|| black_box(black_box(&direct).is_available()))
    });
    group.bench_function("stable ABI (SDK catch_unwind inside)", |b| {
        b.iter(|| black_box(black_box(&raw).is_available()))
    });
    group.bench_function(
        "stable ABI + host guard, prompt call (deadline thread)",
        |b| b.iter(|| black_box(guarded.is_available())),
    );
    group.bench_function("isolated: pipe round trip to the child", |b| {
        b.iter(|| black_box(isolated.is_available()))
    });
    group.finish();

    let mut group = c.benchmark_group("fire_due round trip (provider → host services → engine)");
    group.bench_function("direct dyn Trait calls", |b| {
        b.iter(|| black_box(direct.fire_due(&direct_host, black_box("job"))))
    });
    group.bench_function("stable ABI", |b| {
        b.iter(|| black_box(raw.fire_due(&services, RStr::from_str(black_box("job")))))
    });
    group.bench_function("stable ABI + host guard", |b| {
        b.iter(|| black_box(guarded.fire_due(&services, black_box("job"))))
    });
    group.bench_function("isolated: two pipe round trips", |b| {
        b.iter(|| black_box(isolated.fire_due(&services, black_box("job"))))
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

criterion_group!(benches, boundary, discovery);
criterion_main!(benches);
