//! Helpers shared by the engine tests.

use std::sync::{Arc, mpsc};
use std::time::Duration;

use mxr::engine::{Engine, EngineConfig, EngineKind};

/// Runs `f` on its own thread and fails the test if it takes longer than `secs` (a deadlock).
pub(crate) fn with_timeout<T: Send + 'static>(
    secs: u64,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = mpsc::channel();
    let handle = std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(Duration::from_secs(secs)) {
        Ok(v) => {
            handle
                .join()
                .expect("the test thread finished after sending its result");
            v
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => match handle.join() {
            Err(panic) => std::panic::resume_unwind(panic),
            Ok(()) => panic!("test thread ended without a result"),
        },
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("timed out after {secs} s: deadlock?"),
    }
}

/// The engine configurations every behavioural test runs under.
pub(crate) fn configs() -> Vec<(&'static str, EngineConfig)> {
    vec![
        ("1 worker", EngineConfig::default().with_cpu_workers(1)),
        ("2 workers", EngineConfig::default().with_cpu_workers(2)),
        ("8 workers", EngineConfig::default().with_cpu_workers(8)),
        (
            "naive",
            EngineConfig::default().with_kind(EngineKind::Naive),
        ),
    ]
}

/// Runs `test` once for each of [`configs`] (with the configuration's label), each run on its
/// own thread under [`with_timeout`]`(secs)`.
pub(crate) fn on_each_config(
    secs: u64,
    test: impl Fn(&'static str, EngineConfig) + Send + Sync + 'static,
) {
    let test = Arc::new(test);
    for (label, config) in configs() {
        let test = Arc::clone(&test);
        with_timeout(secs, move || test(label, config));
    }
}

/// Runs `test` on a new engine of each of [`configs`], as [`on_each_config`] does.
pub(crate) fn on_each_engine(
    secs: u64,
    test: impl Fn(&'static str, Engine) + Send + Sync + 'static,
) {
    on_each_config(secs, move |label, config| {
        test(label, Engine::new(config).expect("valid config"))
    });
}

/// An engine with `workers` CPU workers.
pub(crate) fn threaded(workers: usize) -> Engine {
    Engine::new(EngineConfig::default().with_cpu_workers(workers)).expect("valid config")
}

/// SplitMix64: a small deterministic generator for reproducible random programs.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n`.
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}
