//! The examples' printed values (EXAMPLES.md scenarios), from the binaries `cargo test` builds.

use std::path::PathBuf;
use std::process::Command;

use mxr_test_support::{Missing, fashion_mnist_dir, skip};

/// Runs `target/<profile>/examples/<name>`, which `cargo test --workspace` (the README's test
/// command) builds beside the test binaries; `None` with a notice when it was not built (a run
/// restricted with `--test`).
fn run_example(name: &str) -> Option<String> {
    run_example_with(name, &[])
}

/// [`run_example`] with command-line arguments.
fn run_example_with(name: &str, args: &[&str]) -> Option<String> {
    run_example_env(name, args, &[])
}

/// The built example `name` (in the target directory of this test binary), or `None` where it
/// is not built: then the test skips, telling to run `build`.
pub(crate) fn built_example(name: &str, build: &str) -> Option<PathBuf> {
    let exe = std::env::current_exe().expect("the test binary has a path");
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps/<test>");
    let path = dir.join("examples").join(name);
    if !path.exists() {
        skip(
            Missing::Examples,
            &format!("example {name} not built; run `{build}`"),
        );
        return None;
    }
    Some(path)
}

/// [`run_example_with`] with extra environment variables.
fn run_example_env(name: &str, args: &[&str], env: &[(&str, &str)]) -> Option<String> {
    let path = built_example(name, "cargo test --workspace")?;
    let out = Command::new(&path)
        .args(args)
        .envs(env.iter().copied())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", path.display()));
    assert!(
        out.status.success(),
        "{name} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8(out.stdout).expect("examples print UTF-8"))
}

/// `mxr-{tag}-{pid}` in the temporary folder, and the same as a command-line argument.
fn temp_path(tag: &str) -> (PathBuf, String) {
    let path = std::env::temp_dir().join(format!("mxr-{tag}-{}", std::process::id()));
    let arg = path.to_string_lossy().into_owned();
    (path, arg)
}

#[test]
fn ndarray_basics_prints_mxnets_values() {
    let Some(out) = example_prints(
        "ndarray_basics",
        &[
            "zeros(10) on cpu(0): [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]",
            "empty((2, 3)) on cpu(0): shape [2, 3], context cpu(0)",
            "zeros((2, 3)): [0.0, 0.0, 0.0, 0.0, 0.0, 0.0]",
            "ones((2, 3)): [1.0, 1.0, 1.0, 1.0, 1.0, 1.0]",
            "c[:] = 2: [2.0, 2.0, 2.0, 2.0, 2.0, 2.0]",
            "as a host array: shape [2, 3], sum 12",
            "back from the host array: [2.0, 2.0, 2.0, 2.0, 2.0, 2.0]",
            "c[:] = uniform(-0.1, 0.1): all in range: true, equal to the host values: true",
            "loaded list: [0] = [2.0, 2.0, 2.0, 2.0, 2.0, 2.0], [1] = [3.0, 3.0, 3.0, 3.0, 3.0, 3.0]",
            "loaded dict: b = [3.0, 3.0, 3.0, 3.0, 3.0, 3.0]",
            "serde round trip: [7.0, 7.0]",
        ],
    ) else {
        return;
    };
    // Without a GPU the GPU steps print why (the example runs without the emulator).
    if !has_real_gpu() {
        for gpu in [
            "zeros(10) on gpu(0): error:",
            "empty((2, 3)) on gpu(0): error:",
            "empty((2, 3)) on gpu(2): error:",
        ] {
            let line = line_starting(&out, gpu);
            assert!(line.contains("no CUDA"), "{line}");
        }
    }
}

#[test]
fn engine_demo_computes_the_sum_and_isolates_the_failure() {
    let Some(out) = run_example("engine_demo") else {
        return;
    };
    assert!(
        out.contains("sum of 0..8388608 = 35184367894528 (expected 35184367894528)"),
        "{out}"
    );
    assert!(
        out.contains(
            "the unrelated failure surfaced where it was read: operation `divide_by_zero` failed"
        ),
        "{out}"
    );
}

#[test]
fn ndarray_ops_prints_mxnets_values() {
    let Some(out) = example_prints(
        "ndarray_ops",
        &[
            "c = (a*5 + b)/2: [3.0, 3.0, 3.0, 3.0, 3.0, 3.0, 3.0, 3.0, 3.0, 3.0]",
            "d = c + 1: [4.0, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0]",
            "a + b: [6.0, 6.0, 6.0, 6.0, 6.0, 6.0]",
            "a * b: [8.0, 8.0, 8.0, 8.0, 8.0, 8.0]",
            "moved to cpu(1) then multiplied: [6.0, 6.0, 6.0, 6.0, 6.0, 6.0]",
            "a: [6.0, 6.0, 6.0, 6.0, 6.0, 6.0]",
            "b: [6.0, 6.0, 6.0, 6.0, 6.0, 6.0]",
            "c: [3.0, 3.0, 3.0, 3.0, 3.0, 3.0]",
        ],
    ) else {
        return;
    };
    let gpu_steps = if has_real_gpu() {
        [
            ("copied to gpu(0)", ""),
            ("zeros in a gpu(0) scope: created", ""),
        ]
    } else {
        [
            ("copy to gpu(0): error:", "no CUDA"),
            ("zeros in a gpu(0) scope: error:", "no CUDA"),
        ]
    };
    for (prefix, needle) in gpu_steps.into_iter().chain([
        (
            "cpu(0) * cpu(1) without a copy: error:",
            "different contexts",
        ),
        (
            "in a cpu(1) scope: h [4, 16] on cpu(1), y [4, 10] on cpu(1)",
            "",
        ),
    ]) {
        let line = line_starting(&out, prefix);
        assert!(line.contains(needle), "{line}");
    }
}

#[test]
fn the_main_job_trains_and_saves_a_checkpoint_mxnet_loads() {
    if fashion_mnist_dir().is_none() {
        return;
    }
    let (out_dir, out_arg) = temp_path("train");
    let trace = out_dir.with_extension("json");
    let trace_arg = trace.to_string_lossy().into_owned();
    let args = ["--epochs", "1", "--out", &out_arg, "--profile", &trace_arg];
    let Some(out) = run_example_with("train_mlp", &args) else {
        return;
    };
    let test_accuracy = first_epoch_test_accuracy(&out);
    check_profile(&out, &trace);
    std::fs::remove_file(&trace).unwrap();
    assert!(test_accuracy > 0.65, "one epoch reaches {test_accuracy}");
    assert!(out_dir.join("fashion_mlp-0001.params").exists());
    let curve = std::fs::read_to_string(out_dir.join("training_curve.svg")).unwrap();
    assert!(curve.contains("<polyline"));
    if let Some(python) = crate::params::mxnet_python() {
        let script = format!(
            "import mxnet as mx; s, a, x = mx.model.load_checkpoint('{}', 1); \\
             print(s.list_arguments()); print(sorted((k, v.shape) for k, v in a.items()))",
            out_dir.join("fashion_mlp").display()
        );
        let run = Command::new(python).args(["-c", &script]).output().unwrap();
        let printed = String::from_utf8_lossy(&run.stdout);
        assert!(
            run.status.success(),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
        let arguments = "['data', 'fc1_weight', 'fc1_bias', 'fc2_weight', 'fc2_bias', \
                         'fc3_weight', 'fc3_bias', 'softmax_label']";
        assert!(printed.contains(arguments), "{printed}");
        assert!(printed.contains("('fc1_weight', (128, 784))"), "{printed}");
        assert!(printed.contains("('fc3_bias', (10,))"), "{printed}");
    }
    let _ = std::fs::remove_dir_all(&out_dir);
}

/// The training curve of a tiny run (3 epochs on a 30th of the data) is an SVG document with
/// the axes' descriptions, one tick per epoch, a legend, and each series drawn through its
/// per-epoch values (the order of the points' heights follows the printed values).
#[test]
fn the_main_job_draws_its_training_curve() {
    if fashion_mnist_dir().is_none() {
        return;
    }
    let (out_dir, out_arg) = temp_path("train-curve");
    let args = ["--epochs", "3", "--parts", "30", "--out", &out_arg];
    let Some(out) = run_example_with("train_mlp", &args) else {
        return;
    };
    assert!(out.contains("2000 training and 10000 test images"), "{out}");
    // epoch N: train accuracy A, train loss L, test accuracy T, S samples/s
    let value = |line: &str, key: &str| -> f64 {
        line.split(key)
            .nth(1)
            .and_then(|r| r.split(',').next())
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {key} in {line}"))
    };
    let epochs: Vec<&str> = out.lines().filter(|l| l.starts_with("epoch ")).collect();
    assert_eq!(epochs.len(), 3, "{out}");
    let printed = |key: &str| -> Vec<f64> { epochs.iter().map(|l| value(l, key)).collect() };
    let series = [
        ("train accuracy", "#1F77B4", printed("train accuracy ")),
        ("test accuracy", "#D62728", printed("test accuracy ")),
        (
            "training loss (right axis)",
            "#555555",
            printed("train loss "),
        ),
    ];

    let text = std::fs::read_to_string(out_dir.join("training_curve.svg")).unwrap();
    let svg = roxmltree::Document::parse(&text).unwrap_or_else(|e| panic!("not XML: {e}"));
    assert_eq!(svg.root_element().tag_name().name(), "svg");
    let texts: Vec<String> = svg
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .map(|n| n.text().unwrap_or("").trim().to_string())
        .collect();
    for label in [
        "epoch",
        "accuracy",
        "training loss (cross-entropy)",
        "1",
        "2",
        "3",
    ]
    .into_iter()
    .chain(series.iter().map(|(label, _, _)| *label))
    {
        assert!(
            texts.iter().any(|t| t == label),
            "no text {label:?} in {texts:?}"
        );
    }
    assert!(
        !texts.iter().any(|t| t == "4"),
        "a tick past the last epoch: {texts:?}"
    );
    for (label, color, values) in &series {
        // The series' line: a polyline of that colour through 3 points (the legend's sample
        // line has 2).
        let line = svg
            .descendants()
            .filter(|n| n.has_tag_name("polyline") && n.attribute("stroke") == Some(color))
            .filter_map(|n| n.attribute("points"))
            .map(|points| {
                points
                    .split_whitespace()
                    .map(|p| {
                        let (x, y) = p.split_once(',').expect("x,y");
                        (x.parse::<f64>().unwrap(), y.parse::<f64>().unwrap())
                    })
                    .collect::<Vec<_>>()
            })
            .find(|points| points.len() == 3)
            .unwrap_or_else(|| panic!("no 3-point line for {label} ({color})"));
        assert!(
            line.windows(2).all(|w| w[0].0 < w[1].0),
            "{label}: {line:?}"
        );
        for i in 0..3 {
            for j in 0..3 {
                // A larger value is drawn higher (a smaller y), beyond a pixel's worth.
                if values[i] > values[j] + 0.01 {
                    assert!(
                        line[i].1 < line[j].1,
                        "{label}: {values:?} drawn as {line:?}"
                    );
                }
            }
        }
    }
    let _ = std::fs::remove_dir_all(&out_dir);
}

/// Issue 17's end-to-end numerics check: WORKLOADS.md's W4 recipe (the docs MLP; 5 epochs of
/// plain SGD, lr 0.1 on the mean gradient, over the training images in file order, from numpy's
/// `RandomState(1234)` weights) trained by mxr (`train_mlp --recipe w4`, whose products and data
/// decoding are built optimised in the test profile: see Cargo.toml) and, at the same time, by
/// MXNet 1.9.1 in `.venv` (tests/frontend/w4_mxnet.py: the network, data, weights and loop of
/// benches/mxnet/mxnet_baseline.py). Each epoch's training loss (the cross-entropy metric over
/// the epoch's batches) agrees within 1e-3 relative, and at least 99% of the 10,000 test
/// predictions are the same.
///
/// The two runs differ only by rounding (sums in another order): the first step's outputs and
/// gradients agree to a few ulps, and the differences grow as training goes on. MXNet on two
/// OpenMP threads differs from itself on one by 5e-4 in the fifth epoch's loss, with 99.2% of
/// the predictions the same, about as far as mxr is from it (9e-4, 99.2%); the first epoch is
/// held to 1e-4 (MXNet against itself: 4e-5; mxr: 4e-7), which a systematic difference, such as
/// scaling the pixels by 1/256 (1.2e-3 there), would not meet.
#[test]
fn w4_training_reproduces_mxnet() {
    let Some(data) = fashion_mnist_dir() else {
        return;
    };
    let Some(python) = crate::params::mxnet_python() else {
        return;
    };
    let epochs = 5;
    // MXNet on one OpenMP thread: its reference run (test accuracy 0.8466; on two threads its
    // products sum in another order, and it reaches 0.8456).
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/frontend/w4_mxnet.py");
    let mut mxnet = Command::new(python)
        .arg(&script)
        .arg(epochs.to_string())
        .env("FMNIST_DIR", &data)
        .env("OMP_NUM_THREADS", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python starts");

    let (out_dir, out_arg) = temp_path("w4");
    let predictions = out_dir.join("predictions.txt");
    let pred_arg = predictions.to_string_lossy().into_owned();
    let args = [
        "--recipe",
        "w4",
        "--epochs",
        &epochs.to_string(),
        "--out",
        &out_arg,
        "--predictions",
        &pred_arg,
    ];
    let Some(printed) = run_example_with("train_mlp", &args) else {
        let _ = mxnet.kill();
        let _ = mxnet.wait();
        return;
    };
    let mxnet = mxnet.wait_with_output().expect("MXNet's run ends");
    assert!(
        mxnet.status.success(),
        "MXNet failed: {}",
        String::from_utf8_lossy(&mxnet.stderr)
    );
    let reference: serde_json::Value =
        serde_json::from_slice(&mxnet.stdout).expect("MXNet prints JSON");
    let numbers = |key: &str| -> Vec<f64> {
        reference[key]
            .as_array()
            .unwrap_or_else(|| panic!("no {key} from MXNet"))
            .iter()
            .map(|v| v.as_f64().expect("a number"))
            .collect()
    };

    // mxr prints `epoch N: train accuracy A, train loss L, ...` per epoch.
    let loss: Vec<f64> = printed
        .lines()
        .filter(|l| l.starts_with("epoch "))
        .map(|l| {
            l.split("train loss ")
                .nth(1)
                .and_then(|r| r.split(',').next())
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("no train loss in {l}"))
        })
        .collect();
    let mxnet_loss = numbers("loss");
    assert_eq!(
        (loss.len(), mxnet_loss.len()),
        (epochs, epochs),
        "{printed}"
    );
    for (epoch, (a, b)) in loss.iter().zip(&mxnet_loss).enumerate() {
        let relative = (a - b).abs() / b.abs();
        let tolerance = if epoch == 0 { 1e-4 } else { 1e-3 };
        assert!(
            relative <= tolerance,
            "epoch {}: training loss {a} against MXNet's {b} (relative difference {relative:.2e}, \
             tolerance {tolerance:.0e})\nmxr: {loss:?}\nMXNet: {mxnet_loss:?}",
            epoch + 1
        );
    }

    let predicted: Vec<f64> = std::fs::read_to_string(&predictions)
        .expect("train_mlp wrote its predictions")
        .lines()
        .map(|l| l.parse().expect("a class per line"))
        .collect();
    let mxnet_predicted = numbers("predictions");
    assert_eq!((predicted.len(), mxnet_predicted.len()), (10_000, 10_000));
    let same = predicted
        .iter()
        .zip(&mxnet_predicted)
        .filter(|(a, b)| a == b)
        .count();
    assert!(
        same * 100 >= predicted.len() * 99,
        "{same} of 10000 test predictions are MXNet's (at least 99% must be)"
    );
    eprintln!(
        "W4: training loss {loss:?}, MXNet's {mxnet_loss:?}; {same} of 10000 test predictions \
         the same (MXNet's test accuracy {})",
        reference["accuracy"]
    );
    let _ = std::fs::remove_dir_all(&out_dir);
}

#[test]
fn the_main_job_trains_on_a_gpu_context() {
    if fashion_mnist_dir().is_none() {
        return;
    }
    // The real gpu(0) where there is one; else the emulator, which runs the same GPU code.
    let env: &[(&str, &str)] = if has_real_gpu() {
        &[]
    } else {
        eprintln!("notice: no GPU; `train_mlp --ctx gpu:0` runs on the emulator");
        &[("MXR_GPU_EMULATE", "1")]
    };
    let (out_dir, out_arg) = temp_path("train-gpu");
    let args = ["--ctx", "gpu:0", "--epochs", "1", "--out", &out_arg];
    let Some(out) = run_example_env("train_mlp", &args, env) else {
        return;
    };
    let test_accuracy = first_epoch_test_accuracy(&out);
    assert!(
        test_accuracy > 0.65,
        "one epoch on gpu(0) reaches {test_accuracy}"
    );
    // The checkpoint saved from GPU arrays loads like any other.
    let params = mxr::nd::load(out_dir.join("fashion_mlp-0001.params")).unwrap();
    let mxr::nd::Loaded::Named(named) = params else {
        panic!("named arrays expected")
    };
    let w = &named.iter().find(|(n, _)| n == "arg:fc1_weight").unwrap().1;
    assert_eq!(w.shape(), &[128, 784]);
    assert!(w.to_vec::<f32>().unwrap().iter().all(|v| v.is_finite()));
    let _ = std::fs::remove_dir_all(&out_dir);
}

#[test]
fn symbol_basics_prints_mxnets_values() {
    example_prints(
        "symbol_basics",
        &[
            "   arguments: ['A', 'B']",
            "   outputs: ['_plusscalar0_output']",
            "   arg shapes: [(10,), (10,)]",
            "   out shapes: [(10,)]",
            "   aux shapes: []",
            "   fc1 arguments: ['data', 'fc1_weight', 'fc1_bias']",
            "   fc1 arg shapes: [(100, 100), (10, 100), (10,)]",
            "   fc1 out shapes: [(100, 10)]",
            "13. perceptron arguments: ['data', 'fc1_weight', 'fc1_bias', 'fc2_weight', 'fc2_bias', \
         'out_label']",
            "14. with weight=myweight: ['data', 'myweight', 'fc1_bias']",
            "   over data1 + data2: ['data1', 'data2', 'fc1_weight', 'fc1_bias']",
            "15. composed arguments: ['data2', 'net2_weight', 'net2_bias', 'fc1_weight', 'fc1_bias']",
            "   composed outputs: ['compose_output']",
            "16. classifier arguments: ['data', 'fc1_weight', 'fc1_bias', 'fc2_weight', 'fc2_bias', \
         'fc3_weight', 'fc3_bias', 'softmax_label']",
            "   classifier arg shapes: [(128, 784), (128, 784), (128,), (64, 128), (64,), (10, 64), \
         (10,), (128,)]",
            "   classifier out shapes: [(128, 10)]",
            // MXNet 1.9.1's tojson() of the same network is 2009 bytes.
            "   classifier JSON: 2009 bytes",
        ],
    );
}

#[test]
fn symbol_bind_prints_mxnets_values() {
    example_prints(
        "symbol_bind",
        &[
            "C = A * B: [8.0, 8.0, 8.0]",
            "d's output: [\"_plusscalar0_output\"]",
            "d from random arguments equals (A*5 + B)/2 + 1: true",
            "gradient of A: [2.5, 2.5, 2.5, 2.5]",
            "gradient of B: [0.5, 0.5, 0.5, 0.5]",
        ],
    );
}

#[test]
fn the_module_example_fits_scores_and_saves() {
    if fashion_mnist_dir().is_none() {
        return;
    }
    let (out_dir, out_arg) = temp_path("module-ex");
    let args = [
        "--epochs",
        "2",
        "--parts",
        "10",
        "--optimizer",
        "adam",
        "--out",
        &out_arg,
    ];
    let Some(out) = run_example_with("train_module", &args) else {
        return;
    };
    assert!(out.contains("6000 training and 10000 test images"), "{out}");
    assert!(out.contains("adam lr 0.001"), "{out}");
    let accuracy = |line: &str, key: &str| -> f64 {
        line.split(key)
            .nth(1)
            .and_then(|r| r.split([',', ';']).next())
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {key} in {line}"))
    };
    let epoch2 = line_starting(&out, "epoch 2:");
    let eval = accuracy(epoch2, "test accuracy ");
    assert!(eval > 0.6, "two epochs on 6000 images reach {eval}");
    let score = line_starting(&out, "score:");
    // score() over the same test set gives the last epoch's evaluation.
    assert!(
        (accuracy(score, "test accuracy ") - eval).abs() < 1e-4,
        "{out}"
    );
    assert!(out_dir.join("fashion_module-0002.params").exists());
    assert!(out_dir.join("fashion_module-symbol.json").exists());
    let _ = std::fs::remove_dir_all(&out_dir);
}

#[test]
fn the_gluon_mnist_example_trains_imperatively_and_hybridized_alike() {
    if fashion_mnist_dir().is_none() {
        return;
    }
    let Some(out) = run_example_with("gluon_mnist", &["--epochs", "1", "--parts", "10"]) else {
        return;
    };
    assert!(out.contains("6000 training and 10000 test images"), "{out}");
    let test_accuracy = |mode: &str| -> f64 {
        let line = line_starting(&out, &format!("{mode} epoch 1:"));
        line.split("test accuracy ")
            .nth(1)
            .and_then(|r| r.split(',').next())
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no test accuracy in {line}"))
    };
    let (imperative, hybridized) = (test_accuracy("imperative"), test_accuracy("hybridized"));
    assert!(
        imperative > 0.6,
        "one epoch on 6000 images reaches {imperative}"
    );
    // The same seed, weights and batches: the bound graph computes what the tape does.
    assert!((imperative - hybridized).abs() < 2e-3, "{out}");
}

#[test]
fn the_gluon_export_example_writes_a_checkpoint_mxr_loads() {
    let (out_dir, out_arg) = temp_path("gluon-export");
    let args = ["--net", "mobilenet1_0", "--out", &out_arg];
    if run_example_with("gluon_export", &args).is_none() {
        return;
    }
    let prefix = out_dir.join("mobilenet1_0");
    let (symbol, args, aux) = mxr::sym::load_checkpoint(prefix.to_str().unwrap(), 0).unwrap();
    let arguments = symbol.list_arguments();
    assert_eq!(arguments[0], "data");
    assert!(
        arguments.contains(&"mobilenet0_conv0_weight".to_owned()),
        "{arguments:?}"
    );
    // Every argument but the data has its value; the BatchNorm statistics are auxiliary.
    assert_eq!(args.len(), arguments.len() - 1);
    assert_eq!(aux.len(), symbol.list_auxiliary_states().len());
    assert!(aux.iter().any(|(k, _)| k.ends_with("_running_mean")));
    let _ = std::fs::remove_dir_all(&out_dir);
}

#[test]
fn kvstore_walk_through_prints_scenario_19() {
    example_prints(
        "kvstore",
        &[
            "init 3 with ones*2, pull: [2.0, 2.0, 2.0, 2.0, 2.0, 2.0]",
            "push ones*8, pull: [8.0, 8.0, 8.0, 8.0, 8.0, 8.0]",
            "push four ones (cpu(0)..cpu(3)), pull: [4.0, 4.0, 4.0, 4.0, 4.0, 4.0]",
            "set updater stored += input*2, pull: [4.0, 4.0, 4.0, 4.0, 4.0, 4.0]",
            "push ones, pull: [6.0, 6.0, 6.0, 6.0, 6.0, 6.0]",
            "pull into cpu(0): [6.0, 6.0, 6.0, 6.0, 6.0, 6.0]",
            "pull into cpu(3): [6.0, 6.0, 6.0, 6.0, 6.0, 6.0]",
            "keys [5, 7, 9]: push ones, pull key 7: [3.0, 3.0, 3.0, 3.0, 3.0, 3.0]",
            "keys [5, 7, 9]: push four ones each, pull key 9: [11.0, 11.0, 11.0, 11.0, 11.0, 11.0]",
        ],
    );
}

/// `train_mlp --profile`: the trace has one complete event per operation the job pushed (the
/// count it prints, from the engine's own counter), and the statistics table covers them.
/// Runs the example `name` (see [`run_example`]) and asserts that every one of `expect` is a
/// whole line of its output; the output, or `None` where the example cannot run here.
fn example_prints(name: &str, expect: &[&str]) -> Option<String> {
    let out = run_example(name)?;
    for line in expect {
        assert!(
            out.lines().any(|l| l == *line),
            "missing line {line:?} in:\n{out}"
        );
    }
    Some(out)
}

/// The first line of `out` that starts with `prefix`; panics, showing `out`, where none does.
fn line_starting<'a>(out: &'a str, prefix: &str) -> &'a str {
    out.lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no line starting with {prefix:?} in:\n{out}"))
}

