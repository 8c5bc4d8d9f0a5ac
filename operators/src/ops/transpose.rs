//! `transpose`: permutes the axes (reverses them by default). Its gradient is another
//! `transpose`, by the inverse permutation (as in MXNet). Any dtype: the kernel moves element
//! bytes ([`mxr_kernels::cpu::transpose`]).

use std::sync::Arc;

use mxr_kernels::cpu::transpose::transpose_bytes;

use crate::registry::{
    Call, Entry, GpuCall, GpuForward, GradCtx, OpDef, OpRef, Operator, Shape, ShapeCtx,
};
use crate::{Error, Result, params};

params! {
    /// Parameters of `transpose`.
    pub struct TransposeParam for "transpose" {
        /// The permutation: output axis `i` is input axis `axes[i]`. Empty (the default)
        /// reverses the axes.
        axes: Vec<usize> = vec![],
    }
}

/// `transpose`.
#[derive(Debug, Clone)]
pub struct Transpose(pub TransposeParam);

impl Transpose {
    /// Validates that a non-empty `axes` is a permutation of `0..axes.len()`.
    pub fn new(param: TransposeParam) -> Result<Transpose> {
        let n = param.axes.len();
        let mut seen = vec![false; n];
        for &a in &param.axes {
            match seen.get_mut(a) {
                Some(s) if !*s => *s = true,
                _ => {
                    return Err(Error::BadParam {
                        op: "transpose".into(),
                        name: "axes".into(),
                        value: crate::registry::attrs::AttrValue::to_attr(&param.axes),
                        type_name: "Shape(tuple)".into(),
                        hint: format!(
                            "; must be a permutation of 0..{n} (each axis once, none negative)"
                        ),
                    });
                }
            }
        }
        Ok(Transpose(param))
    }

    /// The permutation for a `rank`-D input.
    fn axes(&self, rank: usize) -> Vec<usize> {
        if self.0.axes.is_empty() {
            (0..rank).rev().collect()
        } else {
            self.0.axes.clone()
        }
    }
}

impl Operator for Transpose {
    fn name(&self) -> &'static str {
        "transpose"
    }
    fn attrs(&self) -> Vec<(String, String)> {
        self.0.to_attrs()
    }
    fn infer_shape(&self, shapes: &mut ShapeCtx<'_>) -> Result<()> {
        let rank = match (shapes.input(0).ndim(), shapes.output(0).ndim()) {
            (Some(r), _) | (None, Some(r)) => r,
            (None, None) => return Ok(()),
        };
        if !self.0.axes.is_empty() && self.0.axes.len() != rank {
            let reason = format!(
                "axes {:?} has {} entries for a {rank}-D array",
                self.0.axes,
                self.0.axes.len()
            );
            return Err(shapes.error(reason));
        }
        let axes = self.axes(rank);
        let input = shapes
            .input(0)
            .partial_dims()
            .map(<[Option<usize>]>::to_vec);
        if let Some(dims) = input {
            let out: Vec<Option<usize>> = axes.iter().map(|&a| dims[a]).collect();
            shapes.set_output(0, Shape::partial(out))?;
        }
        let output = shapes
            .output(0)
            .partial_dims()
            .map(<[Option<usize>]>::to_vec);
        if let Some(out) = output {
            let mut dims = vec![None; rank];
            for (i, &a) in axes.iter().enumerate() {
                dims[a] = out[i];
            }
            shapes.set_input(0, Shape::partial(dims))?;
        }
        Ok(())
    }
    fn forward(&self, call: Call<'_, '_, '_>) -> Result<()> {
        let (inputs, outputs) = (call.inputs, call.outputs);
        let x = &inputs[0];
        let axes = self.axes(x.shape.len());
        transpose_bytes(x.bytes, x.dtype.size(), x.shape, &axes, outputs[0].bytes).map_err(|e| {
            Error::BadInput {
                op: "transpose".into(),
                reason: e.to_string(),
            }
        })
    }
    fn gpu(&self) -> Option<&dyn GpuForward> {
        Some(self)
    }
    fn gradient(&self, grad: &mut GradCtx<'_>) -> Result<Vec<Option<Entry>>> {
        // The inverse of a reversal is a reversal; otherwise invert the permutation.
        let mut inverse = vec![0; self.0.axes.len()];
        for (i, &a) in self.0.axes.iter().enumerate() {
            inverse[a] = i;
        }
        let back = Transpose(TransposeParam { axes: inverse });
        let g = grad.backward_node(back, &[grad.ograds[0]])?;
        Ok(vec![Some(g[0])])
    }
}

impl GpuForward for Transpose {
    fn forward_gpu(&self, call: GpuCall<'_, '_, '_>) -> Result<()> {
        let (ctx, inputs, outputs) = (call.ctx, call.inputs, call.outputs);
        let x = &inputs[0];
        gpu::transpose(ctx, &self.axes(x.shape.len()), x, &outputs[0])
    }
}

fn create_transpose(attrs: &[(&str, &str)]) -> Result<OpRef> {
    Ok(Arc::new(Transpose::new(TransposeParam::parse(
        attrs.iter().copied(),
    )?)?))
}

inventory::submit! {
    OpDef::new("transpose", "Permutes the axes (reverses them when `axes` is empty).",
        TransposeParam::specs, create_transpose)
}

mod gpu;
#[cfg(test)]
mod tests;
