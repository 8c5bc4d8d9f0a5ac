//! Element-wise operators on blocked activations: an inference BatchNorm (with a ReLU) and an
//! addition (with a ReLU) that no convolution absorbed.

use mxr_kernels::cpu::conv::blocked_ops::{add_relu, affine_relu, fold_batch_norm};
use mxr_kernels::cpu::parallel;

use super::conv::FoldedBatchNorm;
use super::{bad, layout_of};
use crate::Result;
use crate::registry::{Call, Operator, ShapeCtx};

/// `_blocked_batch_norm`: inference `BatchNorm` (moving statistics) on a blocked input, then a
/// ReLU when `relu`; inputs `data, gamma, beta, moving_mean, moving_var`.
#[derive(Debug, Clone, PartialEq)]
pub struct BlockedBatchNorm {
    /// `eps` and `fix_gamma`.
    pub bn: FoldedBatchNorm,
    /// Channels.
    pub channels: usize,
    /// The input's halo.
    pub in_halo: usize,
    /// The output's halo.
    pub out_halo: usize,
    /// Whether a ReLU follows.
    pub relu: bool,
}

/// `_blocked_add`: `a + b` of two blocked inputs, then a ReLU when `relu`.
#[derive(Debug, Clone, PartialEq)]
pub struct BlockedAdd {
    /// Channels.
    pub channels: usize,
    /// The inputs' halos.
    pub in_halos: [usize; 2],
    /// The output's halo.
    pub out_halo: usize,
    /// Whether a ReLU follows.
    pub relu: bool,
}

/// The output shape: the input's, with the output halo.
fn same_shape_with_halo(
    op: &str,
    shapes: &mut ShapeCtx<'_>,
    channels: usize,
    in_halo: usize,
    out_halo: usize,
) -> Result<()> {
    let Some(dims) = shapes.input_dims(0) else {
        return Ok(());
    };
    let layout = layout_of(op, &dims, channels, in_halo)?.with_halo(out_halo);
    shapes.set_output(
        0,
        crate::registry::Shape::known(&super::blocked_shape(&layout)),
    )
}

impl Operator for BlockedBatchNorm {
    fn name(&self) -> &'static str {
        "_blocked_batch_norm"
    }
    fn attrs(&self) -> Vec<(String, String)> {
        vec![
            ("eps".into(), self.bn.eps.to_string()),
            ("fix_gamma".into(), self.bn.fix_gamma.to_string()),
            ("relu".into(), self.relu.to_string()),
        ]
    }
    fn input_names(&self) -> Vec<String> {
        ["data", "gamma", "beta", "moving_mean", "moving_var"]
            .map(String::from)
            .to_vec()
    }
    fn infer_shape(&self, shapes: &mut ShapeCtx<'_>) -> Result<()> {
        same_shape_with_halo(
            self.name(),
            shapes,
            self.channels,
            self.in_halo,
            self.out_halo,
        )
    }
    fn forward(&self, call: Call<'_, '_, '_>) -> Result<()> {
        let (inputs, outputs) = (call.inputs, call.outputs);
        let name = self.name();
        let in_layout = layout_of(name, inputs[0].shape, self.channels, self.in_halo)?;
        let f = |i: usize| inputs[i].slice::<f32>(name);
        let (scale, shift) =
            fold_batch_norm(f(1)?, f(2)?, f(3)?, f(4)?, self.bn.eps, self.bn.fix_gamma)
                .map_err(|e| bad(name, e))?;
        affine_relu(
            f(0)?,
            &in_layout,
            &scale,
            &shift,
            self.relu,
            outputs[0].slice_mut::<f32>(name)?,
            &in_layout.with_halo(self.out_halo),
            parallel::num_threads(),
        )
        .map_err(|e| bad(name, e))
    }
}

impl Operator for BlockedAdd {
    fn name(&self) -> &'static str {
        "_blocked_add"
    }
    fn attrs(&self) -> Vec<(String, String)> {
        vec![("relu".into(), self.relu.to_string())]
    }
    fn input_names(&self) -> Vec<String> {
        vec!["lhs".into(), "rhs".into()]
    }
    fn infer_shape(&self, shapes: &mut ShapeCtx<'_>) -> Result<()> {
        same_shape_with_halo(
            self.name(),
            shapes,
            self.channels,
            self.in_halos[0],
            self.out_halo,
        )
    }
    fn forward(&self, call: Call<'_, '_, '_>) -> Result<()> {
        let (inputs, outputs) = (call.inputs, call.outputs);
        let name = self.name();
        let a = layout_of(name, inputs[0].shape, self.channels, self.in_halos[0])?;
        let b = layout_of(name, inputs[1].shape, self.channels, self.in_halos[1])?;
        add_relu(
            inputs[0].slice::<f32>(name)?,
            &a,
            inputs[1].slice::<f32>(name)?,
            &b,
            self.relu,
            outputs[0].slice_mut::<f32>(name)?,
            &a.with_halo(self.out_halo),
            parallel::num_threads(),
        )
        .map_err(|e| bad(name, e))
    }
}
