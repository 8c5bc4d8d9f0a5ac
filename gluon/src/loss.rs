//! Losses (MXNet's `gluon/loss.py`): each a hybrid block on `(pred, label)` giving one value
//! per sample, the mean over every axis but `batch_axis` (0), times `weight` where Gluon
//! applies one.
//!
//! ```
//! use mxr::gluon::loss::{Loss, L2Loss};
//! use mxr::nd::NDArray;
//! let pred = NDArray::from_vec(&[2, 2], vec![1.0f32, 2.0, 3.0, 4.0])?;
//! let label = NDArray::from_vec(&[2, 2], vec![1.0f32, 0.0, 3.0, 2.0])?;
//! // 0.5 * mean((label - pred)^2) per row: (0 + 4) / 2 / 2, (0 + 4) / 2 / 2
//! assert_eq!(L2Loss::new().loss(&pred, &label)?.to_vec::<f32>()?, vec![1.0, 1.0]);
//! # Ok::<(), mxr::gluon::Error>(())
//! ```

use mxr_frontend::nd::NDArray;

use crate::block::{Block, BlockCore, HybridForward};
use crate::tensor::Tensor;
use crate::{Error, Result};

/// A loss: `loss(pred, label)` per sample.
pub trait Loss: Block {
    /// The loss of each sample.
    fn loss(&self, pred: &NDArray, label: &NDArray) -> Result<NDArray> {
        self.forward(&[pred.clone(), label.clone()])?
            .into_iter()
            .next()
            .ok_or_else(|| self.core().error("the loss gave no output"))
    }
}

/// Settings every loss has (Gluon's `Loss(weight, batch_axis)`).
#[derive(Debug)]
struct Common {
    core: BlockCore,
    weight: Option<f64>,
    batch_axis: i64,
}

impl Common {
    fn new(hint: &str, weight: Option<f64>) -> Common {
        Common {
            core: BlockCore::new(hint, None),
            weight,
            batch_axis: 0,
        }
    }

    fn pair<'a, F>(&self, inputs: &'a [F]) -> Result<(&'a F, &'a F)> {
        match inputs {
            [p, l] => Ok((p, l)),
            _ => Err(Error::Block {
                block: self.core.prefix().to_owned(),
                reason: format!("a loss takes (pred, label), got {} inputs", inputs.len()),
            }),
        }
    }

    /// Gluon's `_apply_weighting` (scalar weight) and the mean over non-batch axes.
    fn finish<F: Tensor>(&self, loss: F, weight: Option<f64>) -> Result<F> {
        let loss = match weight {
            Some(w) => loss.scalar("_mul_scalar", w)?,
            None => loss,
        };
        let axis = self.batch_axis.to_string();
        loss.op("mean", &[("axis", &axis), ("exclude", "True")])
    }
}

/// The core of a loss.
fn core_of(c: &Common) -> &BlockCore {
    &c.core
}

/// `0.5 * weight * (label - pred)^2`, averaged per sample (`label` reshaped to `pred`'s
/// shape, as Gluon's `_reshape_like`).
#[derive(Debug)]
pub struct L2Loss(Common);

impl L2Loss {
    /// Weight 1.
    pub fn new() -> L2Loss {
        L2Loss(Common::new("l2loss", Some(1.0)))
    }
}

impl Default for L2Loss {
    fn default() -> L2Loss {
        L2Loss::new()
    }
}

impl HybridForward for L2Loss {
    fn core(&self) -> &BlockCore {
        core_of(&self.0)
    }

    fn hybrid_forward<F: Tensor>(&self, inputs: &[F]) -> Result<Vec<F>> {
        let (pred, label) = self.0.pair(inputs)?;
        let label = label.binary("reshape_like", pred)?;
        let loss = label.binary("elemwise_sub", pred)?.op("square", &[])?;
        Ok(vec![self.0.finish(loss, self.0.weight.map(|w| w / 2.0))?])
    }
}

impl Loss for L2Loss {}

/// `|label - pred|`, averaged per sample.
#[derive(Debug)]
pub struct L1Loss(Common);

impl L1Loss {
    /// No weight.
    pub fn new() -> L1Loss {
        L1Loss(Common::new("l1loss", None))
    }
}

impl Default for L1Loss {
    fn default() -> L1Loss {
        L1Loss::new()
    }
}

impl HybridForward for L1Loss {
    fn core(&self) -> &BlockCore {
        core_of(&self.0)
    }

    fn hybrid_forward<F: Tensor>(&self, inputs: &[F]) -> Result<Vec<F>> {
        let (pred, label) = self.0.pair(inputs)?;
        let label = label.binary("reshape_like", pred)?;
        let loss = label.binary("elemwise_sub", pred)?.op("abs", &[])?;
        Ok(vec![self.0.finish(loss, self.0.weight)?])
    }
}

impl Loss for L1Loss {}

