//! Minimal data parallelism over scoped threads.

use std::sync::atomic::{AtomicUsize, Ordering};

/// Number of worker threads: the available cores.
pub(crate) fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Runs `work` once on every worker thread and collects what each returns.
/// A panic in a worker is resumed on the calling thread.
pub(crate) fn run<R: Send>(work: impl Fn() -> R + Sync) -> Vec<R> {
    let n = threads();
    if n <= 1 {
        return vec![work()];
    }
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..n).map(|_| s.spawn(&work)).collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}

/// `items.iter().map(f).collect()` on all cores, order kept.
pub(crate) fn map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    const CHUNK: usize = 1024;
    if items.len() < 2 * CHUNK || threads() <= 1 {
        return items.iter().map(f).collect();
    }
    let next = AtomicUsize::new(0);
    let mut parts: Vec<(usize, Vec<R>)> = run(|| {
        let mut mine = Vec::new();
        loop {
            let start = next.fetch_add(CHUNK, Ordering::Relaxed);
            let Some(chunk) = items.get(start..(start + CHUNK).min(items.len())) else {
                break;
            };
            if chunk.is_empty() {
                break;
            }
            mine.push((start, chunk.iter().map(&f).collect::<Vec<R>>()));
        }
        mine
    })
    .into_iter()
    .flatten()
    .collect();
    parts.sort_unstable_by_key(|(start, _)| *start);
    parts.into_iter().flat_map(|(_, v)| v).collect()
}
