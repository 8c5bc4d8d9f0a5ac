//! The Adam optimizer (MXNet's `mx.optimizer.Adam`).

use super::configured::{OptimizerOf, OptimizerParams};
use super::optimizer::{Optimizer, OptimizerCore, State, attr};
use crate::nd::{self, NDArray};
use crate::{Error, Result};

/// Adam (MXNet's `Adam`), through `adam_update`: at the `t`-th update of a weight the learning
/// rate is `lr·√(1 − β2^t) / (1 − β1^t)` (MXNet's bias correction), then
/// `g' = clip(rescale·g + wd·w)`, `m ← β1·m + (1 − β1)·g'`, `v ← β2·v + (1 − β2)·g'²`,
/// `w ← w − lr_t·m / (√v + ε)`. The state is `[mean, var]`; the learning rate defaults to
/// 0.001.
///
/// ```
/// use mxr::nd::NDArray;
/// use mxr::optim::{Adam, Optimizer};
/// let mut adam = Adam::new().learning_rate(0.1);
/// let w = NDArray::from_vec(&[2], vec![1.0f64, -1.0])?;
/// let g = NDArray::from_vec(&[2], vec![0.5f64, -2.0])?;
/// let state = adam.create_state(0, &w)?;
/// adam.update(0, &w, &g, &state)?;
/// // The first step moves every weight by about lr against its gradient's sign.
/// let w = w.to_vec::<f64>()?;
/// assert!((w[0] - 0.9).abs() < 1e-6 && (w[1] + 0.9).abs() < 1e-6);
/// # Ok::<(), mxr::Error>(())
/// ```
pub type Adam = OptimizerOf<AdamParams>;

/// Adam's own hyper-parameters (see [`Adam`]).
#[derive(Debug)]
pub struct AdamParams {
    beta1: f64,
    beta2: f64,
    epsilon: f64,
    lazy_update: bool,
}

/// MXNet's defaults: β1 = 0.9, β2 = 0.999, ε = 1e-8, lazy updates; learning rate 0.001.
impl Default for AdamParams {
    fn default() -> AdamParams {
        AdamParams {
            beta1: 0.9,
            beta2: 0.999,
            epsilon: 1e-8,
            lazy_update: true,
        }
    }
}

impl OptimizerParams for AdamParams {
    const DEFAULT_LR: f64 = 0.001;
}

impl Adam {
    /// The decay rates of the first and second moment estimates.
    pub fn betas(mut self, beta1: f64, beta2: f64) -> Adam {
        self.params.beta1 = beta1;
        self.params.beta2 = beta2;
        self
    }

    /// The constant added to `√v`.
    pub fn epsilon(mut self, epsilon: f64) -> Adam {
        self.params.epsilon = epsilon;
        self
    }

    /// Passed to `adam_update` (matters only for row-sparse gradients in MXNet).
    pub fn lazy_update(mut self, lazy: bool) -> Adam {
        self.params.lazy_update = lazy;
        self
    }
}

impl Optimizer for Adam {
    fn create_state(&self, _index: usize, weight: &NDArray) -> Result<State> {
        let zeros = || NDArray::new(weight.shape(), weight.dtype(), weight.context());
        Ok(vec![zeros()?, zeros()?])
    }

    fn update(
        &mut self,
        index: usize,
        weight: &NDArray,
        grad: &NDArray,
        state: &State,
    ) -> Result<()> {
        let [mean, var] = state.as_slice() else {
            return Err(Error::InvalidArgument {
                call: "Adam::update",
                reason: format!(
                    "the state must be [mean, var] (from create_state), got {} arrays",
                    state.len()
                ),
            });
        };
        let t = self.core.count_update(index);
        let mut lr = self.core.lr_for(index);
        let wd = self.core.wd_for(index);
        let coef1 = 1.0 - self.params.beta1.powf(t as f64);
        let coef2 = 1.0 - self.params.beta2.powf(t as f64);
        lr *= coef2.sqrt() / coef1;

        let (lr, wd) = (attr(lr), attr(wd));
        let (beta1, beta2, epsilon) = (
            attr(self.params.beta1),
            attr(self.params.beta2),
            attr(self.params.epsilon),
        );
        let rescale = attr(self.core.rescale_grad);
        let clip = self.core.clip().map(attr);
        let lazy = if self.params.lazy_update {
            "True"
        } else {
            "False"
        };
        let mut params: Vec<(&str, &str)> = vec![
            ("lr", &lr),
            ("wd", &wd),
            ("beta1", &beta1),
            ("beta2", &beta2),
            ("epsilon", &epsilon),
            ("rescale_grad", &rescale),
            ("lazy_update", lazy),
        ];
        if let Some(c) = &clip {
            params.push(("clip_gradient", c));
        }
        nd::invoke_into(
            "adam_update",
            &[weight, grad, mean, var],
            &params,
            &[weight],
        )
    }

    fn core(&self) -> &OptimizerCore {
        &self.core
    }

    fn core_mut(&mut self) -> &mut OptimizerCore {
        &mut self.core
    }
}
