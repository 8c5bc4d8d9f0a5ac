//! Containers: `Sequential`, `HybridSequential`, and `HybridLambda` (one registry operator
//! as a block).

use mxr_frontend::nd::NDArray;

use crate::Result;
use crate::block::{Block, BlockCore, HybridBlock, HybridForward, single};
use crate::tensor::Tensor;

/// Blocks run one after another, imperatively (Gluon's `Sequential`).
#[derive(Debug)]
pub struct Sequential {
    core: BlockCore,
    blocks: Vec<Box<dyn Block>>,
}

impl Sequential {
    /// An empty sequence (`sequential0_`).
    pub fn new() -> Sequential {
        Sequential {
            core: BlockCore::new("sequential", None),
            blocks: Vec::new(),
        }
    }

    /// Appends a block.
    pub fn add(&mut self, block: impl Block + 'static) {
        self.blocks.push(Box::new(block));
    }

    /// The number of blocks.
    pub fn len(&self) -> usize {
        self.blocks.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.blocks.is_empty()
    }
}

impl Default for Sequential {
    fn default() -> Sequential {
        Sequential::new()
    }
}

impl Block for Sequential {
    fn core(&self) -> &BlockCore {
        &self.core
    }

    fn children(&self) -> Vec<(String, &dyn Block)> {
        let blocks = self.blocks.iter().enumerate();
        blocks.map(|(i, b)| (i.to_string(), b.as_ref())).collect()
    }

    fn forward(&self, inputs: &[NDArray]) -> Result<Vec<NDArray>> {
        let mut x = inputs.to_vec();
        for b in &self.blocks {
            x = b.forward(&x)?;
        }
        Ok(x)
    }
}

/// Hybrid blocks run one after another, hybridizable as a whole (Gluon's
/// `HybridSequential`).
#[derive(Debug)]
pub struct HybridSequential {
    core: BlockCore,
    blocks: Vec<Box<dyn HybridBlock>>,
}

impl HybridSequential {
    /// An empty sequence (`hybridsequential0_`).
    pub fn new() -> HybridSequential {
        HybridSequential::with_prefix(None)
    }

    /// With a given prefix (`features_` inside a model's scope).
    pub fn with_prefix(prefix: Option<&str>) -> HybridSequential {
        HybridSequential {
            core: BlockCore::new("hybridsequential", prefix),
            blocks: Vec::new(),
        }
    }

    /// Appends a block.
    pub fn add(&mut self, block: impl HybridBlock + 'static) {
        self.blocks.push(Box::new(block));
    }

    /// The number of blocks.
    pub fn len(&self) -> usize {
        self.blocks.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.blocks.is_empty()
    }
}

impl Default for HybridSequential {
    fn default() -> HybridSequential {
        HybridSequential::new()
    }
}

impl HybridForward for HybridSequential {
    fn core(&self) -> &BlockCore {
        &self.core
    }

    fn children(&self) -> Vec<(String, &dyn Block)> {
        let blocks = self.blocks.iter().enumerate();
        blocks
            .map(|(i, b)| (i.to_string(), b.as_ref() as &dyn Block))
            .collect()
    }

    fn hybrid_forward<F: Tensor>(&self, inputs: &[F]) -> Result<Vec<F>> {
        let mut x = inputs.to_vec();
        for b in &self.blocks {
            x = F::call_block(b.as_ref(), &x)?;
        }
        Ok(x)
    }
}

/// One registry operator with fixed attributes as a block (Gluon's `HybridLambda` given an
/// operator name, e.g. `HybridLambda('tanh')`).
///
/// ```
/// use mxr::gluon::{Block, nn::HybridLambda};
/// use mxr::nd::NDArray;
/// let neg = HybridLambda::new("_mul_scalar", &[("scalar", "-1")]);
/// assert_eq!(neg.call(&NDArray::ones(&[2])?)?.to_vec::<f32>()?, vec![-1.0, -1.0]);
/// # Ok::<(), mxr::gluon::Error>(())
/// ```
#[derive(Debug)]
pub struct HybridLambda {
    core: BlockCore,
    op: String,
    attrs: Vec<(String, String)>,
}

impl HybridLambda {
    /// The operator `op` with MXNet attribute strings.
    pub fn new(op: &str, attrs: &[(&str, &str)]) -> HybridLambda {
        HybridLambda {
            core: BlockCore::new("hybridlambda", None),
            op: op.to_owned(),
            attrs: attrs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        }
    }
}

impl HybridForward for HybridLambda {
    fn core(&self) -> &BlockCore {
        &self.core
    }

    fn hybrid_forward<F: Tensor>(&self, inputs: &[F]) -> Result<Vec<F>> {
        let x = single(&self.core, inputs)?;
        let attrs: Vec<(&str, &str)> = self
            .attrs
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        Ok(vec![F::invoke1(&self.op, None, &[x], &attrs)?])
    }
}
