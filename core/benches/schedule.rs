//! Next-fire-time computation per call: cronhost's schedule layer (zone and DST policy on top)
//! against the bare cron crate it wraps.
//!
//! `cargo bench -p cronhost --bench schedule`

use std::hint::black_box;

use chrono::{TimeZone, Utc};
use criterion::{criterion_group, criterion_main, Criterion};
use cronhost_core::schedule::Schedule;

fn next_fire(c: &mut Criterion) {
    let now = Utc.with_ymd_and_hms(2026, 11, 30, 12, 0, 0).unwrap();
    let mut group = c.benchmark_group("next fire time");
    for (label, text) in [
        ("every second", "* * * * * *"),
        ("weekdays 09:30", "0 30 9 * * 1-5"),
    ] {
        for (zone_label, zone) in [
            ("UTC", chrono_tz::UTC),
            ("Europe/Berlin", chrono_tz::Europe::Berlin),
        ] {
            let schedule = Schedule::parse(text, zone, now).unwrap();
            group.bench_function(format!("cronhost {label}, {zone_label}"), |b| {
                b.iter(|| black_box(schedule.next_after(black_box(now), zone)))
            });
        }
        let cron = croner::parser::CronParser::builder()
            .seconds(croner::parser::Seconds::Required)
            .build()
            .parse(text)
            .unwrap();
        let naive = now.naive_utc();
        group.bench_function(format!("croner {label}, naive time"), |b| {
            b.iter(|| black_box(cron.find_next_occurrence(black_box(&naive), false)))
        });
    }
    group.finish();
}

criterion_group!(benches, next_fire);
criterion_main!(benches);
