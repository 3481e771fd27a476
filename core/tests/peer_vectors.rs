//! Expected instants taken from other cron libraries' published test suites (robfig/cron,
//! croniter, cron-parser), converted to cronhost's semantics: see `data/README.md`.
//!
//! Every vector is checked and every failure is printed with its source before the test fails.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use cronhost_core::schedule::{parse_zone, CronSchedule};
use serde::Deserialize;

const DATA: &str = include_str!("data/peer_vectors.json");

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Vector {
    source: String,
    expression: String,
    #[serde(default)]
    original: Option<String>,
    #[serde(default)]
    zone: Option<String>,
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    next: Option<Vec<String>>,
    #[serde(default)]
    never: bool,
    #[serde(default)]
    not_next: Option<String>,
    #[serde(default)]
    refused: bool,
    #[serde(default)]
    dst_policy: Option<DstPolicy>,
    #[serde(default)]
    note: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DstPolicy {
    peer: Vec<String>,
    reason: String,
}

/// Why a vector failed, for the grouping in the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Cause {
    /// The data file itself is malformed.
    Data,
    /// An expression the peers accept was refused.
    Refused,
    /// An expression the peers refuse was accepted.
    Accepted,
    /// A wrong instant in UTC, or in a zone away from any offset change.
    Instant,
    /// A wrong instant in a vector that exercises an offset change.
    Dst,
}

struct Failure {
    cause: Cause,
    text: String,
}

fn instant(text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text)
        .map(|at| at.with_timezone(&Utc))
        .map_err(|e| format!("`{text}` is not RFC 3339: {e}"))
}

fn show(at: Option<DateTime<Utc>>, zone: Tz) -> String {
    match at {
        Some(at) => at.with_timezone(&zone).to_rfc3339(),
        None => "none".to_owned(),
    }
}

/// Whether the zone's offset changes anywhere between `from` and the last expected instant
/// (plus a day): such a vector is a DST vector.
fn crosses_offset_change(zone: Tz, from: DateTime<Utc>, last: DateTime<Utc>) -> bool {
    use chrono::{Offset, TimeZone};
    let offset = |at: DateTime<Utc>| zone.offset_from_utc_datetime(&at.naive_utc()).fix();
    let end = last + chrono::Duration::days(1);
    let first = offset(from);
    let mut at = from;
    while at <= end {
        if offset(at) != first {
            return true;
        }
        at += chrono::Duration::minutes(30);
    }
    false
}

fn check(vector: &Vector) -> Result<(), Failure> {
    let data = |text: String| Failure {
        cause: Cause::Data,
        text,
    };
    let parsed = CronSchedule::parse(&vector.expression).map_err(|e| e.to_string());
    if vector.refused {
        return match parsed {
            Ok(_) => Err(Failure {
                cause: Cause::Accepted,
                text: "accepted; the peer refuses it".to_owned(),
            }),
            Err(_) => Ok(()),
        };
    }
    let schedule = parsed.map_err(|e| Failure {
        cause: Cause::Refused,
        text: format!("refused: {e}"),
    })?;
    let zone_name = vector
        .zone
        .as_deref()
        .ok_or_else(|| data("no zone".into()))?;
    let zone = parse_zone(zone_name).map_err(|e| data(e.to_string()))?;
    let from = instant(
        vector
            .from
            .as_deref()
            .ok_or_else(|| data("no from".into()))?,
    )
    .map_err(data)?;

    if vector.never {
        if vector.next.as_ref().is_some_and(|next| !next.is_empty()) {
            return Err(data("`never` with instants in `next`".into()));
        }
        let got = schedule.next_after(from, zone);
        return match got {
            None => Ok(()),
            Some(_) => Err(Failure {
                cause: Cause::Instant,
                text: format!("expected no occurrence, got {}", show(got, zone)),
            }),
        };
    }
    if let Some(not_next) = &vector.not_next {
        let not_next = instant(not_next).map_err(data)?;
        let got = schedule.next_after(from, zone);
        return if got == Some(not_next) {
            Err(Failure {
                cause: Cause::Instant,
                text: format!(
                    "the peer says it does not fire at {}, yet the first instant after {} is that",
                    show(Some(not_next), zone),
                    show(Some(from), zone)
                ),
            })
        } else {
            Ok(())
        };
    }

    let expected = vector
        .next
        .as_ref()
        .filter(|next| !next.is_empty())
        .ok_or_else(|| data("no `next`, `never`, `not_next` or `refused`".into()))?;
    let expected = expected
        .iter()
        .map(|text| instant(text))
        .collect::<Result<Vec<_>, _>>()
        .map_err(data)?;
    if expected.windows(2).any(|pair| pair[0] >= pair[1]) || expected[0] <= from {
        return Err(data("`next` is not increasing from `from`".into()));
    }
    if let Some(policy) = &vector.dst_policy {
        let peer = policy
            .peer
            .iter()
            .map(|text| instant(text))
            .collect::<Result<Vec<_>, _>>()
            .map_err(data)?;
        if peer == expected || policy.reason.trim().is_empty() {
            return Err(data(
                "`dst_policy` must name a different peer answer and a reason".into(),
            ));
        }
    }

    // Walk from each expected instant, so one miss does not hide the rest.
    let mut wrong = String::new();
    let mut cursor = from;
    for (index, want) in expected.iter().enumerate() {
        let got = schedule.next_after(cursor, zone);
        if got != Some(*want) {
            let _ = write!(
                wrong,
                "\n      #{index}: after {} expected {}, got {}",
                show(Some(cursor), zone),
                show(Some(*want), zone),
                show(got, zone)
            );
        }
        cursor = *want;
    }
    if wrong.is_empty() {
        return Ok(());
    }
    let dst = vector.dst_policy.is_some()
        || crosses_offset_change(zone, from, *expected.last().unwrap_or(&from));
    Err(Failure {
        cause: if dst { Cause::Dst } else { Cause::Instant },
        text: format!("wrong instants:{wrong}"),
    })
}

