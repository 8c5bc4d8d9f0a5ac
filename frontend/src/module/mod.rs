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

use std::time::Instant;

use mxr_engine::Context;

use crate::exec::{Executor, GradReq};
use crate::init::{InitDesc, Initializer, Uniform};
use crate::io::{DataBatch, DataIter};
use crate::metric::EvalMetric;
use crate::nd::{self, NDArray};
use crate::optim::{Sgd, Updater};
use crate::sym::{NamedArrays, Symbol, save_checkpoint};
use crate::{Error, Result};

/// Options of [`Module::fit`].
#[derive(Debug, Clone)]
pub struct FitOptions {
    /// Epochs to train.
    pub epochs: usize,
    /// SGD's learning rate (the default optimizer, as MXNet's `optimizer='sgd'`).
    pub learning_rate: f64,
    /// SGD's momentum.
    pub momentum: f64,
    /// SGD's weight decay.
    pub wd: f64,
    /// Print one line per epoch (train metric, evaluation metric, samples/s) to stderr.
    pub log: bool,
}

impl FitOptions {
    /// `epochs` epochs of plain SGD with learning rate 0.01, logging on.
    pub fn new(epochs: usize) -> FitOptions {
        FitOptions {
            epochs,
            learning_rate: 0.01,
            momentum: 0.0,
            wd: 0.0,
            log: false,
        }
    }

    /// With this learning rate.
    pub fn learning_rate(mut self, lr: f64) -> FitOptions {
        self.learning_rate = lr;
        self
    }

    /// With this momentum.
    pub fn momentum(mut self, momentum: f64) -> FitOptions {
        self.momentum = momentum;
        self
    }

    /// With one log line per epoch.
    pub fn log(mut self, on: bool) -> FitOptions {
        self.log = on;
        self
    }
}

/// What a batch-end callback sees (MXNet's `BatchEndParam`).
#[derive(Debug, Clone, PartialEq)]
pub struct BatchEnd {
    /// The epoch, from 0.
    pub epoch: usize,
    /// The batch within the epoch, from 0.
    pub batch: usize,
    /// The training metric so far this epoch.
    pub metric: (String, f64),
}

/// Callbacks of [`Module::fit_with`]: after every batch and after every epoch.
#[derive(Default)]
pub struct Callbacks<'a> {
    /// Called after each batch's update.
    pub batch_end: Option<BatchEndFn<'a>>,
    /// Called after each epoch (and its evaluation).
    pub epoch_end: Option<EpochEndFn<'a>>,
}

/// A batch-end callback.
pub type BatchEndFn<'a> = Box<dyn FnMut(&BatchEnd) + 'a>;

/// An epoch-end callback.
pub type EpochEndFn<'a> = Box<dyn FnMut(&EpochReport) + 'a>;

impl std::fmt::Debug for Callbacks<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Callbacks")
            .field("batch_end", &self.batch_end.is_some())
            .field("epoch_end", &self.epoch_end.is_some())
            .finish()
    }
}

/// What one epoch of [`Module::fit`] measured.
#[derive(Debug, Clone, PartialEq)]
pub struct EpochReport {
    /// The epoch, from 0.
    pub epoch: usize,
    /// The training metric (name, value).
    pub train_metric: (String, f64),
    /// The evaluation metric, when evaluation data was given.
    pub eval_metric: Option<(String, f64)>,
    /// Training throughput (samples per second of the epoch, evaluation excluded).
    pub samples_per_sec: f64,
    /// The epoch's training time in seconds.
    pub seconds: f64,
}

/// Everything [`Module::fit`] measured.
#[derive(Debug, Clone, PartialEq)]
pub struct FitReport {
    /// One report per epoch.
    pub epochs: Vec<EpochReport>,
}

/// A symbol with its executor, parameters and optimizer.
#[derive(Debug)]
pub struct Module {
    symbol: Symbol,
    context: Context,
    data_names: Vec<String>,
    label_names: Vec<String>,
    exec: Option<Executor>,
    params_ready: bool,
}

fn module_error(reason: String) -> Error {
    Error::InvalidArgument {
        call: "Module",
        reason,
    }
}

impl Module {
    /// A module over `symbol` whose inputs are `data_names` and `label_names`.
    pub fn new(
        symbol: Symbol,
        data_names: &[&str],
        label_names: &[&str],
        context: Context,
    ) -> Module {
        Module {
            symbol,
            context,
            data_names: data_names.iter().map(|s| s.to_string()).collect(),
            label_names: label_names.iter().map(|s| s.to_string()).collect(),
            exec: None,
            params_ready: false,
        }
    }

    /// Binds to the shapes an iterator provides (gradients for every argument but the inputs).
    /// Parameters of an earlier binding with the same shapes are kept.
    pub fn bind(&mut self, iter: &dyn DataIter) -> Result<()> {
        let descs: Vec<_> = iter
            .provide_data()
            .into_iter()
            .chain(iter.provide_label())
            .collect();
        let shapes: Vec<(&str, &[usize])> = descs
            .iter()
            .map(|d| (d.name.as_str(), d.shape.as_slice()))
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
        let inputs: Vec<&str> = self
            .data_names
            .iter()
            .chain(&self.label_names)
            .map(String::as_str)
            .collect();
        self.exec = Some(match &self.exec {
            Some(exe) => exe.reshape(&shapes)?,
            None => self
                .symbol
                .simple_bind(self.context, &shapes, GradReq::Write, &inputs)?,
        });
        Ok(())
    }

