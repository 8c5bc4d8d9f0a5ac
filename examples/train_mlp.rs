//! The main job: MXNet's docs MLP (784 → 128 relu → 64 relu → 10, SoftmaxOutput) trained on
//! Fashion-MNIST with the low-level loop of MXNet's docs — bind once, then per batch copy the
//! images and labels into the executor, forward, backward, and update every weight with SGD —
//! a test executor sharing the weights, per-epoch accuracy and samples/s, a checkpoint in
//! MXNet's `.params` format and a training-curve plot (SVG).
//!
//! With `--net lenet` it trains LeNet instead (Convolution 5×5×20 → tanh → max-pool →
//! Convolution 5×5×50 → tanh → max-pool → FullyConnected 500 → tanh → FullyConnected 10).
//!
//! Run: `./train` (installs Debian's dataset-fashion-mnist if missing), or
//! `cargo run --release --example train_mlp -- [--net mlp|lenet] [--epochs N] [--lr X]
//! [--batch-size B] [--out DIR] [--ctx cpu|gpu:N] [--profile FILE]`.
//!
//! `--profile trace.json` streams a Chrome trace of every engine operation to the file while
//! the job runs (open it in Perfetto or `chrome://tracing`), then prints the per-operator
//! statistics table (MXNet's `profiler.dumps()`) and the number of operations traced.
//! `MXR_PROFILE=trace.json ./train` writes the same trace without the table.
//!
//! `--ctx gpu:0` trains on the first GPU: the executors, weights, gradients and SGD updates live
//! there; each batch is copied from host memory. Without a GPU it stops with the reason (set
//! `MXR_GPU_EMULATE=1` to run the same code on the slow software emulator instead).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use mxr::engine::{Context, Engine, profiler};
use mxr::exec::{Executor, GradReq};
use mxr::init::{InitDesc, Initializer, Normal};
use mxr::io::{DataIter, LastBatchHandle, MNISTIter};
use mxr::metric::{Accuracy, EvalMetric};
use mxr::nd::{self, NDArray};
use mxr::optim::{Sgd, Updater};
use mxr::sym::{self, Symbol};

const DATA_DIR: &str = "/usr/share/datasets/fashion-mnist";

struct Options {
    lenet: bool,
    epochs: usize,
    lr: f64,
    batch: usize,
    out: PathBuf,
    data: PathBuf,
    ctx: Context,
    profile: Option<PathBuf>,
}

fn options() -> Result<Options, String> {
    let mut o = Options {
        lenet: false,
        epochs: 10,
        lr: 0.1,
        batch: 128,
        out: PathBuf::from("target/train_mlp"),
        data: PathBuf::from(std::env::var("FMNIST_DIR").unwrap_or_else(|_| DATA_DIR.into())),
        ctx: Context::cpu(0),
        profile: None,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let value = args
            .get(i + 1)
            .ok_or(format!("{} needs a value", args[i]))?;
        let bad = |e: &dyn std::fmt::Display| format!("{} {value}: {e}", args[i]);
        match args[i].as_str() {
            "--epochs" => o.epochs = value.parse().map_err(|e| bad(&e))?,
            "--lr" => o.lr = value.parse().map_err(|e| bad(&e))?,
            "--batch-size" => o.batch = value.parse().map_err(|e| bad(&e))?,
            "--out" => o.out = PathBuf::from(value),
            "--data" => o.data = PathBuf::from(value),
            "--profile" => o.profile = Some(PathBuf::from(value)),
            "--net" => {
                o.lenet = match value.as_str() {
                    "mlp" => false,
                    "lenet" => true,
                    other => return Err(format!("--net {other}: expected mlp or lenet")),
                }
            }
            "--ctx" => {
                o.ctx = match value.as_str() {
                    "cpu" => Context::cpu(0),
                    v => match v.strip_prefix("gpu:").and_then(|n| n.parse().ok()) {
                        Some(n) => Context::gpu(n),
                        None => return Err(format!("--ctx {v}: expected cpu or gpu:N")),
                    },
                }
            }
            other => return Err(format!("unknown option {other}")),
        }
        i += 2;
    }
    Ok(o)
}

/// data → fc1(128) → relu → fc2(64) → relu → fc3(10) → SoftmaxOutput("softmax"), as MXNet's
/// docs write it with `mx.sym`.
fn mlp() -> mxr::Result<Symbol> {
    let data = Symbol::variable("data");
    let fc1 = sym::fully_connected(&data, 128).name("fc1").build()?;
    let act1 = sym::activation(&fc1, "relu").name("relu1").build()?;
    let fc2 = sym::fully_connected(&act1, 64).name("fc2").build()?;
    let act2 = sym::activation(&fc2, "relu").name("relu2").build()?;
    let fc3 = sym::fully_connected(&act2, 10).name("fc3").build()?;
    sym::softmax_output(&fc3).name("softmax").build()
}

