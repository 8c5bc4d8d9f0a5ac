//! Basic layers: `Dense`, `Dropout`, `Flatten`, `Embedding` (MXNet's
//! `gluon/nn/basic_layers.py`).

use crate::Result;
use crate::block::{Block, BlockCore, HybridForward, single};
use crate::parameter::{ParamSpec, Parameter};
use crate::tensor::Tensor;

use super::{Activation, activation_child, child_activation, py_bool, py_float, weighted};

/// A fully connected layer: `act(dot(x, weight.T) + bias)`; `in_units` 0 (the default) is
/// inferred at the first forward.
#[derive(Debug)]
pub struct Dense {
    core: BlockCore,
    units: usize,
    flatten: bool,
    weight: Parameter,
    bias: Option<Parameter>,
    act: Option<Activation>,
}

impl Dense {
    /// A layer of `units` outputs, with a bias, no activation, flattening its input.
    pub fn new(units: usize) -> Dense {
        let mut core = BlockCore::new("dense", None);
        let weight = core.param("weight", ParamSpec::new(&[units, 0]));
        let bias = core.param("bias", ParamSpec::new(&[units]).init("zeros"));
        Dense {
            core,
            units,
            flatten: true,
            weight,
            bias: Some(bias),
            act: None,
        }
    }

    /// With an activation after the product (a child block `<act>_`, as in Gluon).
    pub fn activation(mut self, act_type: &str) -> Dense {
        self.act = Some(child_activation(self.core.prefix(), act_type));
        self
    }

    /// Without a bias.
    pub fn no_bias(mut self) -> Dense {
        self.core.remove_param("bias");
        self.bias = None;
        self
    }

    /// The number of inputs, when known in advance.
    pub fn in_units(self, in_units: usize) -> Result<Dense> {
        self.weight.set_shape(&[self.units, in_units])?;
        Ok(self)
    }

    /// Whether inputs of more than two dimensions are flattened (else the product applies to
    /// the last axis).
    pub fn flatten(mut self, flatten: bool) -> Dense {
        self.flatten = flatten;
        self
    }

    /// The weight's own initializer (else the one given to `initialize`).
    pub fn weight_initializer(self, init: &str) -> Dense {
        self.weight.set_init(Some(init));
        self
    }

    /// The weight.
    pub fn weight(&self) -> &Parameter {
        &self.weight
    }

    /// The bias, if any.
    pub fn bias(&self) -> Option<&Parameter> {
        self.bias.as_ref()
    }
}

impl HybridForward for Dense {
    fn core(&self) -> &BlockCore {
        &self.core
    }

    fn children(&self) -> Vec<(String, &dyn Block)> {
        activation_child(&self.act)
    }

    fn hybrid_forward<F: Tensor>(&self, inputs: &[F]) -> Result<Vec<F>> {
        let x = single(&self.core, inputs)?;
        let units = self.units.to_string();
        let attrs = [
            ("num_hidden", units.as_str()),
            ("no_bias", py_bool(self.bias.is_none())),
            ("flatten", py_bool(self.flatten)),
        ];
        let (bias, act) = (self.bias.as_ref(), self.act.as_ref());
        weighted("FullyConnected", x, &self.weight, bias, &attrs, act)
    }
}

/// Dropout: zeroes each element with probability `rate` in training mode (scaling the rest
/// by `1 / (1 - rate)`); the identity otherwise.
#[derive(Debug)]
pub struct Dropout {
    core: BlockCore,
    rate: f64,
}

impl Dropout {
    /// Dropout with probability `rate`.
    pub fn new(rate: f64) -> Dropout {
        Dropout {
            core: BlockCore::new("dropout", None),
            rate,
        }
    }
}

impl HybridForward for Dropout {
    fn core(&self) -> &BlockCore {
        &self.core
    }

    fn hybrid_forward<F: Tensor>(&self, inputs: &[F]) -> Result<Vec<F>> {
        let x = single(&self.core, inputs)?;
        let p = py_float(self.rate);
        let attrs = [("p", p.as_str()), ("axes", "()"), ("cudnn_off", "False")];
        Ok(vec![F::invoke1("Dropout", Some("fwd"), &[x], &attrs)?])
    }
}

/// Flattens all axes but the first.
#[derive(Debug)]
pub struct Flatten {
    core: BlockCore,
}

impl Flatten {
    /// A flatten layer.
    pub fn new() -> Flatten {
        Flatten {
            core: BlockCore::new("flatten", None),
        }
    }
}

impl Default for Flatten {
    fn default() -> Flatten {
        Flatten::new()
    }
}

impl HybridForward for Flatten {
    fn core(&self) -> &BlockCore {
        &self.core
    }

    fn hybrid_forward<F: Tensor>(&self, inputs: &[F]) -> Result<Vec<F>> {
        // Gluon calls `F.Flatten(x)` without a name: `flatten0_flatten0` when traced.
        Ok(vec![single(&self.core, inputs)?.flatten()?])
    }
}

/// A lookup table: integer indices of any shape to rows of `weight` (`input_dim` ×
/// `output_dim`).
#[derive(Debug)]
pub struct Embedding {
    core: BlockCore,
    input_dim: usize,
    output_dim: usize,
    weight: Parameter,
}

impl Embedding {
    /// A table of `input_dim` rows of `output_dim` values.
    pub fn new(input_dim: usize, output_dim: usize) -> Embedding {
        let mut core = BlockCore::new("embedding", None);
        let weight = core.param("weight", ParamSpec::new(&[input_dim, output_dim]));
        Embedding {
            core,
            input_dim,
            output_dim,
            weight,
        }
    }

    /// The table.
    pub fn weight(&self) -> &Parameter {
        &self.weight
    }
}

impl HybridForward for Embedding {
    fn core(&self) -> &BlockCore {
        &self.core
    }

    fn hybrid_forward<F: Tensor>(&self, inputs: &[F]) -> Result<Vec<F>> {
        let x = single(&self.core, inputs)?;
        let w = F::param(&self.weight)?;
        let (i, o) = (self.input_dim.to_string(), self.output_dim.to_string());
        let attrs = [
            ("input_dim", i.as_str()),
            ("output_dim", o.as_str()),
            ("dtype", "float32"),
            ("sparse_grad", "False"),
        ];
        Ok(vec![F::invoke1(
            "Embedding",
            Some("fwd"),
            &[x, &w],
            &attrs,
        )?])
    }
}
