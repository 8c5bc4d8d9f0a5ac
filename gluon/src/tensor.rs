//! The `F` of Gluon's `hybrid_forward(F, x, ...)`: one layer body for NDArrays (run at once,
//! recorded under [`autograd::record`](crate::autograd::record)) and for Symbols (traced into
//! a graph under the block's name prefix).

use mxr_frontend::nd::NDArray;
use mxr_frontend::sym::{OpBuilder, Symbol};

use crate::block::HybridBlock;
use crate::parameter::Parameter;
use crate::{Error, Result, autograd};

/// What a hybrid block computes on: [`NDArray`] (imperative) or [`Symbol`] (traced).
///
/// Layers call registry operators through [`Tensor::invoke`] with MXNet's attribute strings,
/// read parameters through [`Tensor::param`] and call children through
/// [`Tensor::call_block`]; the typed methods are shorthands over them.
pub trait Tensor: Clone + Sized {
    /// Applies the registry operator `op` to `inputs` (visible outputs returned). `name` is
    /// the node's name within the block (`fwd`, as Gluon names its layers' operators); `None`
    /// names it automatically. NDArrays ignore names.
    fn invoke(
        op: &str,
        name: Option<&str>,
        inputs: &[&Self],
        attrs: &[(&str, &str)],
    ) -> Result<Vec<Self>>;

    /// A parameter as this kind of value: its array, or its variable.
    fn param(p: &Parameter) -> Result<Self>;

    /// Calls a child block on `inputs`.
    fn call_block(block: &dyn HybridBlock, inputs: &[Self]) -> Result<Vec<Self>>;

    /// [`Tensor::invoke`] for an operator with one visible output.
    fn invoke1(
        op: &str,
        name: Option<&str>,
        inputs: &[&Self],
        attrs: &[(&str, &str)],
    ) -> Result<Self> {
        let mut out = Self::invoke(op, name, inputs, attrs)?;
        if out.is_empty() {
            return Err(Error::InvalidArgument {
                call: "Tensor::invoke1",
                reason: format!("operator {op} has no output"),
            });
        }
        Ok(out.swap_remove(0))
    }

    /// `op` on `self` alone, named automatically.
    fn op(&self, op: &str, attrs: &[(&str, &str)]) -> Result<Self> {
        Self::invoke1(op, None, &[self], attrs)
    }

    /// `Activation(act_type)`.
    fn activation(&self, act_type: &str) -> Result<Self> {
        self.op("Activation", &[("act_type", act_type)])
    }

    /// `Flatten`.
    fn flatten(&self) -> Result<Self> {
        self.op("Flatten", &[])
    }

    /// An element-wise or broadcasting binary operator (`broadcast_mul`, `elemwise_sub`).
    fn binary(&self, op: &str, other: &Self) -> Result<Self> {
        Self::invoke1(op, None, &[self, other], &[])
    }

    /// `_mul_scalar` / `_plus_scalar` and the other scalar operators.
    fn scalar(&self, op: &str, scalar: f64) -> Result<Self> {
        self.op(op, &[("scalar", &format!("{scalar:?}"))])
    }
}

impl Tensor for NDArray {
    fn invoke(
        op: &str,
        name: Option<&str>,
        inputs: &[&NDArray],
        attrs: &[(&str, &str)],
    ) -> Result<Vec<NDArray>> {
        autograd::invoke(op, name.unwrap_or(op), inputs, attrs)
    }

    fn param(p: &Parameter) -> Result<NDArray> {
        p.data()
    }

    fn call_block(block: &dyn HybridBlock, inputs: &[NDArray]) -> Result<Vec<NDArray>> {
        block.forward(inputs)
    }
}

impl Tensor for Symbol {
    fn invoke(
        op: &str,
        name: Option<&str>,
        inputs: &[&Symbol],
        attrs: &[(&str, &str)],
    ) -> Result<Vec<Symbol>> {
        let mut b = OpBuilder::new(op).maybe_name(name);
        for s in inputs {
            b = b.arg(s);
        }
        for (k, v) in attrs {
            b = b.param(k, *v);
        }
        let s = b.build()?;
        if s.num_outputs() == 1 {
            return Ok(vec![s]);
        }
        (0..s.num_outputs()).map(|i| Ok(s.output(i)?)).collect()
    }

    fn param(p: &Parameter) -> Result<Symbol> {
        p.var()
    }

    fn call_block(block: &dyn HybridBlock, inputs: &[Symbol]) -> Result<Vec<Symbol>> {
        block.forward_symbol(inputs)
    }
}
