//! The Gluon MNIST tutorial's MLP (Dense 128 relu → Dense 64 relu → Dense 10) trained on
//! Fashion-MNIST with `autograd::record`, `SoftmaxCrossEntropyLoss` and `Trainer::step`:
//! first imperatively, then the same network hybridized (one bound graph per batch shape,
//! recorded as one node), printing per-epoch accuracy and samples/s of both modes.
//!
//! Run: `cargo run --release --example gluon_mnist -- [--epochs N] [--lr X] [--batch-size B]
//! [--parts K] [--data DIR]` (`--parts K` trains on a K-th of the training set, for a quick
//! run; the dataset is Debian's dataset-fashion-mnist, or `FMNIST_DIR`).

mod common;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use mxr::engine::Context;
use mxr::gluon::loss::{Loss, SoftmaxCrossEntropyLoss};
use mxr::gluon::nn::{Dense, HybridSequential};
use mxr::gluon::{Block, Trainer, autograd};
use mxr::io::DataIter;
use mxr::metric::{Accuracy, EvalMetric};
use mxr::nd;

struct Options {
    epochs: usize,
    lr: f64,
    batch: usize,
    parts: usize,
    data: PathBuf,
}

fn options() -> Result<Options, String> {
    let mut o = Options {
        epochs: 3,
        lr: 0.1,
        batch: 128,
        parts: 1,
        data: PathBuf::from(
            std::env::var("FMNIST_DIR").unwrap_or_else(|_| mxr_test_support::FASHION_MNIST.into()),
        ),
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    for pair in args.chunks(2) {
        let [key, value] = pair else {
            return Err(format!("{} needs a value", pair[0]));
        };
        let bad = |e: &dyn std::fmt::Display| format!("{key} {value}: {e}");
        match key.as_str() {
            "--epochs" => o.epochs = value.parse().map_err(|e| bad(&e))?,
            "--lr" => o.lr = value.parse().map_err(|e| bad(&e))?,
            "--batch-size" => o.batch = value.parse().map_err(|e| bad(&e))?,
            "--parts" => o.parts = value.parse().map_err(|e| bad(&e))?,
            "--data" => o.data = PathBuf::from(value),
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(o)
}

/// The tutorial's network, in its name scope.
fn mlp() -> HybridSequential {
    let mut net = HybridSequential::new();
    net.name_scope(|net| {
        net.add(Dense::new(128).activation("relu"));
        net.add(Dense::new(64).activation("relu"));
        net.add(Dense::new(10));
    });
    net
}

/// The accuracy of `net` over `test`, padding excluded.
fn evaluate(net: &HybridSequential, test: &mut dyn DataIter) -> mxr::gluon::Result<f64> {
    test.reset()?;
    let mut metric = Accuracy::new();
    while let Some(batch) = test.next_batch()? {
        let keep = test.batch_size() - batch.pad;
        let out = net.call(&batch.data[0])?.slice(0, keep)?;
        metric.update(&[&batch.label[0].slice(0, keep)?], &[&out])?;
    }
    Ok(metric.get().1)
}

fn train() -> Result<(), Box<dyn std::error::Error>> {
    let o = options()?;
    common::require_data(
        &o.data,
        "apt install dataset-fashion-mnist, or set FMNIST_DIR",
    )?;
    let mut train = common::mnist(&o.data, "train", o.batch, true)
        .flat(true)
        .parts(o.parts, 0)
        .build()?;
    let mut test = common::mnist(&o.data, "t10k", o.batch, false)
        .flat(true)
        .build()?;
    println!(
        "Fashion-MNIST: {} training and {} test images; batch {}, {} epochs, SGD lr {}",
        train.num_examples(),
        test.num_examples(),
        o.batch,
        o.epochs,
        o.lr
    );
    let loss = SoftmaxCrossEntropyLoss::new();
    for hybridize in [false, true] {
        nd::random::seed(7)?;
        let net = mlp();
        net.initialize("xavier", Context::cpu(0))?;
        net.hybridize(hybridize);
        let mut trainer = Trainer::new(&net.collect_params(), "sgd", &[("learning_rate", o.lr)])?;
        let mode = if hybridize {
            "hybridized"
        } else {
            "imperative"
        };
        for epoch in 1..=o.epochs {
            train.reset()?;
            let mut metric = Accuracy::new();
            let (start, mut samples) = (Instant::now(), 0);
            while let Some(batch) = train.next_batch()? {
                let (x, y) = (&batch.data[0], &batch.label[0]);
                let (out, l) = {
                    let _rec = autograd::record();
                    let out = net.call(x)?;
                    let l = loss.loss(&out, y)?;
                    (out, l)
                };
                autograd::backward(&[&l])?;
                trainer.step(o.batch)?;
                metric.update(&[y], &[&out])?;
                samples += o.batch;
            }
            nd::waitall()?;
            let rate = samples as f64 / start.elapsed().as_secs_f64();
            let test_acc = evaluate(&net, &mut test)?;
            println!(
                "{mode} epoch {epoch}: train accuracy {:.4}, test accuracy {test_acc:.4}, \
                 {rate:.0} samples/s",
                metric.get().1
            );
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    match train() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gluon_mnist: {e}");
            ExitCode::FAILURE
        }
    }
}
