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

/// A learning-rate schedule: the base rate and warm-up every schedule has (MXNet's
/// `LRScheduler` base class), and `R`, the rule that moves the base rate after the warm-up.
/// [`FactorScheduler`], [`MultiFactorScheduler`], [`PolyScheduler`] and [`CosineScheduler`]
/// name it; [`Schedule::warmup`] and the [`LrScheduler`] implementation are theirs.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule<R> {
    /// The current base rate (the step schedules lower it as they pass each step).
    base_lr: f64,
    warmup: Warmup,
    rule: R,
}

/// How a [`Schedule`] moves its base rate once the warm-up is over.
pub trait ScheduleRule: fmt::Debug + Send {
    /// The call a bad warm-up is reported as (`FactorScheduler::warmup`).
    const WARMUP_CALL: &'static str;

    /// Moves `base_lr` to update count `num_update`, past a warm-up of `warmup_steps`.
    fn advance(&mut self, base_lr: &mut f64, num_update: u64, warmup_steps: u64);
}

impl<R> Schedule<R> {
    /// A schedule from `base_lr` by `rule`, without warm-up.
    fn with_rule(base_lr: f64, rule: R) -> Schedule<R> {
        Schedule {
            base_lr,
            warmup: Warmup::none(base_lr),
            rule,
        }
    }

    /// Sets the starting rate, which is also the rate the warm-up ends at.
    fn set_initial_lr(&mut self, lr: f64) {
        self.base_lr = lr;
        self.warmup.final_lr = lr;
    }
}

impl<R: ScheduleRule> Schedule<R> {
    /// A warm-up over the first `steps` updates starting from `begin_lr` (at most the base
    /// rate; set the base rate first).
    pub fn warmup(mut self, steps: u64, begin_lr: f64, mode: WarmupMode) -> Result<Self> {
        self.warmup = Warmup::new(R::WARMUP_CALL, self.base_lr, steps, begin_lr, mode)?;
        Ok(self)
    }
}

impl<R: ScheduleRule> LrScheduler for Schedule<R> {
    fn lr(&mut self, num_update: u64) -> f64 {
        if let Some(lr) = self.warmup.lr(num_update) {
            return lr;
        }
        self.rule
            .advance(&mut self.base_lr, num_update, self.warmup.steps);
        self.base_lr
    }
    fn base_lr(&self) -> f64 {
        self.base_lr
    }
    fn set_base_lr(&mut self, lr: f64) {
        self.base_lr = lr;
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
pub type FactorScheduler = Schedule<FactorRule>;

/// [`FactorScheduler`]'s rule.
#[derive(Debug, Clone, PartialEq)]
pub struct FactorRule {
    step: u64,
    factor: f64,
    stop_factor_lr: f64,
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
        let rule = FactorRule {
            step,
            factor,
            stop_factor_lr: 1e-8,
            count: 0,
        };
        Ok(Schedule::with_rule(0.01, rule))
    }

    /// The floor of the learning rate.
    pub fn stop_factor_lr(mut self, lr: f64) -> FactorScheduler {
        self.rule.stop_factor_lr = lr;
        self
    }

    /// The starting learning rate (also the rate the warm-up ends at).
    pub fn base_lr(mut self, lr: f64) -> FactorScheduler {
        self.set_initial_lr(lr);
        self
    }
}

impl ScheduleRule for FactorRule {
    const WARMUP_CALL: &'static str = "FactorScheduler::warmup";

    fn advance(&mut self, base_lr: &mut f64, num_update: u64, _warmup_steps: u64) {
        while num_update > self.count + self.step {
            self.count += self.step;
            *base_lr *= self.factor;
            if *base_lr < self.stop_factor_lr {
                *base_lr = self.stop_factor_lr;
            }
        }
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
pub type MultiFactorScheduler = Schedule<MultiFactorRule>;

/// [`MultiFactorScheduler`]'s rule.
#[derive(Debug, Clone, PartialEq)]
pub struct MultiFactorRule {
    steps: Vec<u64>,
    factor: f64,
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
        let rule = MultiFactorRule {
            steps,
            factor,
            cur_step_ind: 0,
            count: 0,
        };
        Ok(Schedule::with_rule(0.01, rule))
    }

    /// The starting learning rate (also the rate the warm-up ends at).
    pub fn base_lr(mut self, lr: f64) -> MultiFactorScheduler {
        self.set_initial_lr(lr);
        self
    }

    /// The last step passed (0 before the first).
    pub fn count(&self) -> u64 {
        self.rule.count
    }
}

impl ScheduleRule for MultiFactorRule {
    const WARMUP_CALL: &'static str = "MultiFactorScheduler::warmup";

