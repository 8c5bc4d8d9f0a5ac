//! The options, callbacks and reports of [`Module::fit`](super::Module::fit).

use std::sync::Arc;

use crate::init::Initializer;

/// Options of [`Module::fit`](super::Module::fit) (MXNet's `fit` arguments).
#[derive(Debug, Clone)]
pub struct FitOptions {
    /// Epochs to train.
    pub epochs: usize,
    /// The optimizer by MXNet's name (`sgd`, `adam`), used when the module has none yet
    /// (see [`Module::init_optimizer`](super::Module::init_optimizer)).
    pub optimizer: String,
    /// The optimizer's parameters (MXNet's `optimizer_params`): `learning_rate`, `momentum`,
    /// `wd`, `clip_gradient`, `beta1`, ... (see [`optim::create_with`](crate::optim::create_with)). `rescale_grad`
    /// defaults to `1 / batch_size`, as in MXNet's Module.
    pub optimizer_params: Vec<(String, f64)>,
    /// The initializer used when the parameters are not initialized yet; `None`: MXNet's
    /// default, `Uniform(0.01)` (biases zero, gammas one, by MXNet's rules by name).
    pub initializer: Option<Arc<dyn Initializer>>,
    /// Report progress on stderr: a progress bar per epoch when stderr is a terminal, plain
    /// log lines otherwise (one per epoch, and one every [`FitOptions::log_every`] batches).
    pub log: bool,
    /// Without a terminal, a `Speedometer` line every this many batches (0: none).
    pub log_every: usize,
}

impl FitOptions {
    /// `epochs` epochs of plain SGD with learning rate 0.01, logging off.
    pub fn new(epochs: usize) -> FitOptions {
        FitOptions {
            epochs,
            optimizer: "sgd".into(),
            optimizer_params: vec![("learning_rate".into(), 0.01)],
            initializer: None,
            log: false,
            log_every: 50,
        }
    }

    /// Sets one optimizer parameter (replacing an earlier value).
    pub fn optimizer_param(mut self, key: &str, value: f64) -> FitOptions {
        self.optimizer_params.retain(|(k, _)| k != key);
        self.optimizer_params.push((key.to_string(), value));
        self
    }

    /// With this optimizer (MXNet's name) and parameters.
    pub fn optimizer(mut self, name: &str, params: &[(&str, f64)]) -> FitOptions {
        self.optimizer = name.to_string();
        self.optimizer_params.clear();
        for &(k, v) in params {
            self = self.optimizer_param(k, v);
        }
        self
    }

    /// With this learning rate.
    pub fn learning_rate(self, lr: f64) -> FitOptions {
        self.optimizer_param("learning_rate", lr)
    }

    /// With this momentum (SGD).
    pub fn momentum(self, momentum: f64) -> FitOptions {
        self.optimizer_param("momentum", momentum)
    }

    /// With this weight decay.
    pub fn wd(self, wd: f64) -> FitOptions {
        self.optimizer_param("wd", wd)
    }

    /// With this initializer for parameters not yet initialized.
    pub fn initializer(mut self, init: impl Initializer + 'static) -> FitOptions {
        self.initializer = Some(Arc::new(init));
        self
    }

    /// With progress reports on stderr.
    pub fn log(mut self, on: bool) -> FitOptions {
        self.log = on;
        self
    }

    /// With a plain log line every `batches` batches when stderr is not a terminal.
    pub fn log_every(mut self, batches: usize) -> FitOptions {
        self.log_every = batches;
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

/// Callbacks of [`Module::fit_with`](super::Module::fit_with): after every batch and after every epoch.
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

/// What one epoch of [`Module::fit`](super::Module::fit) measured.
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

/// Everything [`Module::fit`](super::Module::fit) measured.
#[derive(Debug, Clone, PartialEq)]
pub struct FitReport {
    /// One report per epoch.
    pub epochs: Vec<EpochReport>,
}
