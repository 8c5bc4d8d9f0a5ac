//! `MakeLoss` and its gradient `_backward_MakeLoss`: the identity forward, a constant gradient backward.

use std::sync::Arc;

use super::{Normalization, check_finite, gpu};
use crate::registry::{
    Call, Entry, GpuCall, GpuForward, GradCtx, OpContext, OpDef, OpRef, Operator, ShapeCtx,
    TensorMut,
};
use crate::{Result, params};

params! {
    /// Parameters of `MakeLoss`.
    pub struct MakeLossParam for "MakeLoss" {
        /// The gradient (before normalisation).
        grad_scale: f32 = 1.0,
        /// For normalization='valid': elements greater than this count as valid.
        valid_thresh: f32 = 0.0,
        /// Gradient normalisation.
        normalization: Normalization = Normalization::Null,
    }
}

/// `MakeLoss`: the identity forward; backward a constant gradient `grad_scale` (divided by the
/// batch size, or by the number of elements greater than `valid_thresh`).
#[derive(Debug, Clone, PartialEq)]
pub struct MakeLoss(pub MakeLossParam);

impl MakeLoss {
    /// Parses the attributes.
    pub fn parse(attrs: &[(&str, &str)]) -> Result<MakeLoss> {
        let p = MakeLossParam::parse(attrs.iter().copied())?;
        check_finite("MakeLoss", "grad_scale", p.grad_scale)?;
        Ok(MakeLoss(p))
    }
}

impl Operator for MakeLoss {
    fn name(&self) -> &'static str {
        "MakeLoss"
    }
    fn attrs(&self) -> Vec<(String, String)> {
        self.0.to_attrs()
    }
    fn infer_shape(&self, shapes: &mut ShapeCtx<'_>) -> Result<()> {
        super::super::same_shape(shapes)
    }
    fn forward(&self, call: Call<'_, '_, '_>) -> Result<()> {
        let (inputs, outputs) = (call.inputs, call.outputs);
        outputs[0].bytes.copy_from_slice(inputs[0].bytes);
        Ok(())
    }
    fn gpu(&self) -> Option<&dyn GpuForward> {
        Some(self)
    }
    fn is_inplace_unary(&self) -> bool {
        true
    }
    fn forward_inplace(
        &self,
        _ctx: &mut OpContext<'_>,
        _data: &mut TensorMut<'_>,
    ) -> Option<Result<()>> {
        Some(Ok(()))
    }
    fn inplace_option(&self) -> Vec<(usize, usize)> {
        vec![(0, 0)]
    }
    fn inplace_identity(&self) -> bool {
        true
    }
    fn gradient(&self, grad: &mut GradCtx<'_>) -> Result<Vec<Option<Entry>>> {
        let out = grad.backward_node(MakeLossBackward(self.clone()), &[grad.inputs[0]])?;
        Ok(vec![Some(out[0])])
    }
    fn is_loss(&self) -> bool {
        true
    }
}

impl GpuForward for MakeLoss {
    fn forward_gpu(&self, call: GpuCall<'_, '_, '_>) -> Result<()> {
        let (ctx, inputs, outputs) = (call.ctx, call.inputs, call.outputs);
        gpu::copy(ctx, self.name(), &inputs[0], &outputs[0])
    }
}

/// `_backward_MakeLoss`: input `[data]` (see the module docs), output `[data_grad]`.
#[derive(Debug, Clone, PartialEq)]
pub struct MakeLossBackward(pub MakeLoss);

impl Operator for MakeLossBackward {
    fn name(&self) -> &'static str {
        "_backward_MakeLoss"
    }
    fn attrs(&self) -> Vec<(String, String)> {
        self.0.attrs()
    }
    fn infer_shape(&self, shapes: &mut ShapeCtx<'_>) -> Result<()> {
        super::super::same_shape(shapes)
    }
    fn forward(&self, call: Call<'_, '_, '_>) -> Result<()> {
        let (inputs, outputs) = (call.inputs, call.outputs);
        let p = &self.0.0;
        let data = &inputs[0];
        let norm = match p.normalization {
            Normalization::Null => 1.0,
            Normalization::Batch => data.shape.first().copied().unwrap_or(1).max(1) as f64,
            Normalization::Valid => {
                let thresh = f64::from(p.valid_thresh);
                let valid = data
                    .to_f64_vec()
                    .into_iter()
                    .filter(|&v| v > thresh)
                    .count();
                valid.max(1) as f64
            }
        };
        outputs[0].fill(f64::from(p.grad_scale) / norm);
        Ok(())
    }
    fn gpu(&self) -> Option<&dyn GpuForward> {
        Some(self)
    }
    fn ignore_inputs(&self) -> Vec<usize> {
        if self.0.0.normalization == Normalization::Valid {
            Vec::new()
        } else {
            vec![0]
        }
    }
}

impl GpuForward for MakeLossBackward {
    fn forward_gpu(&self, call: GpuCall<'_, '_, '_>) -> Result<()> {
        let (ctx, inputs, outputs) = (call.ctx, call.inputs, call.outputs);
        gpu::make_loss_backward(ctx, &self.0.0, &inputs[0], &outputs[0])
    }
}

fn create_make_loss(attrs: &[(&str, &str)]) -> Result<OpRef> {
    Ok(Arc::new(MakeLoss::parse(attrs)?))
}

fn create_backward_make_loss(attrs: &[(&str, &str)]) -> Result<OpRef> {
    Ok(Arc::new(MakeLossBackward(MakeLoss::parse(attrs)?)))
}

inventory::submit! {
    OpDef::new("MakeLoss",
        "Identity forward marking a loss: backward a constant grad_scale (normalised), \
         ignoring the head gradient.",
        MakeLossParam::specs, create_make_loss)
}

inventory::submit! {
    OpDef::new("_backward_MakeLoss", "The gradient of MakeLoss.",
        MakeLossParam::specs, create_backward_make_loss)
}
