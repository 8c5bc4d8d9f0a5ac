//! KVStore: EXAMPLES.md scenario 19 step by step, key lists, updaters and optimizers, errors,
//! ordering under concurrent use, and the distributed store over MPI (2 processes).

use std::path::PathBuf;
use std::process::Command;

use mxr::engine::Context;
use mxr::kv::{KVStore, Key};
use mxr::nd::NDArray;
use mxr::optim::{Sgd, Updater};
use mxr_test_support::{Missing, fashion_mnist_dir, skip, success_stdout};

use crate::examples::built_example;

const SHAPE: [usize; 2] = [2, 3];

fn values(a: &NDArray) -> Vec<f32> {
    a.to_vec::<f32>().expect("a float32 array")
}

fn all(a: &NDArray, v: f32) -> bool {
    values(a).iter().all(|&x| x == v)
}

/// `n` arrays, the `i`-th made by `make(i)`.
fn arrays(n: u32, make: impl FnMut(u32) -> mxr::Result<NDArray>) -> mxr::Result<Vec<NDArray>> {
    (0..n).map(make).collect()
}

/// The updater of scenario 19: `stored += input * 2`.
fn times_two(_key: &Key, input: &NDArray, stored: &NDArray) -> mxr::Result<()> {
    let mut stored = stored.clone();
    stored += &(input * 2.0);
    Ok(())
}

#[test]
fn walk_through_of_scenario_19() -> mxr::Result<()> {
    let kv = KVStore::create("local")?;
    assert_eq!((kv.kv_type(), kv.rank(), kv.num_workers()), ("local", 0, 1));
    let shape = &SHAPE;
    kv.init(3, &(NDArray::ones(shape)? * 2.0))?;
    let a = NDArray::zeros(shape)?;
    kv.pull(3, &[&a])?;
    assert_eq!(values(&a), vec![2.0; 6]);

    kv.push(3, &[&(NDArray::ones(shape)? * 8.0)])?;
    kv.pull(3, &[&a])?;
    assert_eq!(values(&a), vec![8.0; 6]);

    let devs = arrays(4, |i| NDArray::ones_on(shape, Context::cpu(i)))?;
    let dev_refs: Vec<&NDArray> = devs.iter().collect();
    kv.push(3, &dev_refs)?;
    kv.pull(3, &[&a])?;
    assert_eq!(values(&a), vec![4.0; 6]);

    kv.set_updater(times_two);
    kv.pull(3, &[&a])?;
    assert_eq!(values(&a), vec![4.0; 6]);
    kv.push(3, &[&NDArray::ones(shape)?])?;
    kv.pull(3, &[&a])?;
    assert_eq!(values(&a), vec![6.0; 6]);

    let outs = arrays(4, |i| NDArray::zeros_on(shape, Context::cpu(i)))?;
    let out_refs: Vec<&NDArray> = outs.iter().collect();
    kv.pull(3, &out_refs)?;
    for (i, o) in outs.iter().enumerate() {
        assert_eq!(o.context(), Context::cpu(i as u32));
        assert_eq!(values(o), vec![6.0; 6]);
    }

    let keys = [5, 7, 9];
    let ones = arrays(3, |_| NDArray::ones(shape))?;
    kv.init_list(&keys, &[&ones[0], &ones[1], &ones[2]])?;
    kv.push_list(&keys, &[[&ones[0]], [&ones[1]], [&ones[2]]])?;
    let b = arrays(3, |_| NDArray::zeros(shape))?;
    kv.pull_list(&keys, &[[&b[0]], [&b[1]], [&b[2]]])?;
    for o in &b {
        assert_eq!(values(o), vec![3.0; 6]); // 1 + 1·2
    }

    let per_key: Vec<Vec<&NDArray>> = keys.iter().map(|_| dev_refs.clone()).collect();
    kv.push_list(&keys, &per_key)?;
    let out_lists: Vec<Vec<&NDArray>> = b.iter().map(|o| vec![o]).collect();
    kv.pull_list(&keys, &out_lists)?;
    for o in &b {
        assert_eq!(values(o), vec![11.0; 6]); // 3 + 4·2
    }
    Ok(())
}

