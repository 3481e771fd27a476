//! Next-fire-time computation per call: cronhost's own matcher with its zone and DST policy on
//! top, against the `croner` crate it replaced (bare, on naive time).
//!
//! `cargo bench -p cronhost-core --bench schedule`

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
        ("last Friday 23:00", "0 0 23 * * 5L"),
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
    // Only cronhost reads these dialects; croner refuses both.
    for (label, text) in [
        ("Jenkins H(0-29)/10", "H(0-29)/10 * * * *"),
        ("Quartz L-3", "0 0 12 L-3 * ?"),
    ] {
        let zone = chrono_tz::Europe::Berlin;
        let schedule = Schedule::parse(text, zone, now).unwrap().for_job("j7");
        group.bench_function(format!("cronhost {label}, Europe/Berlin"), |b| {
            b.iter(|| black_box(schedule.next_after(black_box(now), zone)))
        });
    }
    group.finish();
}

criterion_group!(benches, next_fire);
criterion_main!(benches);
