//! The engine demo (mxr's main job until training lands): a small dataflow program on the
//! asynchronous engine.
//!
//! Eight chunks of a vector are filled in parallel, each chunk's partial sum is computed as soon
//! as its chunk is ready, the partial sums are reduced into one total, and meanwhile an
//! unrelated failing operation shows that errors stay with the data they touch. Everything is
//! pushed at once; only reading results out waits. Run with `MXR_PROFILE=trace.json` to get a
//! Chrome trace of every operation (open it in Perfetto).

use std::sync::Arc;

use mxr::engine::{Engine, EngineConfig, EngineKind, Var};
use parking_lot::Mutex;

const CHUNKS: usize = 8;
const CHUNK_LEN: usize = 1 << 20;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let engine = Engine::new(EngineConfig::from_env()?)?;
    match engine.config().kind {
        EngineKind::Naive => println!("engine: naive (every operation runs inline at push)"),
        _ => println!(
            "engine: threaded, {} CPU workers",
            engine.config().cpu_workers
        ),
    }

    // Each piece of data has a var; the data itself lives behind a mutex that the engine's
    // ordering makes uncontended.
    let chunks: Vec<(Var, Arc<Mutex<Vec<f64>>>)> = (0..CHUNKS)
        .map(|_| (Var::new(), Arc::new(Mutex::new(Vec::new()))))
        .collect();
    let partials: Vec<(Var, Arc<Mutex<f64>>)> = (0..CHUNKS)
        .map(|_| (Var::new(), Arc::new(Mutex::new(0.0))))
        .collect();
    let total = (Var::new(), Arc::new(Mutex::new(0.0f64)));

    for (c, ((cv, chunk), (pv, partial))) in chunks.iter().zip(&partials).enumerate() {
        let data = Arc::clone(chunk);
        engine.push_sync("fill", &[], &[cv], move |_| {
            let base = (c * CHUNK_LEN) as f64;
            *data.lock() = (0..CHUNK_LEN).map(|i| base + i as f64).collect();
            Ok(())
        })?;
        let (data, out) = (Arc::clone(chunk), Arc::clone(partial));
        engine.push_sync("partial_sum", &[cv], &[pv], move |_| {
            *out.lock() = data.lock().iter().sum();
            Ok(())
        })?;
    }
    let reads: Vec<&Var> = partials.iter().map(|(v, _)| v).collect();
    let parts: Vec<Arc<Mutex<f64>>> = partials.iter().map(|(_, p)| Arc::clone(p)).collect();
    let out = Arc::clone(&total.1);
    engine.push_sync("reduce", &reads, &[&total.0], move |_| {
        *out.lock() = parts.iter().map(|p| *p.lock()).sum();
        Ok(())
    })?;

    let broken = Var::new();
    engine.push_sync("divide_by_zero", &[], &[&broken], |_| {
        Err("refusing to divide by zero".into())
    })?;

    println!(
        "pushed {} operations; {} pending",
        2 * CHUNKS + 2,
        engine.pending()
    );
    engine.wait_for_var(&total.0)?;
    let n = (CHUNKS * CHUNK_LEN) as f64;
    let sum = *total.1.lock();
    println!("sum of 0..{n} = {sum} (expected {})", n * (n - 1.0) / 2.0);
    match engine.wait_for_var(&broken) {
        Err(e) => println!("the unrelated failure surfaced where it was read: {e}"),
        Ok(()) => println!("unexpected: the failing operation succeeded"),
    }
    engine.shutdown()?;
    Ok(())
}
