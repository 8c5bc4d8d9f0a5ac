//! Per-key optimizer state (MXNet's `mx.optimizer.Updater` / `get_updater`).

use std::collections::HashMap;

use super::adam::Adam;
use super::optimizer::{Optimizer, State};
use super::sgd::Sgd;
use crate::kv::{IntoKeyUpdater, KeyUpdater};
use crate::nd::NDArray;
use crate::{DType, Result};

/// One weight of [`Updater::update_all`]: key, gradient, weight.
pub type UpdateItem<'a> = (usize, &'a NDArray, &'a NDArray);

/// Applies an optimizer to weights identified by key, creating each key's state on its first
/// update (MXNet's `Updater`, what `get_updater(optimizer)` returns and a KVStore calls).
///
/// ```
/// use mxr::nd::NDArray;
/// use mxr::optim::{Sgd, Updater};
/// let mut updater = Updater::new(Sgd::new().learning_rate(0.5).momentum(0.5));
/// let w = NDArray::from_vec(&[1], vec![1.0f32])?;
/// let g = NDArray::from_vec(&[1], vec![1.0f32])?;
/// updater.update(3, &g, &w)?; // MXNet's argument order: key, grad, weight
/// updater.update(3, &g, &w)?;
/// assert_eq!(w.to_vec::<f32>()?, vec![-0.25]); // 1 − 0.5 − (0.25 + 0.5)
/// assert_eq!(updater.states().len(), 1);
/// # Ok::<(), mxr::Error>(())
/// ```
#[derive(Debug)]
pub struct Updater {
    optimizer: Box<dyn Optimizer>,
    states: HashMap<usize, State>,
}

impl Updater {
    /// An updater over `optimizer`, with no states yet.
    pub fn new(optimizer: impl Optimizer + 'static) -> Updater {
        Updater::from_boxed(Box::new(optimizer))
    }

    /// An updater over a boxed optimizer.
    pub fn from_boxed(optimizer: Box<dyn Optimizer>) -> Updater {
        Updater {
            optimizer,
            states: HashMap::new(),
        }
    }

    /// Updates `weight` (key `index`) from `grad` (MXNet's `updater(index, grad, weight)`):
    /// selects the update counts of the weight's device, creates the key's state on first use,
    /// then calls [`Optimizer::update`].
    pub fn update(&mut self, index: usize, grad: &NDArray, weight: &NDArray) -> Result<()> {
        self.optimizer
            .core_mut()
            .set_current_device(weight.context().device_id());
        if !self.states.contains_key(&index) {
            let state = self.optimizer.create_state(index, weight)?;
            self.states.insert(index, state);
        }
        let state = &self.states[&index];
        self.optimizer.update(index, weight, grad, state)
    }

    /// Updates several weights (MXNet's call with lists of keys, gradients and weights):
    /// creates missing states, then, when the optimizer aggregates
    /// ([`Optimizer::aggregate_num`] > 0), groups the weights by dtype (in order of first
    /// appearance) and passes up to `aggregate_num` of them to each
    /// [`Optimizer::update_multi`] call, as MXNet's `Updater` does; otherwise updates them one
    /// by one.
    pub fn update_all(&mut self, items: &[UpdateItem<'_>]) -> Result<()> {
        let Some((_, _, first)) = items.first() else {
            return Ok(());
        };
        self.optimizer
            .core_mut()
            .set_current_device(first.context().device_id());
        for &(index, _, weight) in items {
            if !self.states.contains_key(&index) {
                let state = self.optimizer.create_state(index, weight)?;
                self.states.insert(index, state);
            }
        }
        let chunk = self.optimizer.aggregate_num();
        if chunk == 0 {
            for &(index, grad, weight) in items {
                self.optimizer
                    .update(index, weight, grad, &self.states[&index])?;
            }
            return Ok(());
        }
        let mut groups: Vec<(DType, Vec<UpdateItem<'_>>)> = Vec::new();
        for &item in items {
            let dtype = item.2.dtype();
            match groups.iter_mut().find(|(d, _)| *d == dtype) {
                Some((_, group)) => group.push(item),
                None => groups.push((dtype, vec![item])),
            }
        }
        for (_, group) in &groups {
            for part in group.chunks(chunk) {
                let indices: Vec<usize> = part.iter().map(|p| p.0).collect();
                let grads: Vec<&NDArray> = part.iter().map(|p| p.1).collect();
                let weights: Vec<&NDArray> = part.iter().map(|p| p.2).collect();
                let states: Vec<&State> = indices.iter().map(|i| &self.states[i]).collect();
                self.optimizer
                    .update_multi(&indices, &weights, &grads, &states)?;
            }
        }
        Ok(())
    }

    /// The states by key.
    pub fn states(&self) -> &HashMap<usize, State> {
        &self.states
    }

    /// Replaces the states (MXNet's `set_states`, without the pickling).
    pub fn set_states(&mut self, states: HashMap<usize, State>) {
        self.states = states;
    }

    /// The optimizer.
    pub fn optimizer(&self) -> &dyn Optimizer {
        self.optimizer.as_ref()
    }

    /// The optimizer, writable (to change its learning rate or multipliers).
    pub fn optimizer_mut(&mut self) -> &mut dyn Optimizer {
        self.optimizer.as_mut()
    }
}

/// What a KVStore calls with an optimizer set ([`KVStore::set_optimizer`](crate::kv::KVStore::set_optimizer)).
impl KeyUpdater for Updater {
    fn update(&mut self, index: usize, merged: &NDArray, stored: &NDArray) -> Result<()> {
        Updater::update(self, index, merged, stored)
    }
}

/// The updater itself, with its states.
impl IntoKeyUpdater for Updater {
    fn into_key_updater(self) -> Box<dyn KeyUpdater> {
        Box::new(self)
    }
}

/// A new [`Updater`] over the optimizer.
impl IntoKeyUpdater for Box<dyn Optimizer> {
    fn into_key_updater(self) -> Box<dyn KeyUpdater> {
        Box::new(Updater::from_boxed(self))
    }
}

/// A new [`Updater`] over the optimizer.
impl IntoKeyUpdater for Sgd {
    fn into_key_updater(self) -> Box<dyn KeyUpdater> {
        Box::new(Updater::new(self))
    }
}

/// A new [`Updater`] over the optimizer.
impl IntoKeyUpdater for Adam {
    fn into_key_updater(self) -> Box<dyn KeyUpdater> {
        Box::new(Updater::new(self))
    }
}

/// An [`Updater`] over `optimizer` (MXNet's `mx.optimizer.get_updater`).
pub fn get_updater(optimizer: impl Optimizer + 'static) -> Updater {
    Updater::new(optimizer)
}
