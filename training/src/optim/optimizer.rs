//! The optimizer interface and the bookkeeping every optimizer shares (MXNet's `Optimizer`
//! base class): learning rate and schedule, weight decay, gradient rescaling and clipping,
//! per-parameter multipliers, update counts.

use std::collections::HashMap;
use std::fmt;

use super::scheduler::LrScheduler;
use crate::nd::NDArray;
use crate::{Error, Result};

/// The state an optimizer keeps per weight (MXNet's `create_state` result): empty for none,
/// one array for SGD's momentum, two for Adam's mean and variance.
pub type State = Vec<NDArray>;

/// Names a parameter for [`OptimizerCore::set_lr_mult`] / [`OptimizerCore::set_wd_mult`]: by
/// the index passed to [`Optimizer::update`], or by the name given in
/// [`OptimizerCore::set_param_names`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ParamKey {
    /// The update index.
    Index(usize),
    /// The parameter's name.
    Name(String),
}

impl From<usize> for ParamKey {
    fn from(index: usize) -> ParamKey {
        ParamKey::Index(index)
    }
}

impl From<&str> for ParamKey {
    fn from(name: &str) -> ParamKey {
        ParamKey::Name(name.to_string())
    }
}

impl From<String> for ParamKey {
    fn from(name: String) -> ParamKey {
        ParamKey::Name(name)
    }
}

/// An optimizer (MXNet's `mx.optimizer.Optimizer`): creates per-weight state and updates a
/// weight in place from its gradient. [`Updater`](super::Updater) keeps the states by key.
pub trait Optimizer: fmt::Debug + Send {
    /// The state for the weight at `index` (MXNet's `create_state`); called once per weight.
    fn create_state(&self, index: usize, weight: &NDArray) -> Result<State>;

    /// Updates `weight` in place from `grad`, advancing `state` (MXNet's `update`). Counts the
    /// update for `index` (and so may move the learning-rate schedule).
    fn update(
        &mut self,
        index: usize,
        weight: &NDArray,
        grad: &NDArray,
        state: &State,
    ) -> Result<()>;

    /// Updates several weights in one go (MXNet's `update` with lists): all indices are counted
    /// first, then the weights are updated with the rates of that count. By default one
    /// [`Optimizer::update`] per weight.
    fn update_multi(
        &mut self,
        indices: &[usize],
        weights: &[&NDArray],
        grads: &[&NDArray],
        states: &[&State],
    ) -> Result<()> {
        check_update_lengths("Optimizer::update_multi", indices, weights, grads, states)?;
        for (k, &index) in indices.iter().enumerate() {
            self.update(index, weights[k], grads[k], states[k])?;
        }
        Ok(())
    }

    /// How many weights of one dtype an [`Updater`](super::Updater) passes to one
    /// [`Optimizer::update_multi`] call (MXNet's `aggregate_num`); 0 (the default): one by one.
    fn aggregate_num(&self) -> usize {
        0
    }

    /// The shared settings and counters.
    fn core(&self) -> &OptimizerCore;

    /// The shared settings and counters, writable.
    fn core_mut(&mut self) -> &mut OptimizerCore;
}

/// An error unless `indices`, `weights`, `grads` and `states` (the arguments of
/// [`Optimizer::update_multi`]) have one entry per weight.
pub(crate) fn check_update_lengths(
    call: &'static str,
    indices: &[usize],
    weights: &[&NDArray],
    grads: &[&NDArray],
    states: &[&State],
) -> Result<()> {
    let n = indices.len();
    if weights.len() != n || grads.len() != n || states.len() != n {
        return Err(Error::InvalidArgument {
            call,
            reason: format!(
                "{n} indices, {} weights, {} gradients and {} states",
                weights.len(),
                grads.len(),
                states.len()
            ),
        });
    }
    Ok(())
}

