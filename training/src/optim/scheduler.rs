//! Learning-rate schedules (MXNet's `mx.lr_scheduler`).
//!
//! A schedule maps the optimizer's update count (`num_update`, the largest number of updates
//! applied to any one weight) to a learning rate. As in MXNet, the step schedules keep state:
//! they lower their `base_lr` as the count passes each step, so they are called with
//! non-decreasing counts (a smaller count later gets the already-lowered rate).

use std::f64::consts::PI;
use std::fmt;

use crate::{Error, Result};

/// A learning-rate schedule (MXNet's `LRScheduler`).
pub trait LrScheduler: fmt::Debug + Send {
    /// The learning rate for update count `num_update` (MXNet's `scheduler(num_update)`); may
    /// advance the schedule's state.
    fn lr(&mut self, num_update: u64) -> f64;

    /// The current base learning rate.
    fn base_lr(&self) -> f64;

    /// Replaces the base learning rate (what an optimizer given both a `learning_rate` and a
    /// schedule does).
    fn set_base_lr(&mut self, lr: f64);
}

/// How the learning rate moves during warm-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WarmupMode {
    /// From `warmup_begin_lr` to the base rate in equal increments (MXNet's default).
    #[default]
    Linear,
    /// `warmup_begin_lr` throughout the warm-up.
    Constant,
}

/// The warm-up shared by every schedule (MXNet's `LRScheduler.__init__` arguments).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Warmup {
    steps: u64,
    begin_lr: f64,
    /// The base rate when the schedule was made (MXNet's `warmup_final_lr`; later changes of
    /// the base rate do not move it).
    final_lr: f64,
    mode: WarmupMode,
}

impl Warmup {
    fn none(base_lr: f64) -> Warmup {
        Warmup {
            steps: 0,
            begin_lr: 0.0,
            final_lr: base_lr,
            mode: WarmupMode::Linear,
        }
    }

    fn new(
        call: &'static str,
        base_lr: f64,
        steps: u64,
        begin_lr: f64,
        mode: WarmupMode,
    ) -> Result<Warmup> {
        if begin_lr > base_lr {
            return Err(Error::InvalidArgument {
                call,
                reason: format!(
                    "base lr ({base_lr}) has to be higher than warmup_begin_lr ({begin_lr})"
                ),
            });
        }
        Ok(Warmup {
            steps,
            begin_lr,
            final_lr: base_lr,
            mode,
        })
    }

    /// The warm-up rate, when `num_update` is still in the warm-up.
    fn lr(&self, num_update: u64) -> Option<f64> {
        if num_update >= self.steps {
            return None;
        }
        Some(match self.mode {
            WarmupMode::Linear => {
                let increase =
                    (self.final_lr - self.begin_lr) * num_update as f64 / self.steps as f64;
                self.begin_lr + increase
            }
            WarmupMode::Constant => self.begin_lr,
        })
    }
}

/// The base rate and warm-up every schedule keeps (MXNet's `LRScheduler` fields).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Base {
    /// The current base rate (the step schedules lower it as they pass each step).
    lr: f64,
    warmup: Warmup,
}

impl Base {
    /// Base rate `lr`, no warm-up.
    fn new(lr: f64) -> Base {
        Base {
            lr,
            warmup: Warmup::none(lr),
        }
    }

    /// Sets the starting rate, which is also the rate the warm-up ends at.
    fn set_initial(&mut self, lr: f64) {
        self.lr = lr;
        self.warmup.final_lr = lr;
    }

    /// The rate at `num_update`: the warm-up's while it lasts, else the base rate once
    /// `advance` has moved it to `num_update`.
    fn lr(&mut self, num_update: u64, advance: impl FnOnce(&mut f64)) -> f64 {
        if let Some(lr) = self.warmup.lr(num_update) {
            return lr;
        }
        advance(&mut self.lr);
        self.lr
    }

    /// Replaces the warm-up (see [`Warmup::new`]).
    fn set_warmup(
        &mut self,
        call: &'static str,
        steps: u64,
        begin_lr: f64,
        mode: WarmupMode,
    ) -> Result<()> {
        self.warmup = Warmup::new(call, self.lr, steps, begin_lr, mode)?;
        Ok(())
    }
}

fn check_factor(call: &'static str, factor: f64) -> Result<()> {
    if factor > 1.0 {
        return Err(Error::InvalidArgument {
            call,
            reason: format!("factor must be no more than 1 to make lr reduce, got {factor}"),
        });
    }
    Ok(())
}

/// Multiplies the learning rate by `factor` every `step` updates, never going below
/// `stop_factor_lr` (MXNet's `FactorScheduler`): `base_lr · factor^⌊(num_update − 1) / step⌋`.
///
/// ```
/// use mxr::optim::{FactorScheduler, LrScheduler};
/// let mut s = FactorScheduler::new(10, 0.5)?.base_lr(0.1);
/// assert_eq!(s.lr(10), 0.1);
/// assert_eq!(s.lr(11), 0.05); // past the first step
/// assert_eq!(s.lr(21), 0.025);
/// # Ok::<(), mxr::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct FactorScheduler {
    step: u64,
    factor: f64,
    stop_factor_lr: f64,
    base: Base,
    count: u64,
}