#[test]
fn device_store_merges_on_the_values_contexts() -> mxr::Result<()> {
    let kv = KVStore::create("device")?;
    assert_eq!(kv.kv_type(), "device");
    kv.init("w", &NDArray::zeros_on(&[4], Context::cpu(2))?)?;
    let vals = arrays(3, |i| {
        NDArray::full_on(&[4], f64::from(i + 1), Context::cpu(i + 1))
    })?;
    kv.push("w", &[&vals[0], &vals[1], &vals[2]])?;
    let out = NDArray::zeros_on(&[4], Context::cpu(5))?;
    kv.pull("w", &[&out])?;
    assert_eq!(values(&out), vec![6.0; 4]);
    // pushpull without outputs: the pushed arrays receive the result.
    kv.pushpull("w", &[&vals[0], &vals[1]], None)?;
    assert_eq!(values(&vals[0]), vec![3.0; 4]);
    assert_eq!(values(&vals[1]), vec![3.0; 4]);
    Ok(())
}

#[test]
fn string_keys_repeated_keys_and_broadcast() -> mxr::Result<()> {
    let kv = KVStore::create("local")?;
    kv.init_list(
        &["a", "b"],
        &[&NDArray::zeros(&[2])?, &NDArray::zeros(&[2])?],
    )?;
    // Values for the same key in one call are merged.
    let (one, three, four) = (
        NDArray::full(&[2], 1.0)?,
        NDArray::full(&[2], 3.0)?,
        NDArray::full(&[2], 4.0)?,
    );
    kv.push_list(&["a", "b", "a"], &[[&one], [&three], [&four]])?;
    let (a, b) = (NDArray::zeros(&[2])?, NDArray::zeros(&[2])?);
    kv.pull_list(&["a", "b"], &[[&a], [&b]])?;
    assert_eq!((values(&a), values(&b)), (vec![5.0; 2], vec![3.0; 2]));

    let seen = std::sync::Arc::new(parking_lot::Mutex::new(Vec::new()));
    let log = std::sync::Arc::clone(&seen);
    kv.set_updater(move |key, input, stored| {
        log.lock().push(key.clone());
        stored.assign(input)
    });
    kv.push_list(&["b", "a"], &[[&one], [&three]])?;
    assert_eq!(*seen.lock(), vec![Key::from("a"), Key::from("b")]); // first-init order

    let outs = [NDArray::zeros(&[3])?, NDArray::zeros(&[3])?];
    kv.broadcast("c", &NDArray::full(&[3], 7.0)?, &[&outs[0], &outs[1]])?;
    assert!(all(&outs[0], 7.0) && all(&outs[1], 7.0));
    Ok(())
}

#[test]
fn set_optimizer_applies_sgd_per_key() -> mxr::Result<()> {
    let kv = KVStore::create("local")?;
    kv.init(0, &NDArray::ones(&[3])?)?;
    kv.set_optimizer(Sgd::new().learning_rate(0.1));
    kv.push(0, &[&NDArray::ones(&[3])?])?;
    let w = NDArray::zeros(&[3])?;
    kv.pull(0, &[&w])?;
    for v in values(&w) {
        assert!((v - 0.9).abs() < 1e-6, "{v}");
    }
    // Two gradients are summed first: 0.9 − 0.1 · 2.
    kv.push(0, &[&NDArray::ones(&[3])?, &NDArray::ones(&[3])?])?;
    kv.pull(0, &[&w])?;
    for v in values(&w) {
        assert!((v - 0.7).abs() < 1e-6, "{v}");
    }
    assert_eq!(
        kv.with_optimizer(|u: &mut Updater| u.states().len()),
        Some(1)
    );
    Ok(())
}

