//! Soak: several threads push mixed NDArray work, executors and KVStore traffic concurrently,
//! with injected failing and panicking operations. Checked: no deadlock (the child is killed
//! after its time plus two minutes), every injected error reported at the wait on a result that
//! depends on it (and at no other wait, nor at a final `waitall`), results that do not depend on
//! it correct, no leaked threads and the storage pool's bytes in use back at their starting
//! level.
//!
//! `MXR_SOAK_SECS` sets the duration (3 s by default, for CI; e.g. 300 for a real soak):
//! `MXR_SOAK_SECS=300 cargo test --test robust soak -- --nocapture`.

use std::time::{Duration, Instant};

use mxr::engine::{Context, Engine};
use mxr::exec::GradReq;
use mxr::nd::{self, NDArray};
use mxr::sym::Symbol;

use crate::{fault, run_child};

const THREADS: u64 = 4;

fn secs() -> u64 {
    std::env::var("MXR_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3)
}

#[test]
fn soak_with_injected_failures() {
    let secs = secs();
    let out = run_child(
        "soak::child",
        &[
            ("MXR_SOAK_SECS", secs.to_string()),
            ("MXR_ENGINE", "threaded".into()),
        ],
        Duration::from_secs(secs + 120),
    );
    let summary = out
        .lines()
        .find_map(|l| l.split_once("soak: ").map(|(_, rest)| rest))
        .unwrap_or_else(|| panic!("no summary from the child:\n{out}"));
    eprintln!("{summary}");
}

/// What one thread did.
#[derive(Debug, Default)]
struct Stats {
    ops: u64,
    executors: u64,
    failures: u64,
    panics: u64,
    reported: u64,
}

/// The threads of this process.
fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").map_or(0, Iterator::count)
}

#[test]
#[ignore = "run alone in a child process by soak_with_injected_failures"]
fn child() {
    fault::quiet_injected_panics();
    let engine = Engine::global().expect("the engine starts");
    // Warm-up: the workers start and the pool gets its first blocks.
    let mut warm = Stats::default();
    for i in 0..3 {
        step(0, i, i, &mut warm);
    }
    nd::waitall().expect("warm-up");
    let threads_before = threads();
    let bytes_before = engine.cpu_storage().stats().bytes_in_use;
    let deadline = Instant::now() + Duration::from_secs(secs());
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            std::thread::spawn(move || {
                let mut stats = Stats::default();
                let mut seed = t.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
                let mut i = 0;
                while Instant::now() < deadline {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    step(t, i, seed % 8, &mut stats);
                    i += 1;
                }
                stats
            })
        })
        .collect();
    let mut total = Stats::default();
    for w in workers {
        let s = w
            .join()
            .expect("a soak thread failed (its message is above)");
        total.ops += s.ops;
        total.executors += s.executors;
        total.failures += s.failures;
        total.panics += s.panics;
        total.reported += s.reported;
    }
    nd::waitall().expect("no injected error is left for waitall: each was observed at its wait");
    let threads_after = threads();
    let stats = engine.cpu_storage().stats();
    assert_eq!(threads_after, threads_before, "threads before and after");
    assert_eq!(
        stats.bytes_in_use, bytes_before,
        "pool bytes in use before and after"
    );
    assert_eq!(total.reported, total.failures + total.panics);
    assert!(total.failures > 0 && total.panics > 0 && total.executors > 0);
    println!(
        "soak: {} s, {THREADS} threads: {} NDArray operations, {} executor runs, {} injected \
         failures and {} injected panics, each reported at its wait ({} reports); threads \
         {threads_before} -> {threads_after}; pool bytes in use {bytes_before} -> {} (peak {})",
        secs(),
        total.ops,
        total.executors,
        total.failures,
        total.panics,
        total.reported,
        stats.bytes_in_use,
        stats.peak_bytes_in_use
    );
}

fn plus(x: &NDArray, scalar: &str) -> NDArray {
    nd::invoke("_plus_scalar", &[x], &[("scalar", scalar)])
        .expect("_plus_scalar is pushed")
        .remove(0)
}

fn ramp(n: usize) -> NDArray {
    NDArray::from_vec(&[n], (0..n).map(|k| k as f32).collect()).expect("an array")
}

