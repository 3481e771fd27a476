//! Firing what is due together: claims in chunks of 1, 2, 4, 8, then 16 occurrences (one
//! transaction each), taken and started by a few workers side by side. A tick's due jobs and a
//! provider's batch of won occurrences both go this way.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use super::{EngineError, FireOutcome};
use crate::run::Runner;

/// Fire `items` through `fire_chunk` (which claims a chunk in one transaction and starts what
/// it won), a chunk at a time on up to [`fire_workers`] threads; the outcomes come back in the
/// order of `items`. While the workers claim, the runs' records wait (see
/// [`Runner::claiming`]): claims serialise in the store, starting processes does not have to.
pub(super) fn fire_together<K: Sync>(
    items: &[K],
    runner: &Runner,
    fire_chunk: impl Fn(&[K]) -> Vec<Result<FireOutcome, EngineError>> + Sync,
) -> Vec<Result<FireOutcome, EngineError>> {
    let (next, chunks) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let done = Mutex::new(Vec::new());
    let fire_next = || {
        let _claiming = runner.claiming();
        loop {
            let size = chunk_size(chunks.fetch_add(1, Ordering::Relaxed));
            let from = next.fetch_add(size, Ordering::Relaxed);
            if from >= items.len() {
                break;
            }
            let outcomes = fire_chunk(&items[from..items.len().min(from + size)]);
            done.lock()
                .unwrap_or_else(|p| p.into_inner())
                .push((from, outcomes));
        }
    };
    let workers = items.len().min(fire_workers());
    if workers > 1 {
        std::thread::scope(|scope| {
            for _ in 1..workers {
                // A thread the system refuses is a worker fewer: this one fires the rest.
                let _ = std::thread::Builder::new().spawn_scoped(scope, fire_next);
            }
            fire_next();
        });
    } else {
        fire_next();
    }
    let mut done = done.into_inner().unwrap_or_else(|p| p.into_inner());
    done.sort_unstable_by_key(|(from, _)| *from);
    done.into_iter()
        .flat_map(|(_, outcomes)| outcomes)
        .collect()
}

/// How many occurrences the `n`th chunk claims in one transaction: 1, 2, 4, 8, then 16 at a
/// time, so the first start at once and a burst costs a few commits; while one worker starts a
/// chunk's runs, another claims the next.
fn chunk_size(n: usize) -> usize {
    1 << n.min(4)
}

/// How many workers fire what is due together: one per core, at least 2, at most 8.
fn fire_workers() -> usize {
    // Asked once: the answer reads cgroup files, too slow for every tick.
    static WORKERS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *WORKERS.get_or_init(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
            .clamp(2, 8)
    })
}

#[cfg(test)]
mod tests {
    use super::chunk_size;

    #[test]
    fn chunks_double_up_to_sixteen() {
        let sizes: Vec<usize> = (0..7).map(chunk_size).collect();
        assert_eq!(sizes, [1, 2, 4, 8, 16, 16, 16]);
    }
}
