//! A training module in the spirit of MXNet's `mx.mod.Module`: bind a symbol to the shapes of
//! a data iterator, initialize its parameters, and `fit` it (forward, backward and optimizer
//! update per batch, a metric per epoch, evaluation data, callbacks), then `score`, `predict`
//! and save checkpoints in MXNet's format.
//!
//! ```
//! use mxr::io::NDArrayIter;
//! use mxr::metric::Accuracy;
//! use mxr::module::{FitOptions, Module};
//! use mxr::nd::NDArray;
//! use mxr::sym::{self, Symbol};
//!
//! // Two separable classes: x > 0 is class 1.
//! let x: Vec<f32> = (0..64).map(|i| if i % 2 == 0 { 1.0 } else { -1.0 }).collect();
//! let y: Vec<f32> = (0..64).map(|i| if i % 2 == 0 { 1.0 } else { 0.0 }).collect();
//! let mut train = NDArrayIter::new(NDArray::from_vec(&[64, 1], x)?, NDArray::from_vec(&[64], y)?, 16)?;
//! let data = Symbol::variable("data");
//! let fc = sym::fully_connected(&data, 2).name("fc").build()?;
//! let net = sym::softmax_output(&fc).name("softmax").build()?;
//! let mut module = Module::new(net, &["data"], &["softmax_label"], mxr::engine::Context::cpu(0));
//! let report = module.fit(&mut train, None, &mut Accuracy::new(), &FitOptions::new(5).learning_rate(0.5))?;
//! assert_eq!(report.epochs.last().unwrap().train_metric.1, 1.0);
//! # Ok::<(), mxr::Error>(())
//! ```

use std::ops::Range;
use std::time::Instant;

use mxr_engine::Context;

use crate::exec::{Executor, GradReq};
use crate::init::{InitDesc, Initializer, Uniform};
use crate::io::{DataBatch, DataIter};
use crate::kv::KVStore;
use crate::metric::EvalMetric;
use crate::nd::{self, NDArray};
use crate::optim::{self, Optimizer, Updater};
use crate::sym::{NamedArrays, Symbol, save_checkpoint};
use crate::{Error, Result};

mod options;
mod progress;

pub use options::{
    BatchEnd, BatchEndFn, Callbacks, EpochEndFn, EpochReport, FitOptions, FitReport,
};
use progress::Progress;

/// A symbol with its executors (one per context), parameters and optimizer.
///
/// With several contexts (MXNet's `Module(context=[...])`), each batch is split along its first
/// axis across the contexts (MXNet's `_split_input_slice`), every context runs forward and
/// backward on its slice, the gradients are summed through a [`KVStore`] and the optimizer's
/// update is applied once, then copied to every context: data-parallel training whose result
/// equals one context's on the whole batch (up to the summation order).
#[derive(Debug)]
pub struct Module {
    symbol: Symbol,
    contexts: Vec<Context>,
    data_names: Vec<String>,
    label_names: Vec<String>,
    /// One executor per context, once bound.
    execs: Vec<Executor>,
    /// The rows of a batch each context takes.
    slices: Vec<Range<usize>>,
    params_ready: bool,
    updater: Option<Updater>,
    /// Aggregates the gradients of several contexts (and, `dist_sync`, of several workers).
    kvstore: Option<KVStore>,
    /// Whether the kvstore's keys (one per parameter) are initialised.
    kv_keys: bool,
}

fn module_error(reason: String) -> Error {
    Error::InvalidArgument {
        call: "Module",
        reason,
    }
}

fn not_bound() -> Error {
    module_error("not bound (call bind or fit first)".into())
}

/// MXNet's `_split_input_slice` for equal workloads: `round(batch / n)` rows each (half to
/// even, as Python's `round`), the last context taking what remains.
fn split_batch(batch_size: usize, contexts: usize) -> Result<Vec<Range<usize>>> {
    if batch_size < contexts {
        return Err(module_error(format!(
            "a batch of {batch_size} cannot be split across {contexts} contexts"
        )));
    }
    let share = (batch_size as f64 / contexts as f64).round_ties_even() as usize;
    let mut sizes = vec![share; contexts];
    let assigned: usize = share * (contexts - 1);
    sizes[contexts - 1] = batch_size.saturating_sub(assigned);
    let mut start = 0;
    let mut out = Vec::with_capacity(contexts);
    for size in sizes {
        if size == 0 {
            return Err(module_error(format!(
                "a batch of {batch_size} split across {contexts} contexts leaves one empty"
            )));
        }
        out.push(start..start + size);
        start += size;
    }
    Ok(out)
}

