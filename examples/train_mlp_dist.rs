//! Data-parallel training of MXNet's docs MLP (784 → 128 relu → 64 relu → 10, SoftmaxOutput)
//! on Fashion-MNIST across the processes of an `mpirun`, through a `dist_sync` KVStore.
//!
//! Each worker reads its part of the training set (`MNISTIter::parts`), computes the gradients
//! of its batch, pushes them (the store sums them across workers, and every worker applies the
//! same SGD step to the same sum, so the effective batch is `workers × batch`), and pulls the
//! updated weights. The weights start from worker 0's (the store's `init`), so all workers hold
//! the same model throughout: each prints a checksum of its weights per epoch.
//!
//! ```text
//! cargo build --release --features mpi --example train_mlp_dist
//! mpirun --allow-run-as-root --oversubscribe -np 2 --mca btl self,vader \
//!     --mca oob_tcp_if_include lo target/release/examples/train_mlp_dist -- --epochs 2
//! ```

use std::path::{Path, PathBuf};
use std::time::Instant;

use mxr::engine::Context;
use mxr::exec::{Executor, GradReq};
use mxr::init::{InitDesc, Initializer, Normal};
use mxr::io::{DataIter, LastBatchHandle, MNISTIter};
use mxr::kv::KVStore;
use mxr::metric::{Accuracy, EvalMetric};
use mxr::nd::{self, NDArray};
use mxr::optim::Sgd;
use mxr::sym::{self, Symbol};

const DATA_DIR: &str = "/usr/share/datasets/fashion-mnist";

struct Options {
    epochs: usize,
    lr: f64,
    batch: usize,
    data: PathBuf,
}

