//! EXAMPLES.md scenario 19, the KVStore walk-through of MXNet's docs, on a `local` store; and,
//! with `dist`, scenario 20: the same kind of steps on a `dist_sync` store across the
//! processes of an `mpirun` (needs the `mpi` feature).
//!
//! ```text
//! cargo run --example kvstore
//! cargo build --features mpi --example kvstore
//! mpirun --allow-run-as-root --oversubscribe -np 2 --mca btl self,vader \
//!     --mca oob_tcp_if_include lo target/debug/examples/kvstore dist
//! ```
//!
//! `dist-stop` shows what happens when a worker stops taking part: worker 1 skips a push, and
//! worker 0 gives up after a 2 s timeout with an error.

use std::time::Duration;

use mxr::engine::Context;
use mxr::kv::{KVStore, KVStoreOptions, Key};
use mxr::nd::NDArray;
use mxr::optim::Sgd;

fn show(a: &NDArray) -> mxr::Result<String> {
    Ok(format!("{:?}", a.to_vec::<f32>()?))
}

/// The updater of the walk-through: `stored += input * 2`.
fn update(_key: &Key, input: &NDArray, stored: &NDArray) -> mxr::Result<()> {
    let mut stored = stored.clone();
    stored += &(input * 2.0);
    Ok(())
}

/// One array on each of `cpu(0)` to `cpu(3)`, made by `make`.
fn on_four_cpus(make: impl Fn(Context) -> mxr::Result<NDArray>) -> mxr::Result<Vec<NDArray>> {
    (0..4).map(|i| make(Context::cpu(i))).collect()
}

fn walk_through() -> mxr::Result<()> {
    let shape = [2, 3];
    let kv = KVStore::create("local")?;
    kv.init(3, &(NDArray::ones(&shape)? * 2.0))?;
    let a = NDArray::zeros(&shape)?;
    kv.pull(3, &[&a])?;
    println!("init 3 with ones*2, pull: {}", show(&a)?);

    kv.push(3, &[&(NDArray::ones(&shape)? * 8.0)])?;
    kv.pull(3, &[&a])?;
    println!("push ones*8, pull: {}", show(&a)?);

    let devices = on_four_cpus(|cpu| NDArray::ones_on(&shape, cpu))?;
    let device_refs: Vec<&NDArray> = devices.iter().collect();
    kv.push(3, &device_refs)?;
    kv.pull(3, &[&a])?;
    println!("push four ones (cpu(0)..cpu(3)), pull: {}", show(&a)?);

    kv.set_updater(update);
    kv.pull(3, &[&a])?;
    println!("set updater stored += input*2, pull: {}", show(&a)?);
    kv.push(3, &[&NDArray::ones(&shape)?])?;
    kv.pull(3, &[&a])?;
    println!("push ones, pull: {}", show(&a)?);

    let outs = on_four_cpus(|cpu| NDArray::zeros_on(&shape, cpu))?;
    let out_refs: Vec<&NDArray> = outs.iter().collect();
    kv.pull(3, &out_refs)?;
    for o in &outs {
        println!("pull into {}: {}", o.context(), show(o)?);
    }

    let keys = [5, 7, 9];
    let ones: Vec<NDArray> = (0..3)
        .map(|_| NDArray::ones(&shape))
        .collect::<mxr::Result<_>>()?;
    kv.init_list(&keys, &[&ones[0], &ones[1], &ones[2]])?;
    kv.push_list(&keys, &[[&ones[0]], [&ones[1]], [&ones[2]]])?;
    let b: Vec<NDArray> = (0..3)
        .map(|_| NDArray::zeros(&shape))
        .collect::<mxr::Result<_>>()?;
    kv.pull_list(&keys, &[[&b[0]], [&b[1]], [&b[2]]])?;
    for (k, o) in keys.iter().zip(&b) {
        println!("keys [5, 7, 9]: push ones, pull key {k}: {}", show(o)?);
    }
    let per_key: Vec<Vec<&NDArray>> = keys.iter().map(|_| device_refs.clone()).collect();
    kv.push_list(&keys, &per_key)?;
    kv.pull_list(&keys, &[[&b[0]], [&b[1]], [&b[2]]])?;
    for (k, o) in keys.iter().zip(&b) {
        println!(
            "keys [5, 7, 9]: push four ones each, pull key {k}: {}",
            show(o)?
        );
    }
    Ok(())
}