fn check_profile(out: &str, trace: &std::path::Path) {
    let line = line_starting(out, "profile: ");
    let operations: usize = line["profile: ".len()..]
        .split(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count in {line}"));
    let text = std::fs::read_to_string(trace).unwrap();
    // An unterminated array: drop the trailing `,\n` and close it.
    let body = text.strip_suffix(",\n").unwrap_or(&text);
    let events: serde_json::Value = serde_json::from_str(&format!("{body}]")).unwrap();
    let complete: Vec<&serde_json::Value> = events
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["ph"] == "X")
        .collect();
    assert!(operations > 1000, "{line}");
    assert_eq!(complete.len(), operations, "{line}");
    // The table's counts add up to the same number.
    let counted: usize = out
        .lines()
        .skip_while(|l| !l.starts_with("----"))
        .skip(1)
        .take_while(|l| !l.starts_with("profile: "))
        .map(|l| {
            // Name (which may hold spaces), count, then four times.
            let cells: Vec<&str> = l.split_whitespace().collect();
            cells[cells.len() - 5].parse::<usize>().unwrap()
        })
        .sum();
    assert_eq!(counted, operations, "{out}");
    assert!(complete.iter().any(|e| e["name"] == "FullyConnected"));
}

/// Whether this machine has a real GPU (examples run without the emulator).
fn has_real_gpu() -> bool {
    mxr::engine::gpu::driver_device_count().is_ok_and(|n| n > 0)
}

/// The test accuracy that `train_mlp` prints for epoch 1.
fn first_epoch_test_accuracy(out: &str) -> f64 {
    let line = line_starting(out, "epoch 1: train accuracy");
    line.split("test accuracy ")
        .nth(1)
        .and_then(|r| r.split(',').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no test accuracy in {line}"))
}
