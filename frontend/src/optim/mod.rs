//! Optimizers (MXNet's `mx.optimizer`) over the registered update operators, and learning-rate
//! schedules (MXNet's `mx.lr_scheduler`).
//!
//! - [`Optimizer`]: `create_state` and `update`, with the shared settings in
//!   [`OptimizerCore`] (learning rate or [`LrScheduler`], weight decay, gradient rescaling and
//!   clipping, per-parameter `lr_mult` / `wd_mult`, update counts).
//! - [`Sgd`] (`sgd_update` / `sgd_mom_update`) and [`Adam`] (`adam_update`, with MXNet's bias
//!   correction), each updating the weight in place (MXNet's `out=weight`).
//! - [`Updater`]: per-key states (MXNet's `get_updater`).
//! - Schedules: [`FactorScheduler`], [`MultiFactorScheduler`], [`PolyScheduler`],
//!   [`CosineScheduler`], with MXNet's update-count semantics.
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
mod optimizer;
mod scheduler;
mod sgd;
mod updater;

pub use adam::Adam;
pub use optimizer::{Optimizer, OptimizerCore, ParamKey, State};
pub use scheduler::{
    CosineScheduler, FactorScheduler, LrScheduler, MultiFactorScheduler, PolyScheduler, WarmupMode,
};
pub use sgd::Sgd;
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

#[cfg(test)]
mod tests;