/// What every optimizer shares (the fields of MXNet's `Optimizer` base class).
///
/// The learning rate for an index is the schedule's rate for the current update count (or the
/// fixed rate without a schedule) times the index's `lr_mult`; the weight decay is `wd` times
/// its `wd_mult`. A multiplier is looked up by index first, then by the index's name.
///
/// ```
/// use mxr::optim::{Optimizer, Sgd};
/// let mut sgd = Sgd::new().learning_rate(0.1).wd(0.01);
/// let core = sgd.core_mut();
/// core.set_param_names([(0, "fc_weight"), (1, "fc_bias")]);
/// assert_eq!((core.wd_for(0), core.wd_for(1)), (0.01, 0.0)); // no decay for biases
/// core.set_lr_mult([("fc_bias".into(), 2.0)]);
/// assert_eq!(core.lr_for(1), 0.2);
/// ```
#[derive(Debug)]
pub struct OptimizerCore {
    /// Multiplies every gradient before the update (often `1 / batch_size`).
    pub rescale_grad: f64,
    /// Clips the rescaled gradient to `[-c, c]`; `None` (or `Some(0.0)`, as MXNet's Python
    /// tests the value's truth) turns clipping off.
    pub clip_gradient: Option<f64>,
    /// The weight-decay coefficient.
    pub wd: f64,
    lr: f64,
    lr_explicit: bool,
    lr_scheduler: Option<Box<dyn LrScheduler>>,
    lr_mult: HashMap<ParamKey, f64>,
    wd_mult: HashMap<ParamKey, f64>,
    idx2name: HashMap<usize, String>,
    begin_num_update: u64,
    num_update: u64,
    /// Update counts per device id, then per index.
    update_counts: HashMap<u32, HashMap<usize, u64>>,
    device: u32,
}

impl OptimizerCore {
    /// MXNet's defaults: `rescale_grad = 1`, no clipping, `wd = 0`, learning rate
    /// `default_lr` (0.01 in MXNet's base class; optimizers choose their own), no schedule.
    pub fn new(default_lr: f64) -> OptimizerCore {
        OptimizerCore {
            rescale_grad: 1.0,
            clip_gradient: None,
            wd: 0.0,
            lr: default_lr,
            lr_explicit: false,
            lr_scheduler: None,
            lr_mult: HashMap::new(),
            wd_mult: HashMap::new(),
            idx2name: HashMap::new(),
            begin_num_update: 0,
            num_update: 0,
            update_counts: HashMap::new(),
            device: 0,
        }
    }

    /// Sets the learning rate given at construction (MXNet's `learning_rate=`): with a
    /// schedule, it replaces the schedule's base rate.
    pub fn set_initial_lr(&mut self, lr: f64) {
        self.lr = lr;
        self.lr_explicit = true;
        if let Some(s) = &mut self.lr_scheduler {
            s.set_base_lr(lr);
        }
    }

    /// Installs a learning-rate schedule (MXNet's `lr_scheduler=`). A learning rate given at
    /// construction replaces the schedule's base rate, as in MXNet.
    pub fn set_lr_scheduler(&mut self, mut scheduler: Box<dyn LrScheduler>) {
        if self.lr_explicit {
            scheduler.set_base_lr(self.lr);
        }
        self.lr_scheduler = Some(scheduler);
    }

    /// The schedule, if any.
    pub fn lr_scheduler(&self) -> Option<&dyn LrScheduler> {
        self.lr_scheduler.as_deref()
    }

    /// Sets the fixed learning rate (MXNet's `set_learning_rate`); an error when a schedule is
    /// installed.
    pub fn set_learning_rate(&mut self, lr: f64) -> Result<()> {
        if self.lr_scheduler.is_some() {
            return Err(Error::InvalidArgument {
                call: "Optimizer::set_learning_rate",
                reason: "a learning-rate schedule is installed; set_learning_rate can change \
                         the learning rate only without one"
                    .into(),
            });
        }
        self.lr = lr;
        Ok(())
    }

    /// The current learning rate (MXNet's `learning_rate` property): the schedule's rate for
    /// the current update count, or the fixed rate.
    pub fn learning_rate(&mut self) -> f64 {
        match &mut self.lr_scheduler {
            Some(s) => s.lr(self.num_update),
            None => self.lr,
        }
    }