/// The repository a source names (`owner/name@commit ...`), or the whole text.
fn repository(source: &str) -> &str {
    source.split('@').next().unwrap_or(source)
}

#[test]
fn peer_vectors() {
    let vectors: Vec<Vector> =
        serde_json::from_str(DATA).expect("tests/data/peer_vectors.json is not a list of vectors");
    assert!(!vectors.is_empty(), "no vectors");

    let sources: BTreeSet<&str> = vectors.iter().map(|v| repository(&v.source)).collect();
    let instants: usize = vectors
        .iter()
        .map(|v| v.next.as_ref().map_or(1, |next| next.len().max(1)))
        .sum();
    let by_policy = vectors.iter().filter(|v| v.dst_policy.is_some()).count();

    let mut failures: Vec<(&Vector, Failure)> = vectors
        .iter()
        .filter_map(|vector| check(vector).err().map(|failure| (vector, failure)))
        .collect();
    failures.sort_by_key(|(_, failure)| failure.cause);

    for (vector, failure) in &failures {
        let mut line = format!(
            "[{:?}] {}\n    expression `{}`",
            failure.cause, vector.source, vector.expression
        );
        if let Some(original) = &vector.original {
            let _ = write!(line, " (peer: `{original}`)");
        }
        if let Some(zone) = &vector.zone {
            let _ = write!(line, " in {zone}");
        }
        let _ = write!(line, "\n    {}", failure.text);
        if let Some(policy) = &vector.dst_policy {
            let _ = write!(
                line,
                "\n    (the peer expects {}: {})",
                policy.peer.join(", "),
                policy.reason
            );
        }
        if let Some(note) = &vector.note {
            let _ = write!(line, "\n    note: {note}");
        }
        eprintln!("{line}");
    }

    let count = |cause: Cause| failures.iter().filter(|(_, f)| f.cause == cause).count();
    println!(
        "peer vectors: {} vectors ({} instants or verdicts) from {} sources, {} differ by DST policy; \
         {} failed ({} refused, {} accepted, {} wrong instants, {} wrong around DST, {} bad data)",
        vectors.len(),
        instants,
        sources.len(),
        by_policy,
        failures.len(),
        count(Cause::Refused),
        count(Cause::Accepted),
        count(Cause::Instant),
        count(Cause::Dst),
        count(Cause::Data),
    );
    assert!(
        failures.is_empty(),
        "{} of {} peer vectors failed (each is printed above with its source)",
        failures.len(),
        vectors.len()
    );
}