impl Module {
    /// A module over `symbol` whose inputs are `data_names` and `label_names`, on one context.
    pub fn new(
        symbol: Symbol,
        data_names: &[&str],
        label_names: &[&str],
        context: Context,
    ) -> Module {
        Module {
            symbol,
            contexts: vec![context],
            data_names: data_names.iter().map(|s| s.to_string()).collect(),
            label_names: label_names.iter().map(|s| s.to_string()).collect(),
            execs: Vec::new(),
            slices: Vec::new(),
            params_ready: false,
            updater: None,
            kvstore: None,
            kv_keys: false,
        }
    }

    /// Aggregates gradients through `kvstore` (MXNet's `fit(kvstore=...)`): each parameter's
    /// gradients of every context are pushed and their sum pulled back before the update. With
    /// `dist_sync` the sum spans every worker, and every worker applies the same update, so the
    /// weights stay identical everywhere; the default `rescale_grad` then divides by the global
    /// batch (`batch_size × num_workers`). Without one, a module over several contexts creates a
    /// `local` store on its first `fit`.
    pub fn set_kvstore(&mut self, kvstore: KVStore) {
        self.kvstore = Some(kvstore);
        self.kv_keys = false;
    }

    /// The kvstore in use, if any.
    pub fn kvstore(&self) -> Option<&KVStore> {
        self.kvstore.as_ref()
    }

    /// A module that trains data-parallel over `contexts` (at least one).
    ///
    /// ```
    /// use mxr::engine::Context;
    /// use mxr::module::Module;
    /// use mxr::sym::{self, Symbol};
    /// let net = sym::softmax_output(&sym::fully_connected(&Symbol::variable("data"), 2).build()?)
    ///     .build()?;
    /// let module = Module::with_contexts(net, &["data"], &["softmax_label"],
    ///     &[Context::cpu(0), Context::cpu(1)])?;
    /// assert_eq!(module.contexts().len(), 2);
    /// # Ok::<(), mxr::Error>(())
    /// ```
    pub fn with_contexts(
        symbol: Symbol,
        data_names: &[&str],
        label_names: &[&str],
        contexts: &[Context],
    ) -> Result<Module> {
        let (&first, _) = contexts
            .split_first()
            .ok_or_else(|| module_error("no context given".into()))?;
        let mut module = Module::new(symbol, data_names, label_names, first);
        module.contexts = contexts.to_vec();
        Ok(module)
    }

    /// The contexts the module runs on.
    pub fn contexts(&self) -> &[Context] {
        &self.contexts
    }

