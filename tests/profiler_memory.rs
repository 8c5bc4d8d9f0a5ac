//! The profiler's memory stays bounded however long the run: 1M operations traced by an
//! engine, with every heap allocation of the process counted (its own test binary, so that
//! the counting allocator sees this test alone).

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use mxr::engine::{Engine, EngineConfig, EngineKind, Var};

/// The system allocator, keeping the bytes live now and the most live since `reset_peak`.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(bytes: usize) {
    let live = LIVE.fetch_add(bytes, Ordering::Relaxed) + bytes;
    PEAK.fetch_max(live, Ordering::Relaxed);
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so the
// `GlobalAlloc` contract holds as it does for `System`; the counters have no effect on it.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded as is (see the impl).
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: forwarded as is (see the impl).
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded as is (see the impl).
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
            grew(new_size);
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The peak of live heap bytes above `LIVE` at the call, over what `f` does.
fn peak_growth(f: impl FnOnce()) -> usize {
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    f();
    PEAK.load(Ordering::Relaxed).saturating_sub(base)
}

/// The bound on the profiler's memory however long the run.
const LIMIT: usize = 64 << 20;

#[test]
fn a_million_traced_operations_use_bounded_memory() {
    // The trace goes to /dev/null where there is one (the events are formatted and written
    // all the same; 1M of them would be ~110 MB on disk).
    let dev_null = PathBuf::from("/dev/null");
    let temp = std::env::temp_dir().join(format!("mxr-memory-{}.json", std::process::id()));
    let path = if dev_null.exists() { dev_null } else { temp };
    // The naive engine runs each operation inside `push`: the fastest engine in a debug
    // build, and the same profiler path as the workers'.
    let config = EngineConfig::default().with_kind(EngineKind::Naive);
    let engine = Engine::new(config.with_profile(&path)).unwrap();
    let v = Var::new();
    let run = |n: usize| {
        for _ in 0..n {
            engine.push_sync("tiny", &[], &[&v], |_| Ok(())).unwrap();
        }
        engine.wait_all().unwrap();
    };
    run(10_000); // first-use allocations: the statistics row, the thread name
    let short = peak_growth(|| run(100_000));
    let long = peak_growth(|| run(1_000_000));
    engine.profiler().flush().unwrap();
    let stats = engine.profiler().stats();
    assert_eq!(stats[0].count, 1_110_000);
    assert_eq!(engine.operations_pushed(), 1_110_000);
    engine.shutdown().unwrap();
    if path.starts_with(std::env::temp_dir()) {
        let _ = std::fs::remove_file(&path);
    }
    println!("peak heap growth: {short} bytes over 100k operations, {long} over 1M");
    // Keeping every record (56 bytes each) would take ~60 MB for 1M operations and ten times
    // what 100k take; the stream takes the same few buffers however long the run.
    assert!(long < LIMIT, "{long} bytes");
    assert!(
        long <= short + (1 << 20),
        "grows with the run: {short} -> {long} bytes"
    );
    assert!(long < 4 << 20, "{long} bytes");
}