    fn exec(&mut self) -> Result<&mut Executor> {
        self.exec
            .as_mut()
            .ok_or_else(|| module_error("not bound (call bind or fit first)".into()))
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
        let (args, aux) = self.get_params()?;
        for (name, array) in args.iter().chain(&aux) {
            init.initialize(&InitDesc::new(name.as_str()), array)?;
        }
        self.params_ready = true;
        Ok(())
    }

    /// Copies parameters in by name (MXNet's `set_params`); every parameter must be given.
    pub fn set_params(
        &mut self,
        args: &[(String, NDArray)],
        aux: &[(String, NDArray)],
    ) -> Result<()> {
        let (mine, my_aux) = self.get_params()?;
        for (name, dst) in mine.iter().chain(&my_aux) {
            let src = args
                .iter()
                .chain(aux)
                .find(|(n, _)| n == name)
                .ok_or_else(|| module_error(format!("no value given for parameter {name}")))?;
            dst.assign(&src.1)?;
        }
        self.params_ready = true;
        Ok(())
    }

    /// The parameters (arguments other than the inputs) and auxiliary states, by name.
    pub fn get_params(&mut self) -> Result<(NamedArrays, NamedArrays)> {
        let exe = self
            .exec
            .as_ref()
            .ok_or_else(|| module_error("not bound (call bind or fit first)".into()))?;
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

    /// Copies a batch into the executor's inputs.
    fn load_batch(&mut self, batch: &DataBatch) -> Result<()> {
        let names: Vec<String> = self
            .data_names
            .iter()
            .chain(&self.label_names)
            .cloned()
            .collect();
        let exe = self.exec()?;
        let args = exe.arg_dict();
        for (name, value) in names.iter().zip(batch.data.iter().chain(&batch.label)) {
            let dst = args
                .get(name)
                .ok_or_else(|| module_error(format!("the symbol has no argument {name}")))?;
            dst.assign(value)?;
        }
        Ok(())
    }

    /// Trains for `options.epochs` epochs with SGD (rescaled by the batch size, as MXNet's
    /// Module does), updating `metric` per batch and evaluating on `eval` after each epoch.
    /// Binds and initializes (uniform ±0.07, biases zero) when that was not done yet.
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
        if self.exec.is_none() {
            self.bind(train)?;
        }
        if !self.params_ready {
            self.init_params(&Uniform::new(0.07))?;
        }
        let batch_size = train.batch_size();
        let (args, _) = self.get_params()?;
        let names: Vec<String> = args.iter().map(|(n, _)| n.clone()).collect();
        let sgd = Sgd::new()
            .learning_rate(options.learning_rate)
            .momentum(options.momentum)
            .wd(options.wd)
            .rescale_grad(1.0 / batch_size as f64)
            .param_names(names.iter().enumerate().map(|(i, n)| (i, n.clone())));
        let mut updater = Updater::new(sgd);
        let mut report = FitReport { epochs: Vec::new() };
        for epoch in 0..options.epochs {
            // Evaluation may have rebound for its batch size; training's plan is cached.
            self.ensure_batch_size(train)?;
            train.reset()?;
            metric.reset();
            let start = Instant::now();
            let mut samples = 0;
            let mut index = 0;
            while let Some(batch) = train.next_batch()? {
                self.load_batch(&batch)?;
                let exe = self.exec()?;
                exe.forward(true)?;
                exe.backward(&[])?;
                let grads = exe.grad_dict();
                for (i, (name, weight)) in args.iter().enumerate() {
                    if let Some(grad) = grads.get(name) {
                        updater.update(i, grad, weight)?;
                    }
                }
                let outputs = exe.outputs();
                let labels: Vec<&NDArray> = batch.label.iter().collect();
                let preds: Vec<&NDArray> = outputs.iter().collect();
                metric.update(&labels, &preds)?;
                samples += batch_size - batch.pad;
                if let Some(cb) = callbacks.batch_end.as_mut() {
                    cb(&BatchEnd {
                        epoch,
                        batch: index,
                        metric: metric.get(),
                    });
                }
                index += 1;
            }
            nd::waitall()?;
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
            if options.log {
                let eval_text = epoch_report
                    .eval_metric
                    .as_ref()
                    .map(|(n, v)| format!(" Validation-{n}={v:.6}"))
                    .unwrap_or_default();
                eprintln!(
                    "Epoch[{epoch}] Train-{}={:.6}{eval_text} Time cost={seconds:.3} Speed: {:.0} samples/sec",
                    epoch_report.train_metric.0,
                    epoch_report.train_metric.1,
                    epoch_report.samples_per_sec
                );
            }
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
            let exe = self.exec()?;
            exe.forward(false)?;
            let keep = iter.batch_size() - batch.pad;
            let preds: Vec<NDArray> = exe
                .outputs()
                .iter()
                .map(|o| o.slice(0, keep))
                .collect::<Result<_>>()?;
            let labels: Vec<NDArray> = batch
                .label
                .iter()
                .map(|l| l.slice(0, keep))
                .collect::<Result<_>>()?;
            metric.update(
                &labels.iter().collect::<Vec<_>>(),
                &preds.iter().collect::<Vec<_>>(),
            )?;
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
            let exe = self.exec()?;
            exe.forward(false)?;
            let keep = iter.batch_size() - batch.pad;
            parts.push(exe.outputs()[0].slice(0, keep)?.copy()?);
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
        let exe = self
            .exec
            .as_ref()
            .ok_or_else(|| module_error("not bound (call bind or fit first)".into()))?;
        let bound = exe.arg_dict();
        let same = iter
            .provide_data()
            .into_iter()
            .chain(iter.provide_label())
            .all(|d| {
                bound
                    .get(&d.name)
                    .is_some_and(|a| a.shape() == d.shape.as_slice())
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