#[test]
fn bad_calls_are_clear_errors() -> mxr::Result<()> {
    let kv = KVStore::create("local")?;
    kv.init(1, &NDArray::zeros(&[2, 3])?)?;
    let err = kv.push(2, &[&NDArray::zeros(&[2, 3])?]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "kvstore local: push of key 2: the key was never initialised (call init first)"
    );
    let err = kv.pull(2, &[&NDArray::zeros(&[2, 3])?]).unwrap_err();
    assert!(
        err.to_string().contains("pull of key 2: the key was never"),
        "{err}"
    );
    let err = kv.init(1, &NDArray::zeros(&[2, 3])?).unwrap_err();
    assert_eq!(
        err.to_string(),
        "kvstore local: init of key 1: duplicate init of key"
    );
    let err = kv.push(1, &[&NDArray::zeros(&[3, 2])?]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "kvstore local: push of key 1: value 0 is [3, 2] of float32, the stored value [2, 3] \
         of float32"
    );
    let err = kv.pull(1, &[&NDArray::zeros(&[6])?]).unwrap_err();
    assert!(
        err.to_string().contains("output 0 is [6] of float32"),
        "{err}"
    );
    let err = kv.init("w", &NDArray::zeros(&[1])?).unwrap_err();
    assert!(
        err.to_string().contains("mixed key types are not allowed"),
        "{err}"
    );
    let err = kv
        .push_list(&[1, 1], &[vec![&NDArray::zeros(&[2, 3])?]])
        .unwrap_err();
    assert!(
        err.to_string().contains("2 keys and 1 value lists"),
        "{err}"
    );
    let err = KVStore::create("dist_async").unwrap_err();
    assert!(err.to_string().contains("not supported"), "{err}");
    let err = KVStore::create("nccl").unwrap_err();
    assert!(err.to_string().contains("unknown store type"), "{err}");
    if !cfg!(feature = "mpi") {
        let err = KVStore::create("dist_sync").unwrap_err();
        assert!(err.to_string().contains("--features mpi"), "{err}");
    }
    // A failing updater's error comes back from push.
    kv.set_updater(|key, _, _| {
        Err(mxr::Error::InvalidArgument {
            call: "updater",
            reason: format!("refused key {key}"),
        })
    });
    let err = kv.push(1, &[&NDArray::zeros(&[2, 3])?]).unwrap_err();
    assert_eq!(err.to_string(), "updater: refused key 1");
    Ok(())
}

#[test]
fn concurrent_pushes_and_pulls_stay_ordered_per_key() -> mxr::Result<()> {
    const THREADS: usize = 4;
    const ROUNDS: usize = 50;
    let kv = KVStore::create("local")?;
    let n = 50_000; // large enough for the engine to run steps on its workers
    kv.init_list(&[0, 1], &[&NDArray::zeros(&[n])?, &NDArray::zeros(&[n])?])?;
    kv.set_updater(|_, input, stored| {
        let mut stored = stored.clone();
        stored += input;
        Ok(())
    });
    std::thread::scope(|scope| {
        for t in 0..THREADS {
            let kv = &kv;
            scope.spawn(move || -> mxr::Result<()> {
                let one = NDArray::ones(&[n])?;
                let out = NDArray::zeros(&[n])?;
                let mut last = 0.0f32;
                for r in 0..ROUNDS {
                    let key = (t + r) % 2;
                    kv.push(key, &[&one, &one])?;
                    kv.pull(key, &[&out])?;
                    let v = values(&out);
                    // A pull sees a whole number of pushes, never a half-applied one, and at
                    // least this thread's own pushes to the key so far.
                    assert!(v.iter().all(|&x| x == v[0]), "torn value on key {key}");
                    assert!(v[0] >= 2.0 * (r / 2 + 1) as f32 && v[0] % 2.0 == 0.0);
                    if key == t % 2 {
                        assert!(v[0] >= last, "key {key} went back from {last} to {}", v[0]);
                        last = v[0];
                    }
                }
                Ok(())
            });
        }
    });
    let outs = [NDArray::zeros(&[n])?, NDArray::zeros(&[n])?];
    kv.pull_list(&[0, 1], &[[&outs[0]], [&outs[1]]])?;
    let total: f32 = outs.iter().map(|o| values(o)[0]).sum();
    assert_eq!(total, (THREADS * ROUNDS * 2) as f32);
    assert!(outs.iter().all(|o| all(o, values(o)[0])));
    Ok(())
}