/// LeNet: two convolution + tanh + max-pool stages, then two fully connected layers.
fn lenet() -> mxr::Result<Symbol> {
    let data = Symbol::variable("data");
    let mut x = data;
    for (i, filters) in [(1, 20), (2, 50)] {
        let conv = sym::convolution(&x, &[5, 5], filters)
            .name(&format!("conv{i}"))
            .build()?;
        let act = sym::activation(&conv, "tanh")
            .name(&format!("tanh{i}"))
            .build()?;
        x = sym::pooling(&act, &[2, 2], "max")
            .param("stride", &[2usize, 2][..])
            .name(&format!("pool{i}"))
            .build()?;
    }
    let flat = sym::flatten(&x).name("flatten").build()?;
    let fc1 = sym::fully_connected(&flat, 500).name("fc1").build()?;
    let act = sym::activation(&fc1, "tanh").name("tanh3").build()?;
    let fc2 = sym::fully_connected(&act, 10).name("fc2").build()?;
    sym::softmax_output(&fc2).name("softmax").build()
}

fn iterator(
    dir: &Path,
    set: &str,
    batch: usize,
    train: bool,
    flat: bool,
) -> mxr::Result<MNISTIter> {
    MNISTIter::builder(
        dir.join(format!("{set}-images-idx3-ubyte.gz")),
        dir.join(format!("{set}-labels-idx1-ubyte.gz")),
    )
    .batch_size(batch)
    .flat(flat)
    .shuffle(train)
    .seed(42)
    .last_batch_handle(if train {
        LastBatchHandle::Discard
    } else {
        LastBatchHandle::Pad
    })
    .build()
}

/// Test accuracy with the inference executor, padding rows excluded.
fn evaluate(exe: &mut Executor, test: &mut MNISTIter) -> mxr::Result<f64> {
    test.reset()?;
    let mut metric = Accuracy::new();
    let (data, label) = (
        exe.arg_dict()["data"].clone(),
        exe.arg_dict()["softmax_label"].clone(),
    );
    while let Some(batch) = test.next_batch()? {
        data.assign(&batch.data[0])?;
        label.assign(&batch.label[0])?;
        exe.forward(false)?;
        let keep = test.batch_size() - batch.pad;
        let pred = exe.outputs()[0].slice(0, keep)?;
        metric.update(&[&batch.label[0].slice(0, keep)?], &[&pred])?;
    }
    Ok(metric.get().1)
}

/// The curves as a small SVG: accuracy per epoch (train and test).
fn plot(path: &Path, train: &[f64], test: &[f64]) -> std::io::Result<()> {
    let (w, h, m) = (640.0, 400.0, 50.0);
    let n = train.len().max(2) as f64 - 1.0;
    let lo = train
        .iter()
        .chain(test)
        .copied()
        .fold(1.0f64, f64::min)
        .min(0.7);
    let point = |i: usize, v: f64| {
        let x = m + (w - 2.0 * m) * i as f64 / n;
        let y = h - m - (h - 2.0 * m) * (v - lo) / (1.0 - lo);
        format!("{x:.1},{y:.1}")
    };
    let line = |values: &[f64], color: &str| {
        let pts: Vec<String> = values
            .iter()
            .enumerate()
            .map(|(i, &v)| point(i, v))
            .collect();
        format!(
            "<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"2\" points=\"{}\"/>",
            pts.join(" ")
        )
    };
    let svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"{m}\" y=\"30\" font-family=\"sans-serif\" font-size=\"16\">Fashion-MNIST: accuracy per epoch (blue: train, red: test)</text>\n\
         <line x1=\"{m}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"black\"/>\n\
         <line x1=\"{m}\" y1=\"{m}\" x2=\"{m}\" y2=\"{}\" stroke=\"black\"/>\n\
         <text x=\"5\" y=\"{}\" font-family=\"sans-serif\" font-size=\"12\">{lo:.2}</text>\n\
         <text x=\"5\" y=\"{}\" font-family=\"sans-serif\" font-size=\"12\">1.00</text>\n\
         {}\n{}\n</svg>\n",
        h - m,
        w - m,
        h - m,
        h - m,
        h - m,
        m + 4.0,
        line(train, "#1f77b4"),
        line(test, "#d62728"),
    );
    std::fs::write(path, svg)
}

/// Runs the job; an error is printed as one readable line (an unwritable `MXR_PROFILE` or
/// `--profile` path, a missing dataset) with a failure status.
fn main() -> ExitCode {
    match train() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("train_mlp: {e}");
            ExitCode::FAILURE
        }
    }
}

