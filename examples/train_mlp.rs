//! The main job: MXNet's docs MLP (784 → 128 relu → 64 relu → 10, SoftmaxOutput) trained on
//! Fashion-MNIST with the low-level loop of MXNet's docs — bind once, then per batch copy the
//! images and labels into the executor, forward, backward, and update every weight with SGD —
//! a test executor sharing the weights, per-epoch accuracy, loss and samples/s, a checkpoint in
//! MXNet's `.params` format and a training-curve plot (SVG).
//!
//! With `--net lenet` it trains LeNet instead (Convolution 5×5×20 → tanh → max-pool →
//! Convolution 5×5×50 → tanh → max-pool → FullyConnected 500 → tanh → FullyConnected 10).
//!
//! Run: `./train` (installs Debian's dataset-fashion-mnist if missing), or
//! `cargo run --release --example train_mlp -- [--net mlp|lenet] [--epochs N] [--lr X]
//! [--batch-size B] [--parts K] [--out DIR] [--ctx cpu|gpu:N] [--profile FILE]` (`--parts K`
//! trains on a K-th of the training set, for a quick run).
//!
//! The training curve, `training_curve.svg` in the output folder, is drawn with plotters: the
//! train and test accuracy per epoch on the left axis, the training loss (mean cross-entropy
//! of the epoch's batches) on a second axis on the right, a legend.
//!
//! `--profile trace.json` streams a Chrome trace of every engine operation to the file while
//! the job runs (open it in Perfetto or `chrome://tracing`), then prints the per-operator
//! statistics table (MXNet's `profiler.dumps()`) and the number of operations traced.
//! `MXR_PROFILE=trace.json ./train` writes the same trace without the table.
//!
//! `--recipe w4` trains MXNet's reference run instead, WORKLOADS.md's W4 as
//! `benches/mxnet/mxnet_baseline.py` runs it in MXNet: pixels scaled by 1/255 (not
//! `MNISTIter`'s 1/256), the training images in file order with no shuffling (the last partial
//! batch dropped), weights uniform(-0.07, 0.07) from numpy's `RandomState(1234)` in argument
//! order and zero biases (`NumpyRandomState`), and plain SGD on the mean gradient; MXNet 1.9.1
//! reaches test accuracy 0.8466 after 5 epochs (`--epochs 5`). `--predictions FILE` writes the
//! final test predictions, one class per line (a test compares them with MXNet's).
//!
//! `--ctx gpu:0` trains on the first GPU: the executors, weights, gradients and SGD updates live
//! there; each batch is copied from host memory. Without a GPU it stops with the reason (set
//! `MXR_GPU_EMULATE=1` to run the same code on the slow software emulator instead).

mod common;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use mxr::engine::{Context, Engine, profiler};
use mxr::exec::{Executor, GradReq};
use mxr::init::{InitDesc, Initializer, Normal, NumpyRandomState};
use mxr::io::{DataIter, LastBatchHandle, MNISTIter, NDArrayIter};
use mxr::metric::{Accuracy, CrossEntropy, EvalMetric};
use mxr::nd::{self, NDArray};
use mxr::optim::{Sgd, Updater};
use mxr::sym::{self, Symbol};

const DATA_DIR: &str = "/usr/share/datasets/fashion-mnist";

struct Options {
    lenet: bool,
    epochs: usize,
    lr: f64,
    batch: usize,
    parts: usize,
    out: PathBuf,
    data: PathBuf,
    ctx: Context,
    profile: Option<PathBuf>,
    w4: bool,
    predictions: Option<PathBuf>,
}