    /// Names the parameters by index (MXNet's `param_idx2name`). Resets the multipliers as
    /// MXNet's constructor does: no learning-rate multipliers, and a weight-decay multiplier
    /// of 0 for every name not ending in `_weight` or `_gamma` (biases, BatchNorm's beta, ...).
    pub fn set_param_names<S: Into<String>>(
        &mut self,
        names: impl IntoIterator<Item = (usize, S)>,
    ) {
        self.idx2name = names.into_iter().map(|(i, n)| (i, n.into())).collect();
        self.set_lr_mult(std::iter::empty());
        self.set_wd_mult(std::iter::empty());
    }

    /// The parameter names by index.
    pub fn param_names(&self) -> &HashMap<usize, String> {
        &self.idx2name
    }

    /// Replaces the learning-rate multipliers (MXNet's `set_lr_mult`).
    pub fn set_lr_mult(&mut self, mults: impl IntoIterator<Item = (ParamKey, f64)>) {
        self.lr_mult = mults.into_iter().collect();
    }

    /// Replaces the weight-decay multipliers (MXNet's `set_wd_mult`): 0 for every named
    /// parameter whose name does not end in `_weight` or `_gamma`, then `mults`.
    pub fn set_wd_mult(&mut self, mults: impl IntoIterator<Item = (ParamKey, f64)>) {
        self.wd_mult = self
            .idx2name
            .values()
            .filter(|n| !(n.ends_with("_weight") || n.ends_with("_gamma")))
            .map(|n| (ParamKey::Name(n.clone()), 0.0))
            .collect();
        self.wd_mult.extend(mults);
    }

    fn mult(&self, table: &HashMap<ParamKey, f64>, index: usize) -> f64 {
        if let Some(m) = table.get(&ParamKey::Index(index)) {
            return *m;
        }
        self.idx2name
            .get(&index)
            .and_then(|name| table.get(&ParamKey::Name(name.clone())))
            .copied()
            .unwrap_or(1.0)
    }

    /// The learning rate for `index` (MXNet's `_get_lr`): the current rate times its
    /// multiplier. Consults the schedule.
    pub fn lr_for(&mut self, index: usize) -> f64 {
        let lr = self.learning_rate();
        lr * self.mult(&self.lr_mult, index)
    }

    /// The weight decay for `index` (MXNet's `_get_wd`).
    pub fn wd_for(&self, index: usize) -> f64 {
        self.wd * self.mult(&self.wd_mult, index)
    }

    /// Starts counting updates from `n` (MXNet's `begin_num_update`).
    pub fn set_begin_num_update(&mut self, n: u64) {
        self.begin_num_update = n;
        self.num_update = self.num_update.max(n);
    }

    /// The largest number of updates applied to any one weight (MXNet's `num_update`), which
    /// drives the schedule.
    pub fn num_update(&self) -> u64 {
        self.num_update
    }

    /// How many times `index` was updated on the current device (MXNet's
    /// `_index_update_count[index]`, counted from `begin_num_update`).
    pub fn update_count(&self, index: usize) -> Option<u64> {
        self.update_counts
            .get(&self.device)
            .and_then(|c| c.get(&index))
            .copied()
    }

    /// Counts one update of `index` (MXNet's `_update_count`); returns its new count.
    pub fn count_update(&mut self, index: usize) -> u64 {
        let begin = self.begin_num_update;
        let count = self
            .update_counts
            .entry(self.device)
            .or_default()
            .entry(index)
            .or_insert(begin);
        *count += 1;
        let count = *count;
        self.num_update = self.num_update.max(count);
        count
    }

    /// Switches the update counts to those of device `device_id` (MXNet's
    /// `_set_current_context`; the [`Updater`](super::Updater) calls it).
    pub fn set_current_device(&mut self, device_id: u32) {
        self.device = device_id;
    }

    /// The gradient-clipping bound to pass to the update operators: `None` when off.
    pub(crate) fn clip(&self) -> Option<f64> {
        self.clip_gradient.filter(|&c| c != 0.0)
    }
}

/// A float in the shortest form that reads back as the same `f64` (as Python's `str(float)`).
pub(crate) fn attr(v: f64) -> String {
    format!("{v:?}")
}
