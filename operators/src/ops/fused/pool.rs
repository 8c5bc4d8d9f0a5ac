//! Pooling on blocked activations.

use mxr_kernels::cpu::parallel;
use mxr_kernels::cpu::pooling::blocked::BlockedPool;

use super::{bad, blocked_shape, layout_of};
use crate::Result;
use crate::ops::pooling::PoolSpec;
use crate::registry::{Call, Operator, Shape, ShapeCtx};

/// `_blocked_pool`: `Pooling` (2-D, any type but lp) on a blocked input of `channels` channels
/// with `in_halo`, writing a blocked output with `out_halo`; the same windows and summation
/// order as the NCHW kernel.
#[derive(Debug, Clone, PartialEq)]
pub struct BlockedPooling {
    /// The pooling.
    pub spec: PoolSpec,
    /// Channels.
    pub channels: usize,
    /// Input height and width.
    pub input: [usize; 2],
    /// The input's halo.
    pub in_halo: usize,
    /// The output's halo.
    pub out_halo: usize,
}

impl BlockedPooling {
    /// The kernel's plan for a batch of `n`; an error naming the operator when it does not
    /// serve the pooling (the fusion pass only builds served ones).
    pub fn plan(&self, n: usize) -> Result<BlockedPool> {
        let geom = self
            .spec
            .geom(&[n, self.channels, self.input[0], self.input[1]]);
        BlockedPool::new(&geom, self.spec.kind)
            .map_err(|e| bad(self.name(), e))?
            .ok_or_else(|| bad(self.name(), format!("pooling {geom:?} is not 2-D")))
    }
}

impl Operator for BlockedPooling {
    fn name(&self) -> &'static str {
        "_blocked_pool"
    }
    fn attrs(&self) -> Vec<(String, String)> {
        self.spec.param.to_attrs()
    }
    fn infer_shape(&self, shapes: &mut ShapeCtx<'_>) -> Result<()> {
        let Some(n) = shapes.input(0).dim(0) else {
            return Ok(());
        };
        let plan = self.plan(n)?;
        let out = plan.output_layout(n, self.channels, self.out_halo);
        shapes.set_output(0, Shape::known(&blocked_shape(&out)))
    }
    fn forward(&self, call: Call<'_, '_, '_>) -> Result<()> {
        let (inputs, outputs) = (call.inputs, call.outputs);
        let name = self.name();
        let in_layout = layout_of(name, inputs[0].shape, self.channels, self.in_halo)?;
        let plan = self.plan(in_layout.n)?;
        let out_layout = plan.output_layout(in_layout.n, self.channels, self.out_halo);
        plan.forward(
            inputs[0].slice::<f32>(name)?,
            &in_layout,
            outputs[0].slice_mut::<f32>(name)?,
            &out_layout,
            parallel::num_threads(),
        )
        .map_err(|e| bad(name, e))
    }
}