    fn advance(&mut self, base_lr: &mut f64, num_update: u64, _warmup_steps: u64) {
        while let Some(&step) = self.steps.get(self.cur_step_ind) {
            if num_update > step {
                self.count = step;
                self.cur_step_ind += 1;
                *base_lr *= self.factor;
            } else {
                break;
            }
        }
    }
}

/// A decay from the base rate to `final_lr` over `max_update` updates, counted after the
/// warm-up: what [`PolyRule`] and [`CosineRule`] share.
#[derive(Debug, Clone, PartialEq)]
struct Decay {
    max_update: u64,
    base_lr_orig: f64,
    final_lr: f64,
}

impl Decay {
    /// The schedule from `base_lr` with this decay and `rule` (made from it).
    fn schedule<R>(
        call: &'static str,
        max_update: u64,
        base_lr: f64,
        final_lr: f64,
        rule: impl FnOnce(Decay) -> R,
    ) -> Result<Schedule<R>> {
        if max_update < 1 {
            return Err(Error::InvalidArgument {
                call,
                reason: "maximum number of updates must be strictly positive".into(),
            });
        }
        let decay = Decay {
            max_update,
            base_lr_orig: base_lr,
            final_lr,
        };
        Ok(Schedule::with_rule(base_lr, rule(decay)))
    }

    /// Up to `max_update`, sets `base_lr` to `final_lr` plus `decayed(base_lr − final_lr, n,
    /// max_steps)` with `n` updates of `max_steps` done after the warm-up; past it, leaves the
    /// last rate.
    fn advance(
        &self,
        base_lr: &mut f64,
        num_update: u64,
        warmup_steps: u64,
        decayed: impl Fn(f64, f64, f64) -> f64,
    ) {
        if num_update <= self.max_update {
            let max_steps = self.max_update as f64 - warmup_steps as f64;
            let n = (num_update - warmup_steps) as f64;
            *base_lr = self.final_lr + decayed(self.base_lr_orig - self.final_lr, n, max_steps);
        }
    }
}

/// Polynomial decay to `final_lr` over `max_update` updates (MXNet's `PolyScheduler`):
/// `final_lr + (base_lr − final_lr)·(1 − n/max_steps)^pwr`, with `n` counted after the
/// warm-up.
pub type PolyScheduler = Schedule<PolyRule>;

/// [`PolyScheduler`]'s rule.
#[derive(Debug, Clone, PartialEq)]
pub struct PolyRule {
    decay: Decay,
    power: f64,
}

impl PolyScheduler {
    /// Decay from `base_lr` to `final_lr` with power `pwr` over `max_update` (>= 1) updates.
    pub fn new(max_update: u64, base_lr: f64, pwr: f64, final_lr: f64) -> Result<PolyScheduler> {
        Decay::schedule(
            "PolyScheduler::new",
            max_update,
            base_lr,
            final_lr,
            |decay| PolyRule { decay, power: pwr },
        )
    }
}

impl ScheduleRule for PolyRule {
    const WARMUP_CALL: &'static str = "PolyScheduler::warmup";

    fn advance(&mut self, base_lr: &mut f64, num_update: u64, warmup_steps: u64) {
        let power = self.power;
        self.decay
            .advance(base_lr, num_update, warmup_steps, |span, n, max_steps| {
                span * (1.0 - n / max_steps).powf(power)
            });
    }
}

/// Cosine decay to `final_lr` over `max_update` updates (MXNet's `CosineScheduler`):
/// `final_lr + (base_lr − final_lr)·(1 + cos(π·n/max_steps))/2`.
pub type CosineScheduler = Schedule<CosineRule>;

/// [`CosineScheduler`]'s rule.
#[derive(Debug, Clone, PartialEq)]
pub struct CosineRule {
    decay: Decay,
}

impl CosineScheduler {
    /// Decay from `base_lr` to `final_lr` over `max_update` (>= 1) updates.
    pub fn new(max_update: u64, base_lr: f64, final_lr: f64) -> Result<CosineScheduler> {
        Decay::schedule(
            "CosineScheduler::new",
            max_update,
            base_lr,
            final_lr,
            |decay| CosineRule { decay },
        )
    }
}

impl ScheduleRule for CosineRule {
    const WARMUP_CALL: &'static str = "CosineScheduler::warmup";

    fn advance(&mut self, base_lr: &mut f64, num_update: u64, warmup_steps: u64) {
        self.decay
            .advance(base_lr, num_update, warmup_steps, |span, n, max_steps| {
                span * (1.0 + (PI * n / max_steps).cos()) / 2.0
            });
    }
}