impl FactorScheduler {
    /// A schedule changing every `step` (>= 1) updates by `factor` (<= 1), with MXNet's
    /// defaults `stop_factor_lr = 1e-8` and `base_lr = 0.01`.
    pub fn new(step: u64, factor: f64) -> Result<FactorScheduler> {
        if step < 1 {
            return Err(Error::InvalidArgument {
                call: "FactorScheduler::new",
                reason: "schedule step must be greater or equal than 1 round".into(),
            });
        }
        check_factor("FactorScheduler::new", factor)?;
        Ok(FactorScheduler {
            step,
            factor,
            stop_factor_lr: 1e-8,
            base: Base::new(0.01),
            count: 0,
        })
    }

    /// The floor of the learning rate.
    pub fn stop_factor_lr(mut self, lr: f64) -> FactorScheduler {
        self.stop_factor_lr = lr;
        self
    }

    /// The starting learning rate (also the rate the warm-up ends at).
    pub fn base_lr(mut self, lr: f64) -> FactorScheduler {
        self.base.set_initial(lr);
        self
    }

    /// A warm-up over the first `steps` updates starting from `begin_lr` (at most the base
    /// rate; set the base rate first).
    pub fn warmup(
        mut self,
        steps: u64,
        begin_lr: f64,
        mode: WarmupMode,
    ) -> Result<FactorScheduler> {
        self.base
            .set_warmup("FactorScheduler::warmup", steps, begin_lr, mode)?;
        Ok(self)
    }
}

impl LrScheduler for FactorScheduler {
    fn lr(&mut self, num_update: u64) -> f64 {
        self.base.lr(num_update, |lr| {
            while num_update > self.count + self.step {
                self.count += self.step;
                *lr *= self.factor;
                if *lr < self.stop_factor_lr {
                    *lr = self.stop_factor_lr;
                }
            }
        })
    }
    fn base_lr(&self) -> f64 {
        self.base.lr
    }
    fn set_base_lr(&mut self, lr: f64) {
        self.base.lr = lr;
    }
}

/// Multiplies the learning rate by `factor` as the update count passes each of `steps`
/// (MXNet's `MultiFactorScheduler`).
///
/// ```
/// use mxr::optim::{LrScheduler, MultiFactorScheduler};
/// let mut s = MultiFactorScheduler::new(vec![5, 10], 0.5)?.base_lr(1.0);
/// assert_eq!([s.lr(5), s.lr(6), s.lr(11)], [1.0, 0.5, 0.25]);
/// # Ok::<(), mxr::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct MultiFactorScheduler {
    steps: Vec<u64>,
    factor: f64,
    base: Base,
    cur_step_ind: usize,
    count: u64,
}

impl MultiFactorScheduler {
    /// A schedule with strictly increasing `steps` (each >= 1, at least one) and `factor`
    /// (<= 1); `base_lr` defaults to 0.01.
    pub fn new(steps: Vec<u64>, factor: f64) -> Result<MultiFactorScheduler> {
        let call = "MultiFactorScheduler::new";
        if steps.is_empty() {
            return Err(Error::InvalidArgument {
                call,
                reason: "at least one step is needed".into(),
            });
        }
        if steps.windows(2).any(|w| w[1] <= w[0]) {
            return Err(Error::InvalidArgument {
                call,
                reason: format!("schedule steps must be an increasing integer list, got {steps:?}"),
            });
        }
        if steps[0] < 1 {
            return Err(Error::InvalidArgument {
                call,
                reason: "schedule step must be greater or equal than 1 round".into(),
            });
        }
        check_factor(call, factor)?;
        Ok(MultiFactorScheduler {
            steps,
            factor,
            base: Base::new(0.01),
            cur_step_ind: 0,
            count: 0,
        })
    }

    /// The starting learning rate (also the rate the warm-up ends at).
    pub fn base_lr(mut self, lr: f64) -> MultiFactorScheduler {
        self.base.set_initial(lr);
        self
    }

    /// A warm-up over the first `steps` updates starting from `begin_lr`.
    pub fn warmup(
        mut self,
        steps: u64,
        begin_lr: f64,
        mode: WarmupMode,
    ) -> Result<MultiFactorScheduler> {
        self.base
            .set_warmup("MultiFactorScheduler::warmup", steps, begin_lr, mode)?;
        Ok(self)
    }

    /// The last step passed (0 before the first).
    pub fn count(&self) -> u64 {
        self.count
    }
}

impl LrScheduler for MultiFactorScheduler {
    fn lr(&mut self, num_update: u64) -> f64 {
        self.base.lr(num_update, |lr| {
            while let Some(&step) = self.steps.get(self.cur_step_ind) {
                if num_update > step {
                    self.count = step;
                    self.cur_step_ind += 1;
                    *lr *= self.factor;
                } else {
                    break;
                }
            }
        })
    }
    fn base_lr(&self) -> f64 {
        self.base.lr
    }
    fn set_base_lr(&mut self, lr: f64) {
        self.base.lr = lr;
    }
}