/// Binary cross-entropy of logits (`from_sigmoid` false) or probabilities, averaged per
/// sample: `relu(x) - x * y + softrelu(-|x|)` for logits.
#[derive(Debug)]
pub struct SigmoidBinaryCrossEntropyLoss {
    common: Common,
    from_sigmoid: bool,
}

impl SigmoidBinaryCrossEntropyLoss {
    /// On logits.
    pub fn new() -> SigmoidBinaryCrossEntropyLoss {
        SigmoidBinaryCrossEntropyLoss {
            common: Common::new("sigmoidbinarycrossentropyloss", None),
            from_sigmoid: false,
        }
    }

    /// On probabilities: `-(y log(p + 1e-12) + (1 - y) log(1 - p + 1e-12))`.
    pub fn from_sigmoid(mut self, on: bool) -> SigmoidBinaryCrossEntropyLoss {
        self.from_sigmoid = on;
        self
    }
}

impl Default for SigmoidBinaryCrossEntropyLoss {
    fn default() -> SigmoidBinaryCrossEntropyLoss {
        SigmoidBinaryCrossEntropyLoss::new()
    }
}

impl HybridForward for SigmoidBinaryCrossEntropyLoss {
    fn core(&self) -> &BlockCore {
        core_of(&self.common)
    }

    fn hybrid_forward<F: Tensor>(&self, inputs: &[F]) -> Result<Vec<F>> {
        let (x, y) = self.common.pair(inputs)?;
        let y = &y.binary("reshape_like", x)?;
        let loss = if self.from_sigmoid {
            let eps = 1e-12;
            let log_p = x.scalar("_plus_scalar", eps)?.op("log", &[])?;
            let log_q = x
                .scalar("_rminus_scalar", 1.0)?
                .scalar("_plus_scalar", eps)?;
            let log_q = log_q.op("log", &[])?;
            let not_y = y.scalar("_rminus_scalar", 1.0)?;
            let sum = log_p
                .binary("elemwise_mul", y)?
                .binary("elemwise_add", &log_q.binary("elemwise_mul", &not_y)?)?;
            sum.op("negative", &[])?
        } else {
            let soft = x
                .op("abs", &[])?
                .op("negative", &[])?
                .activation("softrelu")?;
            x.op("relu", &[])?
                .binary("elemwise_sub", &x.binary("elemwise_mul", y)?)?
                .binary("elemwise_add", &soft)?
        };
        Ok(vec![self.common.finish(loss, self.common.weight)?])
    }
}

impl Loss for SigmoidBinaryCrossEntropyLoss {}

/// Softmax cross-entropy over the last axis: with class indices as labels (`sparse_label`,
/// the default: the registry operator `pick`) or with distributions of `pred`'s shape.
#[derive(Debug)]
pub struct SoftmaxCrossEntropyLoss {
    common: Common,
    sparse_label: bool,
    from_logits: bool,
}

impl SoftmaxCrossEntropyLoss {
    /// Sparse labels, `pred` as scores.
    pub fn new() -> SoftmaxCrossEntropyLoss {
        SoftmaxCrossEntropyLoss {
            common: Common::new("softmaxcrossentropyloss", None),
            sparse_label: true,
            from_logits: false,
        }
    }

    /// Whether labels are class indices (else distributions).
    pub fn sparse_label(mut self, on: bool) -> SoftmaxCrossEntropyLoss {
        self.sparse_label = on;
        self
    }

    /// Whether `pred` already holds log-probabilities.
    pub fn from_logits(mut self, on: bool) -> SoftmaxCrossEntropyLoss {
        self.from_logits = on;
        self
    }
}

impl Default for SoftmaxCrossEntropyLoss {
    fn default() -> SoftmaxCrossEntropyLoss {
        SoftmaxCrossEntropyLoss::new()
    }
}

impl HybridForward for SoftmaxCrossEntropyLoss {
    fn core(&self) -> &BlockCore {
        core_of(&self.common)
    }

    fn hybrid_forward<F: Tensor>(&self, inputs: &[F]) -> Result<Vec<F>> {
        let (pred, label) = self.common.pair(inputs)?;
        let logp = if self.from_logits {
            pred.clone()
        } else {
            pred.op("log_softmax", &[("axis", "-1")])?
        };
        let picked = if self.sparse_label {
            let attrs = [("axis", "-1"), ("keepdims", "True")];
            F::invoke1("pick", None, &[&logp, label], &attrs)?
        } else {
            let label = label.binary("reshape_like", pred)?;
            let prod = logp.binary("elemwise_mul", &label)?;
            prod.op("sum", &[("axis", "-1"), ("keepdims", "True")])?
        };
        let loss = picked.op("negative", &[])?;
        Ok(vec![self.common.finish(loss, self.common.weight)?])
    }
}

impl Loss for SoftmaxCrossEntropyLoss {}
