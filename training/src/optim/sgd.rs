//! Stochastic gradient descent with momentum and weight decay (MXNet's `mx.optimizer.SGD`).

use super::configured::{OptimizerOf, OptimizerParams};
use super::optimizer::{Optimizer, OptimizerCore, State, attr, check_update_lengths};
use crate::nd::{self, NDArray};
use crate::{Error, Result};

/// SGD (MXNet's `SGD`): `mom ← momentum·mom − lr·(clip(rescale·g) + wd·w)`, `w ← w + mom`
/// (without momentum, `w ← w − lr·(clip(rescale·g) + wd·w)`). As MXNet's Python optimizer does
/// for dense arrays, it updates through `multi_sgd_mom_update` / `multi_sgd_update` (one call
/// for the weights of [`Optimizer::update_multi`]), so results match MXNet's bit for bit. The
/// learning rate defaults to 0.01.
///
/// ```
/// use mxr::nd::NDArray;
/// use mxr::optim::{Optimizer, Sgd};
/// let mut sgd = Sgd::new().learning_rate(0.1).momentum(0.9);
/// let w = NDArray::from_vec(&[2], vec![1.0f32, -2.0])?;
/// let g = NDArray::from_vec(&[2], vec![0.5f32, 3.0])?;
/// let state = sgd.create_state(0, &w)?;
/// sgd.update(0, &w, &g, &state)?;
/// assert_eq!(w.to_vec::<f32>()?, vec![0.95, -2.3]);
/// sgd.update(0, &w, &g, &state)?; // the momentum carries the first step
/// assert_eq!(w.to_vec::<f32>()?, vec![0.855, -2.87]);
/// # Ok::<(), mxr::Error>(())
/// ```
pub type Sgd = OptimizerOf<SgdParams>;

/// SGD's own hyper-parameters (see [`Sgd`]).
#[derive(Debug)]
pub struct SgdParams {
    momentum: f64,
    aggregate_num: usize,
}

/// MXNet's defaults: no momentum, 4 weights per update call; learning rate 0.01.
impl Default for SgdParams {
    fn default() -> SgdParams {
        SgdParams {
            momentum: 0.0,
            aggregate_num: 4,
        }
    }
}

impl OptimizerParams for SgdParams {
    const DEFAULT_LR: f64 = 0.01;
}

impl Sgd {
    /// The momentum (0: none, and no state).
    pub fn momentum(mut self, momentum: f64) -> Sgd {
        self.params.momentum = momentum;
        self
    }

    /// How many weights an [`Updater`](super::Updater) passes to one update call (MXNet's
    /// `MXNET_OPTIMIZER_AGGREGATION_SIZE`, default 4; 0 updates one by one).
    pub fn aggregate_num(mut self, n: usize) -> Sgd {
        self.params.aggregate_num = n;
        self
    }

    /// The momentum.
    pub fn get_momentum(&self) -> f64 {
        self.params.momentum
    }
}

impl Optimizer for Sgd {
    fn create_state(&self, _index: usize, weight: &NDArray) -> Result<State> {
        if self.params.momentum == 0.0 {
            return Ok(Vec::new());
        }
        Ok(vec![NDArray::new(
            weight.shape(),
            weight.dtype(),
            weight.context(),
        )?])
    }

    fn update(
        &mut self,
        index: usize,
        weight: &NDArray,
        grad: &NDArray,
        state: &State,
    ) -> Result<()> {
        self.update_multi(&[index], &[weight], &[grad], &[state])
    }

    /// MXNet's `SGD._update_impl` for dense arrays: counts every index, then one
    /// `multi_sgd_update` / `multi_sgd_mom_update` call with each weight's rate and decay.
    fn update_multi(
        &mut self,
        indices: &[usize],
        weights: &[&NDArray],
        grads: &[&NDArray],
        states: &[&State],
    ) -> Result<()> {
        let n = indices.len();
        check_update_lengths("Sgd::update_multi", indices, weights, grads, states)?;
        if n == 0 {
            return Ok(());
        }
        for &index in indices {
            self.core.count_update(index);
        }
        let lrs: Vec<String> = indices.iter().map(|&i| attr(self.core.lr_for(i))).collect();
        let wds: Vec<String> = indices.iter().map(|&i| attr(self.core.wd_for(i))).collect();
        let (lrs, wds) = (
            format!("[{}]", lrs.join(", ")),
            format!("[{}]", wds.join(", ")),
        );
        let num_weights = n.to_string();
        let rescale = attr(self.core.rescale_grad);
        let clip = self.core.clip().map(attr);
        let momentum = attr(self.params.momentum);
        let mut params: Vec<(&str, &str)> = vec![
            ("lrs", &lrs),
            ("wds", &wds),
            ("rescale_grad", &rescale),
            ("num_weights", &num_weights),
        ];
        if let Some(c) = &clip {
            params.push(("clip_gradient", c));
        }
        let mut inputs: Vec<&NDArray> = Vec::with_capacity(3 * n);
        if self.params.momentum > 0.0 {
            params.push(("momentum", &momentum));
            for ((w, g), state) in weights.iter().zip(grads).zip(states) {
                let mom = state.first().ok_or_else(|| Error::InvalidArgument {
                    call: "Sgd::update",
                    reason: "no momentum state (create it with create_state)".into(),
                })?;
                inputs.extend([*w, *g, mom]);
            }
            nd::invoke_into("multi_sgd_mom_update", &inputs, &params, weights)
        } else {
            for (w, g) in weights.iter().zip(grads) {
                inputs.extend([*w, *g]);
            }
            nd::invoke_into("multi_sgd_update", &inputs, &params, weights)
        }
    }

    fn aggregate_num(&self) -> usize {
        self.params.aggregate_num
    }

    fn core(&self) -> &OptimizerCore {
        &self.core
    }

    fn core_mut(&mut self) -> &mut OptimizerCore {
        &mut self.core
    }
}