    /// Binds to the shapes an iterator provides (gradients for every argument but the inputs),
    /// one executor per context over its share of the batch. Parameters of an earlier binding
    /// are kept.
    pub fn bind(&mut self, iter: &dyn DataIter) -> Result<()> {
        let descs: Vec<_> = iter
            .provide_data()
            .into_iter()
            .chain(iter.provide_label())
            .collect();
        for name in self.data_names.iter().chain(&self.label_names) {
            if !descs.iter().any(|d| &d.name == name) {
                return Err(module_error(format!(
                    "the iterator provides no input named {name} (it provides {})",
                    descs
                        .iter()
                        .map(|d| d.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
        }
        let slices = split_batch(iter.batch_size(), self.contexts.len())?;
        let inputs: Vec<&str> = self
            .data_names
            .iter()
            .chain(&self.label_names)
            .map(String::as_str)
            .collect();
        let mut execs = Vec::with_capacity(self.contexts.len());
        for (i, (context, rows)) in self.contexts.iter().zip(&slices).enumerate() {
            // Every input is split along its first (batch) axis.
            let sliced: Vec<(String, Vec<usize>)> = descs
                .iter()
                .map(|d| {
                    let mut shape = d.shape.clone();
                    if let Some(first) = shape.first_mut() {
                        *first = rows.len();
                    }
                    (d.name.clone(), shape)
                })
                .collect();
            let shapes: Vec<(&str, &[usize])> = sliced
                .iter()
                .map(|(n, s)| (n.as_str(), s.as_slice()))
                .collect();
            execs.push(match self.execs.get(i) {
                Some(exe) => exe.reshape(&shapes)?,
                None => self
                    .symbol
                    .simple_bind(*context, &shapes, GradReq::Write, &inputs)?,
            });
        }
        self.execs = execs;
        self.slices = slices;
        Ok(())
    }

    fn is_input(&self, name: &str) -> bool {
        self.data_names
            .iter()
            .chain(&self.label_names)
            .any(|n| n == name)
    }

    /// Initializes every parameter and auxiliary state with MXNet's rules by name
    /// (`*_weight` by `init`, biases zero, gammas one, moving variances one, ...).
    pub fn init_params(&mut self, init: &dyn Initializer) -> Result<()> {
        let (args, aux) = self.params_of(0)?;
        for (name, array) in args.iter().chain(&aux) {
            init.initialize(&InitDesc::new(name.as_str()), array)?;
        }
        self.broadcast_params(true)?;
        self.params_ready = true;
        Ok(())
    }

    /// Copies parameters in by name (MXNet's `set_params`); every parameter must be given.
    pub fn set_params(
        &mut self,
        args: &[(String, NDArray)],
        aux: &[(String, NDArray)],
    ) -> Result<()> {
        let (mine, my_aux) = self.params_of(0)?;
        for (name, dst) in mine.iter().chain(&my_aux) {
            let src = args
                .iter()
                .chain(aux)
                .find(|(n, _)| n == name)
                .ok_or_else(|| module_error(format!("no value given for parameter {name}")))?;
            dst.assign(&src.1).map_err(|e| {
                module_error(format!(
                    "parameter {name}: the module needs shape {:?}, the value given has {:?} ({e})",
                    dst.shape(),
                    src.1.shape()
                ))
            })?;
        }
        self.broadcast_params(true)?;
        self.params_ready = true;
        Ok(())
    }

    /// The parameters (arguments other than the inputs) and auxiliary states, by name: the
    /// first context's arrays. With several contexts, the auxiliary states (e.g. BatchNorm's
    /// moving statistics, which each context updates from its own slice) are averaged first,
    /// as MXNet's `get_params` does.
    pub fn get_params(&mut self) -> Result<(NamedArrays, NamedArrays)> {
        if self.execs.len() > 1 {
            self.average_aux()?;
        }
        self.params_of(0)
    }

    /// The parameters and auxiliary states of context `i`'s executor, in the symbol's order.
    /// Waits until every operation pushed on this module's arrays (each executor's arguments,
    /// gradients and auxiliary states) has run: the end of an epoch's work. Not `waitall`, which
    /// would also report (and take from their owners) the errors of unrelated arrays elsewhere
    /// in the process: another model in the same service, or a test running beside this one.
    fn wait_for_own_arrays(&self) -> Result<()> {
        for exe in &self.execs {
            let arrays = [exe.arg_dict(), exe.grad_dict(), exe.aux_dict()];
            for array in arrays.iter().flat_map(std::collections::HashMap::values) {
                array.wait_to_read()?;
            }
        }
        Ok(())
    }

    fn params_of(&self, i: usize) -> Result<(NamedArrays, NamedArrays)> {
        let exe = self.execs.get(i).ok_or_else(not_bound)?;
        let mut args: NamedArrays = exe
            .arg_dict()
            .into_iter()
            .filter(|(n, _)| !self.is_input(n))
            .collect();
        let order = self.symbol.list_arguments();
        args.sort_by_key(|(n, _)| order.iter().position(|o| o == n));
        let mut aux: NamedArrays = exe.aux_dict().into_iter().collect();
        let aux_order = self.symbol.list_auxiliary_states();
        aux.sort_by_key(|(n, _)| aux_order.iter().position(|o| o == n));
        Ok((args, aux))
    }

    /// Copies the first context's parameters (and, with `aux`, auxiliary states) to the others.
    fn broadcast_params(&self, aux: bool) -> Result<()> {
        let (args0, aux0) = self.params_of(0)?;
        for i in 1..self.execs.len() {
            let (args, auxs) = self.params_of(i)?;
            for ((_, dst), (_, src)) in args.iter().zip(&args0) {
                dst.assign(src)?;
            }
            if aux {
                for ((_, dst), (_, src)) in auxs.iter().zip(&aux0) {
                    dst.assign(src)?;
                }
            }
        }
        Ok(())
    }

    /// Averages the auxiliary states over the contexts into every context.
    fn average_aux(&self) -> Result<()> {
        let (_, aux0) = self.params_of(0)?;
        let scale = 1.0 / self.execs.len() as f64;
        for (index, (_, first)) in aux0.iter().enumerate() {
            let mut sum = first.copy()?;
            for i in 1..self.execs.len() {
                let (_, aux) = self.params_of(i)?;
                sum = nd::add(&sum, &aux[index].1.copy_to(first.context())?)?;
            }
            first.assign(&(&sum * scale))?;
        }
        self.broadcast_aux_only()
    }

    fn broadcast_aux_only(&self) -> Result<()> {
        let (_, aux0) = self.params_of(0)?;
        for i in 1..self.execs.len() {
            let (_, aux) = self.params_of(i)?;
            for ((_, dst), (_, src)) in aux.iter().zip(&aux0) {
                dst.assign(src)?;
            }
        }
        Ok(())
    }

    /// Copies a batch into the executors' inputs, each context its rows.
    fn load_batch(&mut self, batch: &DataBatch) -> Result<()> {
        let names: Vec<&String> = self.data_names.iter().chain(&self.label_names).collect();
        let whole = self.execs.len() == 1;
        for (exe, rows) in self.execs.iter().zip(&self.slices) {
            let args = exe.arg_dict();
            for (name, value) in names.iter().zip(batch.data.iter().chain(&batch.label)) {
                let dst = args
                    .get(*name)
                    .ok_or_else(|| module_error(format!("the symbol has no argument {name}")))?;
                if whole {
                    dst.assign(value)?;
                } else {
                    dst.assign(&value.slice(rows.start, rows.end)?)?;
                }
            }
        }
        Ok(())
    }

    /// Installs the optimizer [`Module::fit`] uses (MXNet's `init_optimizer`), replacing one
    /// installed before and its states. Its settings are used as given: set `rescale_grad`
    /// (usually `1 / batch_size`) yourself. Without it, `fit` creates one from
    /// [`FitOptions::optimizer`] on its first call and keeps it (and its momentum) for later
    /// calls, as MXNet does.
    pub fn init_optimizer(&mut self, mut optimizer: Box<dyn Optimizer>) -> Result<()> {
        let (args, _) = self.params_of(0)?;
        optimizer
            .core_mut()
            .set_param_names(args.iter().enumerate().map(|(i, (n, _))| (i, n.clone())));
        self.updater = Some(Updater::from_boxed(optimizer));
        Ok(())
    }

    /// The optimizer `fit` uses, once installed or created.
    pub fn optimizer(&self) -> Option<&dyn Optimizer> {
        self.updater.as_ref().map(Updater::optimizer)
    }

    /// One training step on a loaded batch: forward and backward on every context, the
    /// gradients summed onto the first, one update, the new weights copied to the others.
    fn train_step(&mut self, args: &NamedArrays) -> Result<()> {
        for exe in &mut self.execs {
            exe.forward(true)?;
            exe.backward(&[])?;
        }
        let updater = self
            .updater
            .as_mut()
            .ok_or_else(|| module_error("no optimizer (internal)".into()))?;
        let grads: Vec<_> = self.execs.iter().map(Executor::grad_dict).collect();
        if let Some(kv) = &self.kvstore
            && !self.kv_keys
        {
            // One key per parameter, initialised with the weight and pulled back into every
            // context: with dist_sync, every worker starts from worker 0's weights (as MXNet's
            // Module does). Later pushes assign the gradient sum to the key.
            let weights: Vec<_> = self.execs.iter().map(Executor::arg_dict).collect();
            for (i, (name, weight)) in args.iter().enumerate() {
                if grads[0].contains_key(name) {
                    kv.init(i, weight)?;
                    let copies: Vec<&NDArray> =
                        weights.iter().filter_map(|w| w.get(name)).collect();
                    kv.pull(i, &copies)?;
                }
            }
            self.kv_keys = true;
        }
        for (i, (name, weight)) in args.iter().enumerate() {
            let Some(grad) = grads[0].get(name) else {
                continue;
            };
            if let Some(kv) = &self.kvstore {
                // Every context's gradient in, their sum (over workers too) out into the first.
                let all: Vec<&NDArray> = grads.iter().filter_map(|g| g.get(name)).collect();
                kv.pushpull(i, &all, Some(&[grad]))?;
            }
            updater.update(i, grad, weight)?;
        }
        if self.execs.len() > 1 {
            self.broadcast_params(false)?;
        }
        Ok(())
    }

    /// Updates `metric` with every context's outputs and label rows, the first `keep` rows of
    /// the batch only (padding excluded).
    fn update_metric(
        &self,
        metric: &mut dyn EvalMetric,
        batch: &DataBatch,
        keep: usize,
    ) -> Result<()> {
        for (exe, rows) in self.execs.iter().zip(&self.slices) {
            let take = keep.saturating_sub(rows.start).min(rows.len());
            if take == 0 {
                continue;
            }
            let whole = take == rows.len() && self.execs.len() == 1;
            let labels: Vec<NDArray> = if whole {
                batch.label.clone()
            } else {
                batch
                    .label
                    .iter()
                    .map(|l| l.slice(rows.start, rows.start + take))
                    .collect::<Result<_>>()?
            };
            let preds: Vec<NDArray> = if take == rows.len() {
                exe.outputs().to_vec()
            } else {
                exe.outputs()
                    .iter()
                    .map(|o| o.slice(0, take))
                    .collect::<Result<_>>()?
            };
            metric.update(
                &labels.iter().collect::<Vec<_>>(),
                &preds.iter().collect::<Vec<_>>(),
            )?;
        }
        Ok(())
    }

    /// Trains for `options.epochs` epochs (by default SGD with `rescale_grad = 1 / batch_size`,
    /// as MXNet's Module does), updating `metric` per batch and evaluating on `eval` after each
    /// epoch. Binds, initializes ([`FitOptions::initializer`]) and creates the optimizer when
    /// that was not done yet.
    pub fn fit(
        &mut self,
        train: &mut dyn DataIter,
        eval: Option<&mut dyn DataIter>,
        metric: &mut dyn EvalMetric,
        options: &FitOptions,
    ) -> Result<FitReport> {
        self.fit_with(train, eval, metric, options, &mut Callbacks::default())
    }

    /// [`Module::fit`] with callbacks after each batch and each epoch (MXNet's
    /// `batch_end_callback` / `epoch_end_callback`). A metric read in a batch callback waits for
    /// that batch, as MXNet's `Speedometer` does.
    pub fn fit_with(
        &mut self,
        train: &mut dyn DataIter,
        mut eval: Option<&mut dyn DataIter>,
        metric: &mut dyn EvalMetric,
        options: &FitOptions,
        callbacks: &mut Callbacks<'_>,
    ) -> Result<FitReport> {
        if self.execs.is_empty() {
            self.bind(train)?;
        }
        if !self.params_ready {
            match &options.initializer {
                Some(init) => self.init_params(init.as_ref())?,
                None => self.init_params(&Uniform::new(0.01))?,
            }
        }
        let batch_size = train.batch_size();
        if self.kvstore.is_none() && self.execs.len() > 1 {
            self.set_kvstore(KVStore::create("local")?);
        }
        if self.updater.is_none() {
            // dist_sync sums the gradients of every worker's batch.
            let workers = self
                .kvstore
                .as_ref()
                .filter(|kv| kv.kv_type().starts_with("dist"))
                .map_or(1, KVStore::num_workers);
            let global_batch = (batch_size * workers) as f64;
            let mut params: Vec<(&str, f64)> = vec![("rescale_grad", 1.0 / global_batch)];
            params.extend(
                options
                    .optimizer_params
                    .iter()
                    .map(|(k, v)| (k.as_str(), *v)),
            );
            // Later entries win: a user's rescale_grad replaces the default.
            let mut merged: Vec<(&str, f64)> = Vec::new();
            for (k, v) in params {
                merged.retain(|(m, _)| *m != k);
                merged.push((k, v));
            }
            self.init_optimizer(optim::create_with(&options.optimizer, &merged)?)?;
        }
        let mut report = FitReport { epochs: Vec::new() };
        let mut progress = Progress::new(options, train.num_batches_hint());
        for epoch in 0..options.epochs {
            // Evaluation may have rebound for its batch size; training's plan is cached.
            self.ensure_batch_size(train)?;
            let (args, _) = self.params_of(0)?;
            train.reset()?;
            metric.reset();
            progress.start_epoch(epoch);
            let start = Instant::now();
            let mut samples = 0;
            let mut index = 0;
            while let Some(batch) = train.next_batch()? {
                self.load_batch(&batch)?;
                self.train_step(&args)?;
                self.update_metric(metric, &batch, batch_size)?;
                samples += batch_size - batch.pad;
                progress.batch_end(epoch, index, samples, start, metric);
                if let Some(cb) = callbacks.batch_end.as_mut() {
                    cb(&BatchEnd {
                        epoch,
                        batch: index,
                        metric: metric.get(),
                    });
                }
                index += 1;
            }
            self.wait_for_own_arrays()?;
            let seconds = start.elapsed().as_secs_f64();
            let train_metric = metric.get();
            let eval_metric = match eval.as_deref_mut() {
                Some(it) => Some(self.score(it, metric)?),
                None => None,
            };
            let epoch_report = EpochReport {
                epoch,
                train_metric,
                eval_metric,
                samples_per_sec: samples as f64 / seconds.max(f64::MIN_POSITIVE),
                seconds,
            };
            progress.epoch_end(&epoch_report);
            if let Some(cb) = callbacks.epoch_end.as_mut() {
                cb(&epoch_report);
            }
            report.epochs.push(epoch_report);
        }
        Ok(report)
    }

    /// Evaluates `metric` over `iter` in inference mode (padding rows excluded).
    pub fn score(
        &mut self,
        iter: &mut dyn DataIter,
        metric: &mut dyn EvalMetric,
    ) -> Result<(String, f64)> {
        self.ensure_batch_size(iter)?;
        iter.reset()?;
        metric.reset();
        while let Some(batch) = iter.next_batch()? {
            self.load_batch(&batch)?;
            for exe in &mut self.execs {
                exe.forward(false)?;
            }
            self.update_metric(metric, &batch, iter.batch_size() - batch.pad)?;
        }
        Ok(metric.get())
    }

    /// The first output over every batch of `iter`, padding rows excluded, stacked.
    pub fn predict(&mut self, iter: &mut dyn DataIter) -> Result<NDArray> {
        self.ensure_batch_size(iter)?;
        iter.reset()?;
        let mut parts: Vec<NDArray> = Vec::new();
        while let Some(batch) = iter.next_batch()? {
            self.load_batch(&batch)?;
            let keep = iter.batch_size() - batch.pad;
            for (exe, rows) in self.execs.iter_mut().zip(&self.slices) {
                exe.forward(false)?;
                let take = keep.saturating_sub(rows.start).min(rows.len());
                if take > 0 {
                    parts.push(exe.outputs()[0].slice(0, take)?.copy_to(self.contexts[0])?);
                }
            }
        }
        let refs: Vec<&NDArray> = parts.iter().collect();
        match refs.as_slice() {
            [] => Err(module_error("the iterator gave no batch".into())),
            [one] => Ok((*one).clone()),
            many => nd::concat(many, 0),
        }
    }

    /// Rebinds (sharing the parameters) when `iter`'s shapes differ from the bound ones.
    fn ensure_batch_size(&mut self, iter: &dyn DataIter) -> Result<()> {
        let exe = self.execs.first().ok_or_else(not_bound)?;
        let bound = exe.arg_dict();
        let first_rows = self.slices.first().map_or(0, |r| r.len());
        let whole_batch = self.slices.last().map_or(0, |r| r.end);
        let same = iter.batch_size() == whole_batch
            && iter
                .provide_data()
                .into_iter()
                .chain(iter.provide_label())
                .all(|d| {
                    bound.get(&d.name).is_some_and(|a| {
                        a.shape().first() == Some(&first_rows)
                            && a.shape().get(1..) == d.shape.get(1..)
                    })
                });
        if !same {
            self.bind(iter)?;
        }
        Ok(())
    }

    /// Saves `prefix-symbol.json` and `prefix-NNNN.params` (MXNet's `save_checkpoint`).
    pub fn save_checkpoint(&mut self, prefix: &str, epoch: u32) -> Result<()> {
        let (args, aux) = self.get_params()?;
        save_checkpoint(prefix, epoch, &self.symbol, &args, &aux)
    }
}