/// One unit of work of kind `kind` (0–7), iteration `i` of thread `t`.
fn step(t: u64, i: u64, kind: u64, stats: &mut Stats) {
    let tag = format!("t{t}-i{i}");
    let n = 1 + (i as usize * 37 + t as usize * 11) % 700;
    match kind {
        // A chain of arithmetic with its values checked.
        0 | 1 => {
            let a = ramp(n);
            let b = plus(&a, "1");
            let c = nd::multiply(&b, &b).expect("multiply");
            let v = c.to_vec::<f32>().expect("values");
            for (k, x) in v.iter().enumerate() {
                assert_eq!(*x, ((k + 1) * (k + 1)) as f32, "{tag}: element {k}");
            }
            stats.ops += 3;
        }
        // An injected failure (2) or panic (3): a dependent result reports it, an independent
        // one computed at the same time is correct, and the error is reported once.
        2 | 3 => {
            let mode = if kind == 2 { "fail" } else { "panic" };
            let a = ramp(n);
            let x = nd::invoke("_robust_fault", &[&a], &[("mode", mode), ("tag", &tag)])
                .expect("the faulty operation is pushed")
                .remove(0);
            let y = plus(&x, "1");
            let z = plus(&a, "2");
            assert_eq!(
                z.to_vec::<f32>().expect("an independent result"),
                (0..n).map(|k| k as f32 + 2.0).collect::<Vec<_>>()
            );
            let e = y
                .wait_to_read()
                .expect_err("the injected fault reaches the dependent result's wait");
            let expected = if kind == 2 {
                format!("injected failure {tag}")
            } else {
                format!("injected panic {tag}")
            };
            assert!(e.to_string().contains(&expected), "{tag}: {e}");
            if kind == 3 {
                assert!(e.to_string().contains("panicked"), "{tag}: {e}");
            }
            assert!(x.wait_to_read().is_ok(), "{tag}: reported twice");
            assert!(a.wait_to_read().is_ok(), "{tag}: the input was not written");
            stats.reported += 1;
            if kind == 2 {
                stats.failures += 1;
            } else {
                stats.panics += 1;
            }
            stats.ops += 4;
        }
        // An executor: FullyConnected, the fault operator (copy, fail or panic), relu.
        4 | 5 => {
            let mode = ["copy", "fail", "panic"][(i % 3) as usize];
            let mut exec = executor(mode, &tag);
            exec.forward(false).expect("forward is pushed");
            let out = exec.outputs().remove(0);
            match mode {
                "copy" => assert_eq!(out.to_vec::<f32>().expect("outputs"), vec![3.0f32; 8]),
                _ => {
                    let e = out
                        .wait_to_read()
                        .expect_err("the executor's output reports the fault");
                    assert!(e.to_string().contains(&tag), "{tag}: {e}");
                    stats.reported += 1;
                    if mode == "fail" {
                        stats.failures += 1;
                    } else {
                        stats.panics += 1;
                    }
                }
            }
            stats.executors += 1;
        }
        // Work dropped without waiting: its memory must still come back.
        6 => {
            let a = ramp(n);
            let b = plus(&a, "1");
            let _ = nd::multiply(&a, &b).expect("multiply");
            stats.ops += 2;
        }
        // KVStore traffic: a store per unit (its arrays are freed with it), a key per thread,
        // two values pushed (summed), pulled back and checked.
        _ => {
            let kv = mxr::kv::KVStore::create("local").expect("a local store");
            let key = format!("t{t}");
            let a = ramp(n);
            kv.init(key.as_str(), &a).expect("init");
            let b = plus(&a, "1");
            kv.push(key.as_str(), &[&a, &b]).expect("push");
            let out = NDArray::zeros(&[n]).expect("an array");
            kv.pull(key.as_str(), &[&out]).expect("pull");
            assert_eq!(
                out.to_vec::<f32>().expect("values"),
                (0..n).map(|k| 2.0 * k as f32 + 1.0).collect::<Vec<_>>(),
                "{tag}: pushed a + (a + 1)"
            );
            stats.ops += 4;
        }
    }
}

/// data (2, 3) → FullyConnected(4) → `_robust_fault(mode)` → relu, with data and weights all
/// ones (so a copying run outputs 3 everywhere).
fn executor(mode: &str, tag: &str) -> mxr::exec::Executor {
    let json = format!(
        r#"{{"nodes": [
            {{"op": "null", "name": "data", "inputs": []}},
            {{"op": "null", "name": "fc_weight", "inputs": []}},
            {{"op": "null", "name": "fc_bias", "inputs": []}},
            {{"op": "FullyConnected", "name": "fc", "attrs": {{"num_hidden": "4"}},
              "inputs": [[0, 0, 0], [1, 0, 0], [2, 0, 0]]}},
            {{"op": "_robust_fault", "name": "fault", "attrs": {{"mode": "{mode}", "tag": "{tag}"}},
              "inputs": [[3, 0, 0]]}},
            {{"op": "relu", "name": "relu", "inputs": [[4, 0, 0]]}}
        ], "arg_nodes": [0, 1, 2], "heads": [[5, 0, 0]],
        "attrs": {{"mxnet_version": ["int", 10901]}}}}"#
    );
    let symbol = Symbol::from_json(&json).expect("the soak graph loads");
    let exec = symbol
        .simple_bind(Context::cpu(0), &[("data", &[2, 3])], GradReq::Null, &[])
        .expect("the soak graph binds");
    exec.arg_arrays()[0].assign_scalar(1.0).expect("data");
    exec.arg_arrays()[1].assign_scalar(1.0).expect("weight");
    exec
}
