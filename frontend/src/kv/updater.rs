//! What an optimizer is to a KVStore: a stateful per-key update of the stored value from the
//! merged pushes (MXNet's `updater(index, grad, weight)` that `set_optimizer` installs).
//!
//! The optimizers live above the frontends, in the training crate (`mxr::optim`), whose
//! `Updater` implements [`KeyUpdater`] and whose optimizers implement [`IntoKeyUpdater`]; the
//! store only calls these traits, so the frontends do not depend on the training crate.

use std::any::Any;
use std::fmt;

use crate::Result;
use crate::nd::NDArray;

/// A stateful update a store applies to a key's stored value when pushes to it are merged
/// (MXNet's `Updater` called by `KVStoreLocal`): `mxr::optim::Updater` is one.
pub trait KeyUpdater: Any + Send + fmt::Debug {
    /// Updates `stored` in place from `merged` (the sum of the pushed values), as the parameter
    /// with index `index` (an integer key, or a string key's first-`init` order), with NDArray
    /// operations (which the engine orders with the key's pulls).
    ///
    /// # Errors
    /// Whatever the update's operations report (shape or dtype mismatches, engine errors).
    fn update(&mut self, index: usize, merged: &NDArray, stored: &NDArray) -> Result<()>;
}

/// What [`KVStore::set_optimizer`](super::KVStore::set_optimizer) takes: an optimizer
/// (`mxr::optim::Sgd`, `Adam`, a `Box<dyn Optimizer>`) or an `mxr::optim::Updater`, turned into
/// the store's [`KeyUpdater`].
pub trait IntoKeyUpdater {
    /// The updater the store keeps.
    fn into_key_updater(self) -> Box<dyn KeyUpdater>;
}
