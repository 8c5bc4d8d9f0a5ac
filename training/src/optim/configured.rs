//! What every optimizer is built from: the shared bookkeeping ([`OptimizerCore`]) and the
//! optimizer's own hyper-parameters, with the builder methods every optimizer takes written
//! once (MXNet's `Optimizer.__init__` keyword arguments).

use super::optimizer::OptimizerCore;
use super::scheduler::LrScheduler;

/// An optimizer of the kind `P` ([`SgdParams`](super::SgdParams),
/// [`AdamParams`](super::AdamParams)): the settings and counters every optimizer shares, and
/// `P`, its own hyper-parameters. [`Sgd`](super::Sgd) and [`Adam`](super::Adam) name it; the
/// builder methods here are theirs (each optimizer adds its own beside them).
#[derive(Debug)]
pub struct OptimizerOf<P> {
    pub(crate) core: OptimizerCore,
    pub(crate) params: P,
}

/// An optimizer's own hyper-parameters: their defaults (`Default`) are MXNet's, beside the
/// optimizer's default learning rate.
pub trait OptimizerParams: Default {
    /// The learning rate when none is given (MXNet's, per optimizer).
    const DEFAULT_LR: f64;
}

impl<P: OptimizerParams> Default for OptimizerOf<P> {
    fn default() -> OptimizerOf<P> {
        OptimizerOf::new()
    }
}

impl<P: OptimizerParams> OptimizerOf<P> {
    /// The optimizer with MXNet's defaults: `P`'s learning rate ([`Sgd`](super::Sgd) 0.01,
    /// [`Adam`](super::Adam) 0.001) and hyper-parameters, no weight decay, no clipping, no
    /// schedule (see [`OptimizerCore::new`]).
    pub fn new() -> OptimizerOf<P> {
        OptimizerOf {
            core: OptimizerCore::new(P::DEFAULT_LR),
            params: P::default(),
        }
    }
}

impl<P> OptimizerOf<P> {
    /// The learning rate (replaces a schedule's base rate, as in MXNet).
    pub fn learning_rate(mut self, lr: f64) -> Self {
        self.core.set_initial_lr(lr);
        self
    }

    /// The weight-decay coefficient.
    pub fn wd(mut self, wd: f64) -> Self {
        self.core.wd = wd;
        self
    }

    /// The gradient multiplier (often `1 / batch_size`).
    pub fn rescale_grad(mut self, rescale: f64) -> Self {
        self.core.rescale_grad = rescale;
        self
    }

    /// Clips the gradient to `[-clip, clip]`: SGD the rescaled gradient, Adam
    /// `rescale·g + wd·w` (as MXNet's update operators do).
    pub fn clip_gradient(mut self, clip: f64) -> Self {
        self.core.clip_gradient = Some(clip);
        self
    }

    /// A learning-rate schedule.
    pub fn lr_scheduler(mut self, scheduler: impl LrScheduler + 'static) -> Self {
        self.core.set_lr_scheduler(Box::new(scheduler));
        self
    }

    /// Names the parameters by index (see [`OptimizerCore::set_param_names`]).
    pub fn param_names<S: Into<String>>(
        mut self,
        names: impl IntoIterator<Item = (usize, S)>,
    ) -> Self {
        self.core.set_param_names(names);
        self
    }
}