/// `mpirun` (found on `PATH`) and example `name` built with the `mpi` feature; `None` (after
/// [`skip`]) when either is missing.
pub(crate) fn mpi_setup(name: &str) -> Option<(PathBuf, PathBuf)> {
    if !cfg!(feature = "mpi") {
        skip(
            Missing::Mpi,
            "built without the `mpi` feature (./test enables it where OpenMPI and libclang are)",
        );
        return None;
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    let Some(mpirun) = std::env::split_paths(&path)
        .map(|dir| dir.join("mpirun"))
        .find(|p| p.is_file())
    else {
        skip(
            Missing::Mpi,
            "mpirun is not on PATH (apt-get install libopenmpi-dev)",
        );
        return None;
    };
    let example = built_example(name, "cargo test --workspace --features mpi")?;
    Some((mpirun, example))
}

/// [`mpi_setup`] for an example that trains on Fashion-MNIST: `None` (the test skips) where the
/// data set is missing too.
fn mpi_training_setup(name: &str) -> Option<(PathBuf, PathBuf)> {
    let setup = mpi_setup(name)?;
    fashion_mnist_dir()?;
    Some(setup)
}

fn mpirun_two(mpirun: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(mpirun)
        .args([
            "--allow-run-as-root",
            "--oversubscribe",
            "-np",
            "2",
            "--mca",
            "btl",
            "self,vader",
            "--mca",
            "oob_tcp_if_include",
            "lo",
        ])
        .args(args)
        .env("MXR_CPU_WORKERS", "1")
        // One kernel thread per process: 2 processes share 2 cores, and a kernel's sums (hence
        // its bits) are the same only for the same thread count.
        .env("MXR_NUM_THREADS", "1")
        .output()
        .expect("mpirun starts")
}

#[test]
fn dist_sync_sums_across_two_processes() {
    let Some((mpirun, example)) = mpi_setup("kvstore") else {
        return;
    };
    let out = mpirun_two(&mpirun, &[example.to_str().expect("utf-8 path"), "dist"]);
    let stdout = success_stdout("mpirun", &out);
    for rank in 0..2 {
        for line in [
            format!("rank {rank} of 2: init from rank 0: [1.0, 1.0, 1.0]"),
            format!("rank {rank} of 2: push rank+1, pull: [3.0, 3.0, 3.0]"),
            format!("rank {rank} of 2: updater stored += 2 * sum: [7.0, 7.0, 7.0]"),
            format!("rank {rank} of 2: sgd lr 0.1, grads 1 and 2: 0.7"),
            format!("rank {rank} of 2: 8 keys pushed together: all 3 = true"),
        ] {
            assert!(
                stdout.lines().any(|l| l == line),
                "missing {line:?} in:\n{stdout}"
            );
        }
    }
}

#[test]
fn dist_sync_reports_a_worker_that_stops() {
    let Some((mpirun, example)) = mpi_setup("kvstore") else {
        return;
    };
    let t0 = std::time::Instant::now();
    let out = mpirun_two(
        &mpirun,
        &[example.to_str().expect("utf-8 path"), "dist-stop"],
    );
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "the run should fail:\n{all}");
    assert!(
        all.contains("timed out after 2.0 s: another worker died or stopped taking part"),
        "{all}"
    );
    assert!(t0.elapsed().as_secs() < 60, "took {:?}", t0.elapsed());
}

#[test]
fn big_keys_sum_on_several_threads_and_pull_into_views() -> mxr::Result<()> {
    let n = 600_001; // above the sizes where the sum splits and the pull streams
    let kv = KVStore::create("local")?;
    kv.init(0, &NDArray::zeros(&[n])?)?;
    let vals = arrays(5, |i| {
        NDArray::arange(0.0, n as f64, 1.0).map(|a| a * f64::from(i + 1))
    })?;
    kv.push(0, &vals.iter().collect::<Vec<_>>())?;
    // An output that is a view at an odd offset of a larger array.
    let big = NDArray::zeros(&[n + 3])?;
    let view = big.reshape(&[n as isize + 3])?.slice(3, n + 3)?;
    let plain = NDArray::zeros(&[n])?;
    kv.pull(0, &[&view, &plain])?;
    let (got, whole) = (values(&plain), values(&big));
    for i in [0, 1, 12_345, n / 2, n - 1] {
        assert_eq!(got[i], (15 * i) as f32, "element {i}");
        assert_eq!(whole[i + 3], (15 * i) as f32, "view element {i}");
    }
    assert_eq!(&whole[..3], &[0.0, 0.0, 0.0]);
    assert_eq!(got, whole[3..]);
    Ok(())
}