fn train() -> Result<(), Box<dyn std::error::Error>> {
    let o = options()?;
    if !o.data.join("train-images-idx3-ubyte.gz").exists() {
        return Err(format!(
            "Fashion-MNIST is not in {} (install Debian's dataset-fashion-mnist: ./train does it)",
            o.data.display()
        )
        .into());
    }
    // Started before any work, so that the trace has every operation of the job.
    let profiled_from = match &o.profile {
        Some(path) => {
            profiler::start(path)?;
            Some(Engine::global()?.operations_pushed())
        }
        None => None,
    };
    let mut train = iterator(&o.data, "train", o.batch, true, !o.lenet)?;
    let mut test = iterator(&o.data, "t10k", o.batch, false, !o.lenet)?;
    println!(
        "Fashion-MNIST: {} training and {} test images; batch {}, {} epochs, SGD lr {}",
        train.num_examples(),
        test.num_examples(),
        o.batch,
        o.epochs,
        o.lr
    );

    let symbol = if o.lenet { lenet()? } else { mlp()? };
    let net = symbol.to_graph()?;
    let ctx = o.ctx;
    let no_grad = ["data", "softmax_label"];
    let image: Vec<usize> = if o.lenet {
        vec![o.batch, 1, 28, 28]
    } else {
        vec![o.batch, 784]
    };
    let shapes: [(&str, &[usize]); 2] = [("data", &image), ("softmax_label", &[o.batch])];
    let mut exe = Executor::simple_bind(&net, ctx, &shapes, GradReq::Write, &no_grad)?;
    // The test executor shares every argument array (weights included) with the training one.
    let args = exe.arg_arrays().to_vec();
    let reqs = vec![GradReq::Null; args.len()];
    let mut test_exe = Executor::bind(&net, ctx, args, vec![None; reqs.len()], &reqs, vec![])?;

    // Weights from N(0, 0.02²), biases zero (MXNet's rules by name).
    nd::random::seed(7)?;
    let init = Normal::new(0.02);
    let names: Vec<String> = net
        .arguments()
        .iter()
        .map(|&n| net.nodes[n].name.clone())
        .collect();
    let params: Vec<(usize, String)> = names
        .iter()
        .enumerate()
        .filter(|(_, n)| !no_grad.contains(&n.as_str()))
        .map(|(i, n)| (i, n.clone()))
        .collect();
    for (i, name) in &params {
        init.initialize(&InitDesc::new(name.as_str()), &exe.arg_arrays()[*i])?;
    }
    let sgd = Sgd::new()
        .learning_rate(o.lr)
        .rescale_grad(1.0 / o.batch as f64);
    let mut updater = Updater::new(sgd);

    let (data, label) = (
        exe.arg_dict()["data"].clone(),
        exe.arg_dict()["softmax_label"].clone(),
    );
    let (mut train_curve, mut test_curve) = (Vec::new(), Vec::new());
    for epoch in 1..=o.epochs {
        train.reset()?;
        let mut metric = Accuracy::new();
        let start = Instant::now();
        let mut samples = 0;
        while let Some(batch) = train.next_batch()? {
            data.assign(&batch.data[0])?;
            label.assign(&batch.label[0])?;
            exe.forward(true)?;
            exe.backward(&[])?;
            for (i, _) in &params {
                let (Some(grad), weight) = (&exe.grad_arrays()[*i], &exe.arg_arrays()[*i]) else {
                    continue;
                };
                updater.update(*i, grad, weight)?;
            }
            metric.update(&[&batch.label[0]], &[&exe.outputs()[0]])?;
            samples += o.batch;
        }
        nd::waitall()?;
        let seconds = start.elapsed().as_secs_f64();
        let test_accuracy = evaluate(&mut test_exe, &mut test)?;
        let train_accuracy = metric.get().1;
        println!(
            "epoch {epoch}: train accuracy {train_accuracy:.4}, test accuracy {test_accuracy:.4}, {:.0} samples/s",
            samples as f64 / seconds
        );
        train_curve.push(train_accuracy);
        test_curve.push(test_accuracy);
    }

    std::fs::create_dir_all(&o.out)?;
    let prefix = if o.lenet {
        "fashion_lenet"
    } else {
        "fashion_mlp"
    };
    let checkpoint = o.out.join(format!("{prefix}-{:04}.params", o.epochs));
    let named: Vec<(String, NDArray)> = params
        .iter()
        .map(|(i, n)| (format!("arg:{n}"), exe.arg_arrays()[*i].clone()))
        .collect();
    nd::save_named(&checkpoint, &named)?;
    let symbol_file = o.out.join(format!("{prefix}-symbol.json"));
    symbol.save(&symbol_file)?;
    let curve = o.out.join("training_curve.svg");
    plot(&curve, &train_curve, &test_curve)?;
    println!(
        "final test accuracy {:.4}; checkpoint {} + {}; curve {}",
        test_curve.last().copied().unwrap_or(f64::NAN),
        symbol_file.display(),
        checkpoint.display(),
        curve.display()
    );
    if let (Some(before), Some(path)) = (profiled_from, &o.profile) {
        nd::waitall()?;
        let operations = Engine::global()?.operations_pushed() - before;
        profiler::stop()?;
        print!("{}", profiler::dumps(false)?);
        println!(
            "profile: {operations} operations traced to {}",
            path.display()
        );
    }
    Ok(())
}
