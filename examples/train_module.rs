//! EXAMPLES.md scenario 18, the model API: the MLP of MXNet's docs trained on Fashion-MNIST by
//! one `Module::fit` call (epochs, context, optimizer and learning rate), with evaluation data
//! and an accuracy metric, logging progress per epoch (a progress bar on a terminal, log lines
//! otherwise), then scored and saved as an MXNet checkpoint.
//!
//! `cargo run --release --example train_module -- [--epochs N] [--optimizer sgd|adam] [--lr X]
//! [--batch-size B] [--parts K] [--contexts N] [--kvstore TYPE] [--out DIR] [--data DIR]`
//! (`--parts K` trains on a K-th of the training set, for a quick run; `--contexts N` trains
//! data-parallel over `cpu(0)..cpu(N-1)`, each taking its share of every batch; `--kvstore
//! dist_sync`, built with `--features mpi` and started by `mpirun`, trains data-parallel across
//! the processes, each reading its own part of the training set).

mod common;

use std::path::{Path, PathBuf};

use mxr::engine::Context;
use mxr::init::Normal;
use mxr::io::MNISTIter;
use mxr::kv::KVStore;
use mxr::metric::Accuracy;
use mxr::module::{FitOptions, Module};

struct Options {
    epochs: usize,
    optimizer: String,
    lr: Option<f64>,
    batch: usize,
    parts: usize,
    contexts: u32,
    kvstore: Option<String>,
    out: PathBuf,
    data: PathBuf,
}

fn options() -> Result<Options, String> {
    let mut o = Options {
        epochs: 10,
        optimizer: "sgd".into(),
        lr: None,
        batch: 100,
        parts: 1,
        contexts: 1,
        kvstore: None,
        out: PathBuf::from("target/train_module"),
        data: PathBuf::from(
            std::env::var("FMNIST_DIR")
                .unwrap_or_else(|_| "/usr/share/datasets/fashion-mnist".into()),
        ),
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let value = args
            .get(i + 1)
            .ok_or_else(|| format!("{} needs a value", args[i]))?;
        let bad = |e: &dyn std::fmt::Display| format!("{} {value}: {e}", args[i]);
        match args[i].as_str() {
            "--epochs" => o.epochs = value.parse().map_err(|e| bad(&e))?,
            "--optimizer" => o.optimizer = value.clone(),
            "--lr" => o.lr = Some(value.parse().map_err(|e| bad(&e))?),
            "--batch-size" => o.batch = value.parse().map_err(|e| bad(&e))?,
            "--parts" => o.parts = value.parse().map_err(|e| bad(&e))?,
            "--contexts" => o.contexts = value.parse().map_err(|e| bad(&e))?,
            "--kvstore" => o.kvstore = Some(value.clone()),
            "--out" => o.out = PathBuf::from(value),
            "--data" => o.data = PathBuf::from(value),
            other => return Err(format!("unknown option {other}")),
        }
        i += 2;
    }
    Ok(o)
}

/// The training set is read in `parts` parts and this process takes part `part`.
fn iterator(
    dir: &Path,
    set: &str,
    batch: usize,
    parts: usize,
    part: usize,
) -> mxr::Result<MNISTIter> {
    let train = set == "train";
    common::mnist(dir, set, batch, train)
        .silent(part > 0)
        .parts(if train { parts } else { 1 }, if train { part } else { 0 })
        .build()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let o = options()?;
    common::require_data(&o.data, "install Debian's dataset-fashion-mnist")?;
    let kvstore = o.kvstore.as_deref().map(KVStore::create).transpose()?;
    let (rank, workers) = kvstore
        .as_ref()
        .map_or((0, 1), |kv| (kv.rank(), kv.num_workers()));
    let mut train = iterator(&o.data, "train", o.batch, o.parts * workers, rank)?;
    let mut test = iterator(&o.data, "t10k", o.batch, 1, rank)?;
    let lr =
        o.lr.unwrap_or(if o.optimizer == "adam" { 0.001 } else { 0.1 });
    println!(
        "Module.fit: {} training and {} test images, batch {}, {} epochs, {} lr {lr}, {} context(s)",
        train.num_examples(),
        test.num_examples(),
        o.batch,
        o.epochs,
        o.optimizer,
        o.contexts
    );

    mxr::nd::random::seed(7)?;
    let contexts: Vec<Context> = (0..o.contexts.max(1)).map(Context::cpu).collect();
    let mut module =
        Module::with_contexts(common::mlp()?, &["data"], &["softmax_label"], &contexts)?;
    if let Some(kv) = kvstore {
        module.set_kvstore(kv);
    }
    let options = FitOptions::new(o.epochs)
        .optimizer(&o.optimizer, &[("learning_rate", lr)])
        .initializer(Normal::new(0.02))
        .log(true);
    let report = module.fit(&mut train, Some(&mut test), &mut Accuracy::new(), &options)?;
    for epoch in &report.epochs {
        println!(
            "epoch {}: train accuracy {:.4}, test accuracy {:.4}, {:.0} samples/s",
            epoch.epoch + 1,
            epoch.train_metric.1,
            epoch.eval_metric.as_ref().map_or(f64::NAN, |m| m.1),
            epoch.samples_per_sec
        );
    }

    let (_, accuracy) = module.score(&mut test, &mut Accuracy::new())?;
    if workers > 1 {
        // Every worker holds the same model: the same checksum on every rank.
        let (args, _) = module.get_params()?;
        let mut checksum = 0.0f64;
        for (_, w) in &args {
            checksum += w
                .to_vec::<f32>()?
                .iter()
                .map(|v| f64::from(v.abs()))
                .sum::<f64>();
        }
        println!(
            "rank {rank} of {workers}: weights checksum {checksum:.6}, test accuracy {accuracy:.4}"
        );
        if rank > 0 {
            return Ok(()); // rank 0 saves the checkpoint
        }
    }
    std::fs::create_dir_all(&o.out)?;
    let prefix = o.out.join("fashion_module");
    module.save_checkpoint(&prefix.to_string_lossy(), o.epochs as u32)?;
    println!(
        "score: test accuracy {accuracy:.4}; checkpoint {}-{:04}.params",
        prefix.display(),
        o.epochs
    );
    Ok(())
}