fn options() -> Result<Options, String> {
    let mut o = Options {
        lenet: false,
        epochs: 10,
        lr: 0.1,
        batch: 128,
        parts: 1,
        out: PathBuf::from("target/train_mlp"),
        data: PathBuf::from(std::env::var("FMNIST_DIR").unwrap_or_else(|_| DATA_DIR.into())),
        ctx: Context::cpu(0),
        profile: None,
        w4: false,
        predictions: None,
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
            "--parts" => o.parts = value.parse().map_err(|e| bad(&e))?,
            "--out" => o.out = PathBuf::from(value),
            "--data" => o.data = PathBuf::from(value),
            "--profile" => o.profile = Some(PathBuf::from(value)),
            "--predictions" => o.predictions = Some(PathBuf::from(value)),
            "--recipe" => {
                o.w4 = match value.as_str() {
                    "w4" => true,
                    other => return Err(format!("--recipe {other}: the one recipe is w4")),
                }
            }
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
    if o.w4 && (o.lenet || o.parts != 1) {
        return Err("--recipe w4 trains the MLP on the whole training set".into());
    }
    Ok(o)
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

/// The images of `set`; for training, shuffled and only the first of `parts` parts.
fn iterator(
    dir: &Path,
    set: &str,
    batch: usize,
    train: bool,
    flat: bool,
    parts: usize,
) -> mxr::Result<MNISTIter> {
    common::mnist(dir, set, batch, train)
        .flat(flat)
        .parts(if train { parts } else { 1 }, 0)
        .build()
}

/// W4's iterator over `set`: pixels / 255 as (N, 784) float32 (`mxnet_baseline.py`'s
/// `fmnist()`), in file order; the training set drops its last partial batch.
fn w4_iterator(dir: &Path, set: &str, batch: usize, train: bool) -> mxr::Result<NDArrayIter> {
    let (n, rows, cols, pixels) =
        mxr::io::read_idx_images(dir.join(format!("{set}-images-idx3-ubyte.gz")))?;
    let labels = mxr::io::read_idx_labels(dir.join(format!("{set}-labels-idx1-ubyte.gz")))?;
    let x = pixels.iter().map(|&p| f32::from(p) / 255.0).collect();
    let y = labels.iter().map(|&l| f32::from(l)).collect();
    let x = NDArray::from_vec(&[n, rows * cols], x)?;
    let y = NDArray::from_vec(&[labels.len()], y)?;
    Ok(NDArrayIter::new(x, y, batch)?.last_batch_handle(if train {
        LastBatchHandle::Discard
    } else {
        LastBatchHandle::Pad
    }))
}

/// The training curve as an SVG (plotters' SVG backend): per epoch (one tick each), the train
/// and test accuracy on the left axis and the training loss (mean cross-entropy) on a second
/// axis on the right, with a legend.
fn plot(path: &Path, train: &[f64], test: &[f64], loss: &[f64]) -> Result<(), String> {
    use plotters::prelude::*;
    let epochs = u32::try_from(train.len()).map_err(|e| e.to_string())?;
    // The accuracy axis from a tenth below the lowest value (at most 0.5) to 1.
    let lowest = train.iter().chain(test).copied().fold(0.5f64, f64::min);
    let low = (lowest * 10.0).floor() / 10.0;
    let high_loss = loss.iter().copied().fold(0.0f64, f64::max).max(0.1) * 1.1;
    let root = SVGBackend::new(path, (800, 500)).into_drawing_area();
    let err = |e: &dyn std::fmt::Display| format!("drawing {}: {e}", path.display());
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let mut chart = ChartBuilder::on(&root)
        .caption("Fashion-MNIST: training curve", ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(55)
        .right_y_label_area_size(55)
        // Plotters' integer ranges include their end: one segment per epoch, 1 to `epochs`.
        .build_cartesian_2d((1..epochs).into_segmented(), low..1.0)
        .map_err(|e| err(&e))?
        .set_secondary_coord((1..epochs).into_segmented(), 0.0..high_loss);
    chart
        .configure_mesh()
        .x_desc("epoch")
        .y_desc("accuracy")
        .x_labels(train.len())
        .light_line_style(TRANSPARENT)
        .y_label_formatter(&|v| format!("{v:.2}"))
        .draw()
        .map_err(|e| err(&e))?;
    chart
        .configure_secondary_axes()
        .y_desc("training loss (cross-entropy)")
        .y_label_formatter(&|v| format!("{v:.2}"))
        .draw()
        .map_err(|e| err(&e))?;
    let at = |values: &[f64]| -> Vec<(SegmentValue<u32>, f64)> {
        (1..)
            .zip(values)
            .map(|(e, &v)| (SegmentValue::CenterOf(e), v))
            .collect()
    };
    let blue = RGBColor(0x1f, 0x77, 0xb4);
    let red = RGBColor(0xd6, 0x27, 0x28);
    let gray = RGBColor(0x55, 0x55, 0x55);
    for (label, values, color) in [
        ("train accuracy", train, blue),
        ("test accuracy", test, red),
    ] {
        chart
            .draw_series(LineSeries::new(at(values), color.stroke_width(2)).point_size(3))
            .map_err(|e| err(&e))?
            .label(label)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
    }
    chart
        .draw_secondary_series(LineSeries::new(at(loss), gray.stroke_width(2)).point_size(3))
        .map_err(|e| err(&e))?
        .label("training loss (right axis)")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], gray.stroke_width(2)));
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::MiddleRight)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(|e| err(&e))?;
    root.present().map_err(|e| err(&e))
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
    common::require_data(
        &o.data,
        "install Debian's dataset-fashion-mnist: ./train does it",
    )?;
    // Started before any work, so that the trace has every operation of the job.
    let profiled_from = match &o.profile {
        Some(path) => {
            profiler::start(path)?;
            Some(Engine::global()?.operations_pushed())
        }
        None => None,
    };
    type Iter = Box<dyn DataIter>;
    let (mut train, mut test, n_train, n_test): (Iter, Iter, usize, usize) = if o.w4 {
        let train = w4_iterator(&o.data, "train", o.batch, true)?;
        let test = w4_iterator(&o.data, "t10k", o.batch, false)?;
        let (n_train, n_test) = (train.num_data(), test.num_data());
        (Box::new(train), Box::new(test), n_train, n_test)
    } else {
        let train = iterator(&o.data, "train", o.batch, true, !o.lenet, o.parts)?;
        let test = iterator(&o.data, "t10k", o.batch, false, !o.lenet, 1)?;
        let (n_train, n_test) = (train.num_examples(), test.num_examples());
        (Box::new(train), Box::new(test), n_train, n_test)
    };
    println!(
        "Fashion-MNIST: {n_train} training and {n_test} test images{}; batch {}, {} epochs, \
         SGD lr {}",
        if o.w4 { " (recipe W4)" } else { "" },
        o.batch,
        o.epochs,
        o.lr
    );

    let symbol = if o.lenet { lenet()? } else { common::mlp()? };
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
    // W4: numpy's RandomState(1234).uniform(-0.07, 0.07) for the weights in argument order
    // (fc1, fc2, fc3), zero biases, as MXNet's reference run draws them.
    let mut numpy = NumpyRandomState::new(1234);
    for (i, name) in &params {
        let array = &exe.arg_arrays()[*i];
        if !o.w4 {
            init.initialize(&InitDesc::new(name.as_str()), array)?;
        } else if name.ends_with("_weight") {
            array.assign_slice(&numpy.uniform_f32(-0.07, 0.07, array.size()))?;
        } else {
            array.assign_scalar(0.0)?;
        }
    }
    let sgd = Sgd::new()
        .learning_rate(o.lr)
        .rescale_grad(1.0 / o.batch as f64);
    let mut updater = Updater::new(sgd);

    let (data, label) = (
        exe.arg_dict()["data"].clone(),
        exe.arg_dict()["softmax_label"].clone(),
    );
    let (mut train_curve, mut test_curve, mut loss_curve) = (Vec::new(), Vec::new(), Vec::new());
    let mut predictions = Vec::new();
    for epoch in 1..=o.epochs {
        train.reset()?;
        let mut metric = Accuracy::new();
        let mut loss = CrossEntropy::new();
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
            loss.update(&[&batch.label[0]], &[&exe.outputs()[0]])?;
            samples += o.batch;
        }
        nd::waitall()?;
        let seconds = start.elapsed().as_secs_f64();
        let last = (epoch == o.epochs).then_some(&mut predictions);
        let test_accuracy = common::evaluate(&mut test_exe, test.as_mut(), last)?;
        let (train_accuracy, train_loss) = (metric.get().1, loss.get().1);
        println!(
            "epoch {epoch}: train accuracy {train_accuracy:.4}, train loss {train_loss:.6}, \
             test accuracy {test_accuracy:.4}, {:.0} samples/s",
            samples as f64 / seconds
        );
        train_curve.push(train_accuracy);
        test_curve.push(test_accuracy);
        loss_curve.push(train_loss);
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
    plot(&curve, &train_curve, &test_curve, &loss_curve)?;
    println!(
        "final test accuracy {:.4}; checkpoint {} + {}; curve {}",
        test_curve.last().copied().unwrap_or(f64::NAN),
        symbol_file.display(),
        checkpoint.display(),
        curve.display()
    );
    if let Some(path) = &o.predictions {
        let lines: String = predictions.iter().map(|c| format!("{c}\n")).collect();
        std::fs::write(path, lines)?;
        println!(
            "{} test predictions written to {}",
            predictions.len(),
            path.display()
        );
    }
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
