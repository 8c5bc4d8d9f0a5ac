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
//!
//! `--contexts N` runs the same training in one process instead, without MPI: N workers on
//! contexts cpu(0)..cpu(N-1), each with the part of the data that rank i of an N-process run
//! reads, their gradients summed by a `local` KVStore; it ends with the weights of the
//! N-process run. Options: `--epochs E` (2), `--lr X` (0.1), `--batch-size B` (64 per worker),
//! `--parts K` (train on a K-th of the training set), `--data DIR`, `--save PREFIX` (worker 0
//! writes an MXNet checkpoint, `PREFIX-symbol.json` and `PREFIX-000E.params`).

mod common;

use std::path::{Path, PathBuf};
use std::time::Instant;

use mxr::engine::Context;
use mxr::exec::{Executor, GradReq, Graph};
use mxr::init::{InitDesc, Initializer, Normal};
use mxr::io::{DataIter, MNISTIter};
use mxr::kv::KVStore;
use mxr::metric::{Accuracy, EvalMetric};
use mxr::nd::{self, NDArray};
use mxr::optim::Sgd;
use mxr::sym;

const DATA_DIR: &str = "/usr/share/datasets/fashion-mnist";

struct Options {
    epochs: usize,
    lr: f64,
    batch: usize,
    parts: usize,
    contexts: Option<usize>,
    save: Option<String>,
    data: PathBuf,
}

fn options() -> Result<Options, String> {
    let mut o = Options {
        epochs: 2,
        lr: 0.1,
        batch: 64,
        parts: 1,
        contexts: None,
        save: None,
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
            "--parts" => o.parts = value.parse().map_err(|e| bad(&e))?,
            "--contexts" => o.contexts = Some(value.parse().map_err(|e| bad(&e))?),
            "--save" => o.save = Some(value.clone()),
            "--data" => o.data = PathBuf::from(value),
            other => return Err(format!("unknown option {other}")),
        }
    }
    if o.parts == 0 || o.contexts == Some(0) {
        return Err("--parts and --contexts must be at least 1".into());
    }
    Ok(o)
}

fn iterator(
    dir: &Path,
    set: &str,
    batch: usize,
    parts: Option<(usize, usize)>,
) -> mxr::Result<MNISTIter> {
    let mut b = common::mnist(dir, set, batch, parts.is_some()).flat(true);
    if let Some((n, i)) = parts {
        b = b.parts(n, i);
    }
    b.build()
}

/// One data-parallel worker: its executor (on its context) and its part of the training set.
struct Worker {
    exe: Executor,
    train: MNISTIter,
    metric: Accuracy,
}

impl Worker {
    fn new(
        o: &Options,
        net: &Graph,
        ctx: Context,
        workers: usize,
        rank: usize,
    ) -> mxr::Result<Self> {
        let shapes: [(&str, &[usize]); 2] =
            [("data", &[o.batch, 784]), ("softmax_label", &[o.batch])];
        Ok(Worker {
            exe: Executor::simple_bind(net, ctx, &shapes, GradReq::Write, &NO_GRAD)?,
            train: iterator(&o.data, "train", o.batch, Some((o.parts * workers, rank)))?,
            metric: Accuracy::new(),
        })
    }

    /// Forward and backward on the next batch of its part; `false` at the end of the epoch.
    fn step(&mut self) -> mxr::Result<bool> {
        let Some(batch) = self.train.next_batch()? else {
            return Ok(false);
        };
        self.exe.arg_dict()["data"].assign(&batch.data[0])?;
        self.exe.arg_dict()["softmax_label"].assign(&batch.label[0])?;
        self.exe.forward(true)?;
        self.exe.backward(&[])?;
        self.metric
            .update(&[&batch.label[0]], &[&self.exe.outputs()[0]])?;
        Ok(true)
    }
}

/// For each of `keys`, that argument's array (`arrays`: its weight or its gradient) of every
/// worker of this process.
fn per_key<'a>(
    team: &'a [Worker],
    keys: &[usize],
    arrays: fn(&Worker, usize) -> Option<&NDArray>,
) -> Result<Vec<Vec<&'a NDArray>>, String> {
    keys.iter()
        .map(|&i| {
            team.iter()
                .map(|w| arrays(w, i).ok_or_else(|| format!("no gradient for argument {i}")))
                .collect()
        })
        .collect()
}

fn weight(w: &Worker, i: usize) -> Option<&NDArray> {
    w.exe.arg_arrays().get(i)
}

fn grad(w: &Worker, i: usize) -> Option<&NDArray> {
    w.exe.grad_arrays().get(i)?.as_ref()
}

