//! Optimizers (MXNet's `mx.optimizer`) over the registered update operators, and learning-rate
//! schedules (MXNet's `mx.lr_scheduler`).
//!
//! - [`Optimizer`]: `create_state` and `update`, with the shared settings in
//!   [`OptimizerCore`] (learning rate or [`LrScheduler`], weight decay, gradient rescaling and
//!   clipping, per-parameter `lr_mult` / `wd_mult`, update counts).
//! - [`Sgd`] (`sgd_update` / `sgd_mom_update`) and [`Adam`] (`adam_update`, with MXNet's bias
//!   correction), each updating the weight in place (MXNet's `out=weight`): both are an
//!   [`OptimizerOf`] their [`OptimizerParams`], which has the builder methods they share.
//! - [`Updater`]: per-key states (MXNet's `get_updater`).
//! - Schedules: [`FactorScheduler`], [`MultiFactorScheduler`], [`PolyScheduler`],
//!   [`CosineScheduler`], with MXNet's update-count semantics: each a [`Schedule`] (the base
//!   rate and warm-up they share) of its [`ScheduleRule`].
//!
//! ```
//! use mxr::nd::NDArray;
//! use mxr::optim::{FactorScheduler, Optimizer, Sgd, Updater};
//! let sgd = Sgd::new()
//!     .learning_rate(0.1)
//!     .lr_scheduler(FactorScheduler::new(2, 0.5)?);
//! let mut updater = Updater::new(sgd);
//! let w = NDArray::from_vec(&[1], vec![0.0f64])?;
//! let g = NDArray::from_vec(&[1], vec![1.0f64])?;
//! for _ in 0..4 {
//!     updater.update(0, &g, &w)?;
//! }
//! // Updates 1 and 2 at lr 0.1, 3 and 4 at 0.05 (the parameters are float32, as in MXNet).
//! assert!((w.to_scalar::<f64>()? + 0.3).abs() < 1e-7);
//! assert_eq!(updater.optimizer().core().num_update(), 4);
//! # Ok::<(), mxr::Error>(())
//! ```

mod adam;
mod configured;
mod optimizer;
mod scheduler;
mod sgd;
mod updater;

pub use adam::{Adam, AdamParams};
pub use configured::{OptimizerOf, OptimizerParams};
pub use optimizer::{Optimizer, OptimizerCore, ParamKey, State};
pub use scheduler::{
    CosineRule, CosineScheduler, FactorRule, FactorScheduler, LrScheduler, MultiFactorRule,
    MultiFactorScheduler, PolyRule, PolyScheduler, Schedule, ScheduleRule, WarmupMode,
};
pub use sgd::{Sgd, SgdParams};
pub use updater::{UpdateItem, Updater, get_updater};

use crate::{Error, Result};

/// An optimizer with its defaults, by MXNet's registered name (case-insensitive): `sgd` or
/// `adam` (MXNet's `mx.optimizer.create(name)`).
pub fn create(name: &str) -> Result<Box<dyn Optimizer>> {
    match name.to_ascii_lowercase().as_str() {
        "sgd" => Ok(Box::new(Sgd::new())),
        "adam" => Ok(Box::new(Adam::new())),
        _ => Err(Error::InvalidArgument {
            call: "optim::create",
            reason: format!("cannot find optimizer {name} (available: sgd, adam)"),
        }),
    }
}

/// An optimizer by MXNet's registered name with `optimizer_params` (MXNet's
/// `mx.optimizer.create(name, **params)`, the form `Module.fit(optimizer=..., optimizer_params=...)`
/// takes). Every optimizer takes `learning_rate`, `wd`, `rescale_grad` and `clip_gradient`; `sgd`
/// also `momentum`; `adam` also `beta1`, `beta2` and `epsilon`. An unknown name or parameter is an
/// error naming it.
///
/// ```
/// let adam = mxr::optim::create_with("adam", &[("learning_rate", 0.002), ("beta1", 0.8)])?;
/// assert!(format!("{adam:?}").contains("beta1: 0.8"));
/// let err = mxr::optim::create_with("sgd", &[("beta1", 0.8)]).unwrap_err();
/// assert!(err.to_string().contains("sgd has no parameter beta1"));
/// # Ok::<(), mxr::Error>(())
/// ```
pub fn create_with(name: &str, params: &[(&str, f64)]) -> Result<Box<dyn Optimizer>> {
    let lower = name.to_ascii_lowercase();
    let specific: &[&str] = match lower.as_str() {
        "sgd" => &["momentum"],
        "adam" => &["beta1", "beta2", "epsilon"],
        _ => &[],
    };
    let mut optimizer: Box<dyn Optimizer> = match lower.as_str() {
        "sgd" => {
            let mut sgd = Sgd::new();
            for &(key, value) in params {
                if key == "momentum" {
                    sgd = sgd.momentum(value);
                }
            }
            Box::new(sgd)
        }
        "adam" => {
            let (mut beta1, mut beta2, mut adam) = (0.9, 0.999, Adam::new());
            for &(key, value) in params {
                match key {
                    "beta1" => beta1 = value,
                    "beta2" => beta2 = value,
                    "epsilon" => adam = adam.epsilon(value),
                    _ => {}
                }
            }
            Box::new(adam.betas(beta1, beta2))
        }
        _ => return create(name),
    };
    let core = optimizer.core_mut();
    for &(key, value) in params {
        match key {
            "learning_rate" => core.set_initial_lr(value),
            "wd" => core.wd = value,
            "rescale_grad" => core.rescale_grad = value,
            "clip_gradient" => core.clip_gradient = Some(value),
            _ if specific.contains(&key) => {}
            _ => {
                return Err(Error::InvalidArgument {
                    call: "optim::create",
                    reason: format!(
                        "optimizer {lower} has no parameter {key} (it takes learning_rate, wd, \
                         rescale_grad, clip_gradient{})",
                        specific
                            .iter()
                            .map(|s| format!(", {s}"))
                            .collect::<String>()
                    ),
                });
            }
        }
    }
    Ok(optimizer)
}

#[cfg(test)]
mod tests;