fn options() -> Result<Options, String> {
    let mut o = Options {
        epochs: 2,
        lr: 0.1,
        batch: 64,
        data: PathBuf::from(std::env::var("FMNIST_DIR").unwrap_or_else(|_| DATA_DIR.into())),
    };
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--").collect();
    for pair in args.chunks(2) {
        let [name, value] = pair else {
            return Err(format!("{} needs a value", pair[0]));
        };
        let bad = |e: &dyn std::fmt::Display| format!("{name} {value}: {e}");
        match name.as_str() {
            "--epochs" => o.epochs = value.parse().map_err(|e| bad(&e))?,
            "--lr" => o.lr = value.parse().map_err(|e| bad(&e))?,
            "--batch-size" => o.batch = value.parse().map_err(|e| bad(&e))?,
            "--data" => o.data = PathBuf::from(value),
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(o)
}

fn mlp() -> mxr::Result<Symbol> {
    let data = Symbol::variable("data");
    let fc1 = sym::fully_connected(&data, 128).name("fc1").build()?;
    let act1 = sym::activation(&fc1, "relu").name("relu1").build()?;
    let fc2 = sym::fully_connected(&act1, 64).name("fc2").build()?;
    let act2 = sym::activation(&fc2, "relu").name("relu2").build()?;
    let fc3 = sym::fully_connected(&act2, 10).name("fc3").build()?;
    sym::softmax_output(&fc3).name("softmax").build()
}

fn iterator(
    dir: &Path,
    set: &str,
    batch: usize,
    parts: Option<(usize, usize)>,
) -> mxr::Result<MNISTIter> {
    let mut b = MNISTIter::builder(
        dir.join(format!("{set}-images-idx3-ubyte.gz")),
        dir.join(format!("{set}-labels-idx1-ubyte.gz")),
    )
    .batch_size(batch)
    .flat(true)
    .shuffle(parts.is_some())
    .seed(42)
    .last_batch_handle(if parts.is_some() {
        LastBatchHandle::Discard
    } else {
        LastBatchHandle::Pad
    });
    if let Some((n, i)) = parts {
        b = b.parts(n, i);
    }
    b.build()
}

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

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let o = options()?;
    if !o.data.join("train-images-idx3-ubyte.gz").exists() {
        return Err(format!(
            "Fashion-MNIST is not in {} (install Debian's dataset-fashion-mnist)",
            o.data.display()
        )
        .into());
    }
    let kv = KVStore::create("dist_sync")?;
    let (rank, workers) = (kv.rank(), kv.num_workers());
    let mut train = iterator(&o.data, "train", o.batch, Some((workers, rank)))?;
    let mut test = iterator(&o.data, "t10k", o.batch, None)?;
    println!(
        "rank {rank} of {workers}: {} training images in this part, batch {} per worker \
         ({} in all), SGD lr {}",
        train.num_examples(),
        o.batch,
        o.batch * workers,
        o.lr
    );

    let net = mlp()?.to_graph()?;
    let cpu = Context::cpu(0);
    let no_grad = ["data", "softmax_label"];
    let shapes: [(&str, &[usize]); 2] = [("data", &[o.batch, 784]), ("softmax_label", &[o.batch])];
    let mut exe = Executor::simple_bind(&net, cpu, &shapes, GradReq::Write, &no_grad)?;
    let args = exe.arg_arrays().to_vec();
    let reqs = vec![GradReq::Null; args.len()];
    let mut test_exe = Executor::bind(&net, cpu, args, vec![None; reqs.len()], &reqs, vec![])?;

    // Each worker draws its own weights (a different seed); the store keeps worker 0's.
    nd::random::seed(7 + rank as u64)?;
    let init = Normal::new(0.02);
    let params: Vec<(usize, String)> = net
        .arguments()
        .iter()
        .map(|&n| net.nodes[n].name.clone())
        .enumerate()
        .filter(|(_, n)| !no_grad.contains(&n.as_str()))
        .collect();
    for (i, name) in &params {
        init.initialize(&InitDesc::new(name.as_str()), &exe.arg_arrays()[*i])?;
    }
    let keys: Vec<usize> = params.iter().map(|(i, _)| *i).collect();
    let weights: Vec<&NDArray> = keys.iter().map(|&i| &exe.arg_arrays()[i]).collect();
    kv.init_list(&keys, &weights)?;
    let weight_lists: Vec<[&NDArray; 1]> = weights.iter().map(|w| [*w]).collect();
    kv.pull_list(&keys, &weight_lists)?;
    kv.set_optimizer(
        Sgd::new()
            .learning_rate(o.lr)
            .rescale_grad(1.0 / (o.batch * workers) as f64),
    );

    let (data, label) = (
        exe.arg_dict()["data"].clone(),
        exe.arg_dict()["softmax_label"].clone(),
    );
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
            let grads: Vec<[&NDArray; 1]> = keys
                .iter()
                .map(|&i| {
                    exe.grad_arrays()[i]
                        .as_ref()
                        .map(|g| [g])
                        .ok_or_else(|| format!("no gradient for argument {i}"))
                })
                .collect::<Result<_, _>>()?;
            kv.push_list(&keys, &grads)?;
            let weights: Vec<[&NDArray; 1]> =
                keys.iter().map(|&i| [&exe.arg_arrays()[i]]).collect();
            kv.pull_list(&keys, &weights)?;
            metric.update(&[&batch.label[0]], &[&exe.outputs()[0]])?;
            samples += o.batch;
        }
        nd::waitall()?;
        let seconds = start.elapsed().as_secs_f64();
        let test_accuracy = evaluate(&mut test_exe, &mut test)?;
        let checksum: f64 = keys
            .iter()
            .map(|&i| exe.arg_arrays()[i].to_vec::<f32>())
            .collect::<mxr::Result<Vec<_>>>()?
            .iter()
            .flatten()
            .map(|&v| f64::from(v).abs())
            .sum();
        println!(
            "rank {rank}: epoch {epoch}: train accuracy {:.4}, test accuracy {test_accuracy:.4}, \
             {:.0} samples/s on this worker, weight checksum {checksum:.6}",
            metric.get().1,
            samples as f64 / seconds
        );
    }
    kv.barrier()?;
    drop(kv); // finalises MPI
    Ok(())
}