/// The arguments that are not weights.
const NO_GRAD: [&str; 2] = ["data", "softmax_label"];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let o = options()?;
    common::require_data(&o.data, "install Debian's dataset-fashion-mnist")?;
    // Across processes: this process is worker `rank` of `workers`. In one process: workers
    // 0..N, on cpu(0)..cpu(N-1), summed by a local store.
    let kv = KVStore::create(if o.contexts.is_some() {
        "local"
    } else {
        "dist_sync"
    })?;
    let (workers, ranks): (usize, Vec<usize>) = match o.contexts {
        Some(n) => (n, (0..n).collect()),
        None => (kv.num_workers(), vec![kv.rank()]),
    };
    let who = match o.contexts {
        Some(n) => format!("{n} contexts"),
        None => format!("rank {}", kv.rank()),
    };

    let symbol = common::mlp()?;
    let net = symbol.to_graph()?;
    let mut team: Vec<Worker> = ranks
        .iter()
        .map(|&rank| -> Result<Worker, Box<dyn std::error::Error>> {
            let device = if o.contexts.is_some() { rank } else { 0 };
            let ctx = Context::cpu(u32::try_from(device)?);
            Ok(Worker::new(&o, &net, ctx, workers, rank)?)
        })
        .collect::<Result<_, _>>()?;
    let mut test = iterator(&o.data, "t10k", o.batch, None)?;
    println!(
        "{who} of {workers}: {} training images in each part, batch {} per worker \
         ({} in all), SGD lr {}",
        team[0].train.num_examples(),
        o.batch,
        o.batch * workers,
        o.lr
    );
    let args = team[0].exe.arg_arrays().to_vec();
    let reqs = vec![GradReq::Null; args.len()];
    let cpu = Context::cpu(0);
    let mut test_exe = Executor::bind(&net, cpu, args, vec![None; reqs.len()], &reqs, vec![])?;

    // Each worker of an mpirun draws its own weights (a different seed); the store keeps
    // worker 0's, which in one process are drawn the same way, on the first worker.
    nd::random::seed(7 + ranks[0] as u64)?;
    let init = Normal::new(0.02);
    let params: Vec<(usize, String)> = net
        .arguments()
        .iter()
        .map(|&n| net.nodes[n].name.clone())
        .enumerate()
        .filter(|(_, n)| !NO_GRAD.contains(&n.as_str()))
        .collect();
    for (i, name) in &params {
        init.initialize(&InitDesc::new(name.as_str()), &team[0].exe.arg_arrays()[*i])?;
    }
    let keys: Vec<usize> = params.iter().map(|(i, _)| *i).collect();
    let first: Vec<&NDArray> = keys.iter().map(|&i| &team[0].exe.arg_arrays()[i]).collect();
    kv.init_list(&keys, &first)?;
    kv.pull_list(&keys, &per_key(&team, &keys, weight)?)?;
    kv.set_optimizer(
        Sgd::new()
            .learning_rate(o.lr)
            .rescale_grad(1.0 / (o.batch * workers) as f64),
    );

    for epoch in 1..=o.epochs {
        for w in &mut team {
            w.train.reset()?;
            w.metric = Accuracy::new();
        }
        let start = Instant::now();
        let mut samples = 0;
        loop {
            let mut stepped = 0;
            for w in &mut team {
                stepped += usize::from(w.step()?);
            }
            if stepped == 0 {
                break;
            }
            if stepped != team.len() {
                return Err("the workers' parts have different numbers of batches".into());
            }
            kv.push_list(&keys, &per_key(&team, &keys, grad)?)?;
            kv.pull_list(&keys, &per_key(&team, &keys, weight)?)?;
            samples += o.batch * team.len();
        }
        nd::waitall()?;
        let seconds = start.elapsed().as_secs_f64();
        let test_accuracy = common::evaluate(&mut test_exe, &mut test, None)?;
        let checksum: f64 = keys
            .iter()
            .map(|&i| team[0].exe.arg_arrays()[i].to_vec::<f32>())
            .collect::<mxr::Result<Vec<_>>>()?
            .iter()
            .flatten()
            .map(|&v| f64::from(v).abs())
            .sum();
        let train_accuracy: Vec<String> = team
            .iter()
            .map(|w| format!("{:.4}", w.metric.get().1))
            .collect();
        println!(
            "{who}: epoch {epoch}: train accuracy {}, test accuracy {test_accuracy:.4}, \
             {:.0} samples/s in this process, weight checksum {checksum:.6}",
            train_accuracy.join("/"),
            samples as f64 / seconds
        );
    }
    if let (Some(prefix), 0) = (&o.save, ranks[0]) {
        let arg_params: Vec<(String, NDArray)> = params
            .iter()
            .map(|(i, n)| (n.clone(), team[0].exe.arg_arrays()[*i].clone()))
            .collect();
        let epochs = u32::try_from(o.epochs)?;
        sym::save_checkpoint(prefix, epochs, &symbol, &arg_params, &[])?;
        println!("{who}: saved {prefix}-{epochs:04}.params");
    }
    kv.barrier()?;
    drop(kv); // finalises MPI
    Ok(())
}