/// Module::fit over `dist_sync` (the `train_module` example under mpirun): each worker trains
/// on its part of Fashion-MNIST, the gradients are summed across both, and both end with the
/// same weights.
#[test]
fn module_fit_over_dist_sync_keeps_both_workers_identical() {
    let Some((mpirun, example)) = mpi_training_setup("train_module") else {
        return;
    };
    let out_dir = std::env::temp_dir().join(format!("mxr-module-dist-{}", std::process::id()));
    let out = mpirun_two(
        &mpirun,
        &[
            example.to_str().expect("utf-8 path"),
            "--kvstore",
            "dist_sync",
            "--epochs",
            "1",
            "--parts",
            "10",
            "--out",
            out_dir.to_str().expect("utf-8 path"),
        ],
    );
    let stdout = success_stdout("mpirun", &out);
    let checksums: Vec<&str> = (0..2)
        .map(|rank| {
            let prefix = format!("rank {rank} of 2: weights checksum ");
            stdout
                .lines()
                .find_map(|l| l.strip_prefix(prefix.as_str()))
                .unwrap_or_else(|| panic!("no checksum of rank {rank} in:\n{stdout}"))
        })
        .collect();
    assert_eq!(checksums[0], checksums[1], "{stdout}");
    // Each worker read a 20th of the training set (its half of a tenth).
    assert_eq!(
        stdout
            .matches("3000 training and 10000 test images")
            .count(),
        2,
        "{stdout}"
    );
    assert!(out_dir.join("fashion_module-0001.params").exists());
    let _ = std::fs::remove_dir_all(&out_dir);
}

/// `train_mlp_dist` under mpirun (2 processes, `dist_sync`) ends with the weights of the same
/// training in one process over two contexts (`--contexts 2`, a local store): the same parts
/// of the data per worker, gradients summed, one SGD step per batch. Both save a checkpoint.
#[test]
fn train_mlp_dist_matches_one_process_over_two_contexts() {
    let Some((mpirun, example)) = mpi_training_setup("train_mlp_dist") else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("mxr-train-dist-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let prefix = |name: &str| dir.join(name).to_str().expect("utf-8 path").to_string();
    let (dist, local, init) = (prefix("dist"), prefix("local"), prefix("init"));
    let common = ["--epochs", "1", "--parts", "10", "--batch-size", "64"];
    let exe = example.to_str().expect("utf-8 path");

    let mut args = vec![exe];
    args.extend(common);
    args.extend(["--save", &dist]);
    let out = mpirun_two(&mpirun, &args);
    let stdout = success_stdout("mpirun", &out);
    assert!(stdout.contains("rank 0: saved"), "{stdout}");

    let one_process = |extra: &[&str]| {
        let out = Command::new(&example)
            .args(extra)
            .env("MXR_NUM_THREADS", "1")
            .output()
            .expect("train_mlp_dist starts");
        success_stdout("train_mlp_dist", &out)
    };
    let mut args = common.to_vec();
    args.extend(["--contexts", "2", "--save", &local]);
    let printed = one_process(&args);
    assert!(printed.contains("2 contexts: epoch 1:"), "{printed}");
    // The weights before any step (no epoch), to see that the training moved them.
    one_process(&["--epochs", "0", "--contexts", "2", "--save", &init]);

    let load = |prefix: &str, epoch: u32| -> Vec<(String, Vec<f32>)> {
        let (_, args, aux) = mxr::sym::load_checkpoint(prefix, epoch).unwrap();
        assert!(aux.is_empty());
        let mut args: Vec<(String, Vec<f32>)> = args
            .into_iter()
            .map(|(name, a)| (name, a.to_vec::<f32>().unwrap()))
            .collect();
        args.sort_by(|a, b| a.0.cmp(&b.0));
        args
    };
    let (dist, local, init) = (load(&dist, 1), load(&local, 1), load(&init, 0));
    let names: Vec<&str> = dist.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "fc1_bias",
            "fc1_weight",
            "fc2_bias",
            "fc2_weight",
            "fc3_bias",
            "fc3_weight"
        ]
    );
    let largest_difference = |a: &[(String, Vec<f32>)], b: &[(String, Vec<f32>)]| {
        a.iter()
            .zip(b)
            .flat_map(|((na, va), (nb, vb))| {
                assert_eq!((na, va.len()), (nb, vb.len()));
                va.iter().zip(vb).map(|(x, y)| (x - y).abs())
            })
            .fold(0f32, f32::max)
    };
    let apart = largest_difference(&dist, &local);
    assert!(
        apart <= 1e-5,
        "2 processes and 2 contexts differ by {apart}"
    );
    let moved = largest_difference(&dist, &init);
    assert!(moved > 1e-3, "training moved the weights by {moved} only");
    let _ = std::fs::remove_dir_all(&dir);
}