/// A decay from the base rate to `final_lr` over `max_update` updates, counted after the
/// warm-up: what [`PolyScheduler`] and [`CosineScheduler`] share.
#[derive(Debug, Clone, PartialEq)]
struct Decay {
    max_update: u64,
    base_lr_orig: f64,
    base: Base,
    final_lr: f64,
}

impl Decay {
    fn new(call: &'static str, max_update: u64, base_lr: f64, final_lr: f64) -> Result<Decay> {
        if max_update < 1 {
            return Err(Error::InvalidArgument {
                call,
                reason: "maximum number of updates must be strictly positive".into(),
            });
        }
        Ok(Decay {
            max_update,
            base_lr_orig: base_lr,
            base: Base::new(base_lr),
            final_lr,
        })
    }

    /// The rate at `num_update`: the warm-up's, else (up to `max_update`) `final_lr` plus
    /// `decayed(base_lr − final_lr, n, max_steps)` with `n` updates of `max_steps` done after
    /// the warm-up; past `max_update`, the last rate.
    fn lr(&mut self, num_update: u64, decayed: impl Fn(f64, f64, f64) -> f64) -> f64 {
        let (max_update, warmup_steps) = (self.max_update, self.base.warmup.steps);
        let (span, final_lr) = (self.base_lr_orig - self.final_lr, self.final_lr);
        self.base.lr(num_update, |lr| {
            if num_update <= max_update {
                let max_steps = max_update as f64 - warmup_steps as f64;
                let n = (num_update - warmup_steps) as f64;
                *lr = final_lr + decayed(span, n, max_steps);
            }
        })
    }
}

/// Polynomial decay to `final_lr` over `max_update` updates (MXNet's `PolyScheduler`):
/// `final_lr + (base_lr − final_lr)·(1 − n/max_steps)^pwr`, with `n` counted after the
/// warm-up.
#[derive(Debug, Clone, PartialEq)]
pub struct PolyScheduler {
    decay: Decay,
    power: f64,
}

impl PolyScheduler {
    /// Decay from `base_lr` to `final_lr` with power `pwr` over `max_update` (>= 1) updates.
    pub fn new(max_update: u64, base_lr: f64, pwr: f64, final_lr: f64) -> Result<PolyScheduler> {
        Ok(PolyScheduler {
            decay: Decay::new("PolyScheduler::new", max_update, base_lr, final_lr)?,
            power: pwr,
        })
    }

    /// A warm-up over the first `steps` updates starting from `begin_lr`.
    pub fn warmup(mut self, steps: u64, begin_lr: f64, mode: WarmupMode) -> Result<PolyScheduler> {
        self.decay
            .base
            .set_warmup("PolyScheduler::warmup", steps, begin_lr, mode)?;
        Ok(self)
    }
}

impl LrScheduler for PolyScheduler {
    fn lr(&mut self, num_update: u64) -> f64 {
        let power = self.power;
        self.decay.lr(num_update, |span, n, max_steps| {
            span * (1.0 - n / max_steps).powf(power)
        })
    }
    fn base_lr(&self) -> f64 {
        self.decay.base.lr
    }
    fn set_base_lr(&mut self, lr: f64) {
        self.decay.base.lr = lr;
    }
}

/// Cosine decay to `final_lr` over `max_update` updates (MXNet's `CosineScheduler`):
/// `final_lr + (base_lr − final_lr)·(1 + cos(π·n/max_steps))/2`.
#[derive(Debug, Clone, PartialEq)]
pub struct CosineScheduler {
    decay: Decay,
}

impl CosineScheduler {
    /// Decay from `base_lr` to `final_lr` over `max_update` (>= 1) updates.
    pub fn new(max_update: u64, base_lr: f64, final_lr: f64) -> Result<CosineScheduler> {
        Ok(CosineScheduler {
            decay: Decay::new("CosineScheduler::new", max_update, base_lr, final_lr)?,
        })
    }

    /// A warm-up over the first `steps` updates starting from `begin_lr`.
    pub fn warmup(
        mut self,
        steps: u64,
        begin_lr: f64,
        mode: WarmupMode,
    ) -> Result<CosineScheduler> {
        self.decay
            .base
            .set_warmup("CosineScheduler::warmup", steps, begin_lr, mode)?;
        Ok(self)
    }
}

impl LrScheduler for CosineScheduler {
    fn lr(&mut self, num_update: u64) -> f64 {
        self.decay.lr(num_update, |span, n, max_steps| {
            span * (1.0 + (PI * n / max_steps).cos()) / 2.0
        })
    }
    fn base_lr(&self) -> f64 {
        self.decay.base.lr
    }
    fn set_base_lr(&mut self, lr: f64) {
        self.decay.base.lr = lr;
    }
}
