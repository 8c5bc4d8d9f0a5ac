//! Activation layers: `Activation` and `LeakyReLU` (MXNet's `gluon/nn/activations.py`).

use crate::Result;
use crate::block::{BlockCore, HybridForward, single};
use crate::tensor::Tensor;

use super::py_float;

/// `Activation(act_type)`: `relu`, `sigmoid`, `tanh`, `softrelu`, `softsign`; named after its
/// type (`relu0_`).
#[derive(Debug)]
pub struct Activation {
    core: BlockCore,
    act_type: String,
}

impl Activation {
    /// An activation of `act_type`.
    pub fn new(act_type: &str) -> Activation {
        Activation::with_prefix(act_type, None)
    }

    /// With a given prefix (Dense and the convolutions give `relu_`).
    pub fn with_prefix(act_type: &str, prefix: Option<&str>) -> Activation {
        Activation {
            core: BlockCore::new(act_type, prefix),
            act_type: act_type.to_owned(),
        }
    }
}

impl HybridForward for Activation {
    fn core(&self) -> &BlockCore {
        &self.core
    }

    fn hybrid_forward<F: Tensor>(&self, inputs: &[F]) -> Result<Vec<F>> {
        let x = single(&self.core, inputs)?;
        let y = F::invoke1(
            "Activation",
            Some("fwd"),
            &[x],
            &[("act_type", &self.act_type)],
        )?;
        Ok(vec![y])
    }
}

/// `LeakyReLU(alpha)`: `x` for `x > 0`, `alpha * x` otherwise.
#[derive(Debug)]
pub struct LeakyReLU {
    core: BlockCore,
    alpha: f64,
}

impl LeakyReLU {
    /// With slope `alpha` (at least 0).
    pub fn new(alpha: f64) -> LeakyReLU {
        LeakyReLU {
            core: BlockCore::new("leakyrelu", None),
            alpha,
        }
    }
}

impl HybridForward for LeakyReLU {
    fn core(&self) -> &BlockCore {
        &self.core
    }

    fn hybrid_forward<F: Tensor>(&self, inputs: &[F]) -> Result<Vec<F>> {
        let x = single(&self.core, inputs)?;
        let slope = py_float(self.alpha);
        let attrs = [("act_type", "leaky"), ("slope", slope.as_str())];
        Ok(vec![F::invoke1("LeakyReLU", Some("fwd"), &[x], &attrs)?])
    }
}