/// Scenario 20 on this process's rank (printed lines start with `rank r of n:`).
fn distributed(stop: bool) -> mxr::Result<()> {
    let timeout = Duration::from_secs(if stop { 2 } else { 60 });
    let kv = KVStore::create_with("dist_sync", KVStoreOptions::default().timeout(timeout))?;
    let (rank, n) = (kv.rank(), kv.num_workers());
    let who = format!("rank {rank} of {n}:");
    // Every worker initialises with its own value; worker 0's is kept.
    kv.init(0, &NDArray::full(&[3], 1.0 + rank as f64 * 10.0)?)?;
    let out = NDArray::zeros(&[3])?;
    kv.pull(0, &[&out])?;
    println!("{who} init from rank 0: {}", show(&out)?);

    if stop && rank == 1 {
        // Worker 1 stops taking part: it waits, then leaves without its push.
        std::thread::sleep(Duration::from_secs(10));
        std::process::exit(0);
    }
    kv.push(0, &[&NDArray::full(&[3], rank as f64 + 1.0)?])?;
    kv.pull(0, &[&out])?;
    if let Err(e) = out.wait_to_read() {
        eprintln!("{who} error: {e}");
        std::process::exit(1);
    }
    println!("{who} push rank+1, pull: {}", show(&out)?);

    kv.set_updater(update);
    kv.push(0, &[&NDArray::ones(&[3])?])?; // sum over workers n, stored 3 + 2n
    kv.pull(0, &[&out])?;
    println!("{who} updater stored += 2 * sum: {}", show(&out)?);

    let kv2_key = 1;
    kv.init(kv2_key, &NDArray::ones(&[2])?)?;
    kv.set_optimizer(Sgd::new().learning_rate(0.1));
    kv.push(kv2_key, &[&NDArray::full(&[2], rank as f64 + 1.0)?])?; // 1 − 0.1·(1 + 2)
    let w = NDArray::zeros(&[2])?;
    kv.pull(kv2_key, &[&w])?;
    println!("{who} sgd lr 0.1, grads 1 and 2: {}", w.to_vec::<f32>()?[0]);

    let keys: Vec<usize> = (10..18).collect();
    let inits: Vec<NDArray> = keys
        .iter()
        .map(|_| NDArray::zeros(&[1000]))
        .collect::<mxr::Result<_>>()?;
    kv.init_list(&keys, &inits.iter().collect::<Vec<_>>())?;
    kv.set_updater(|_, input, stored| stored.assign(input));
    let grads: Vec<NDArray> = keys
        .iter()
        .map(|_| NDArray::full(&[1000], 1.5))
        .collect::<mxr::Result<_>>()?;
    let grad_lists: Vec<[&NDArray; 1]> = grads.iter().map(|g| [g]).collect();
    kv.push_list(&keys, &grad_lists)?;
    let out_lists: Vec<[&NDArray; 1]> = inits.iter().map(|o| [o]).collect();
    kv.pull_list(&keys, &out_lists)?;
    let ok = inits
        .iter()
        .all(|o| o.to_vec::<f32>().is_ok_and(|v| v.iter().all(|&x| x == 3.0)));
    println!("{who} 8 keys pushed together: all 3 = {ok}");
    kv.barrier()?;
    Ok(())
}

fn main() {
    let mode = std::env::args().nth(1).unwrap_or_default();
    let result = match mode.as_str() {
        "dist" => distributed(false),
        "dist-stop" => distributed(true),
        _ => walk_through(),
    };
    if let Err(e) = result {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
