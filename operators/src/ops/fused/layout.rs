//! Conversions between NCHW arrays and the blocked layout.

use mxr_kernels::cpu::conv::blocked::{Blocked, from_blocked, to_blocked};

use super::{blocked_shape, layout_of};
use crate::registry::{Call, Operator, Shape, ShapeCtx};
use crate::{Error, Result};

/// `_to_blocked`: an `N × C × H × W` (or `N × C × W`) `f32` array into the blocked layout with
/// `halo` zero columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToBlocked {
    /// Zero columns on each side of every row.
    pub halo: usize,
}

/// `_from_blocked`: a blocked array of `channels` channels with `halo` back to `N × C × H × W`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FromBlocked {
    /// The logical channel count.
    pub channels: usize,
    /// The input's halo.
    pub halo: usize,
}

/// `[n, c, h, w]` of a 3-D or 4-D NCHW shape.
fn nchw(op: &str, shape: &[usize]) -> Result<[usize; 4]> {
    match *shape {
        [n, c, h, w] => Ok([n, c, h, w]),
        [n, c, w] => Ok([n, c, 1, w]),
        _ => Err(Error::BadInput {
            op: op.into(),
            reason: format!("{shape:?} is not a 3-D or 4-D NCHW shape"),
        }),
    }
}

impl Operator for ToBlocked {
    fn name(&self) -> &'static str {
        "_to_blocked"
    }
    fn attrs(&self) -> Vec<(String, String)> {
        vec![("halo".into(), self.halo.to_string())]
    }
    fn infer_shape(&self, shapes: &mut ShapeCtx<'_>) -> Result<()> {
        let Some(dims) = shapes.input_dims(0) else {
            return Ok(());
        };
        let [n, c, h, w] = nchw(self.name(), &dims)?;
        shapes.set_output(
            0,
            Shape::known(&blocked_shape(&Blocked::new(n, c, h, w, self.halo))),
        )
    }
    fn forward(&self, call: Call<'_, '_, '_>) -> Result<()> {
        let (inputs, outputs) = (call.inputs, call.outputs);
        let [n, c, h, w] = nchw(self.name(), inputs[0].shape)?;
        let layout = Blocked::new(n, c, h, w, self.halo);
        to_blocked(
            inputs[0].slice::<f32>(self.name())?,
            &layout,
            outputs[0].slice_mut::<f32>(self.name())?,
        );
        Ok(())
    }
}

impl Operator for FromBlocked {
    fn name(&self) -> &'static str {
        "_from_blocked"
    }
    fn attrs(&self) -> Vec<(String, String)> {
        vec![
            ("channels".into(), self.channels.to_string()),
            ("halo".into(), self.halo.to_string()),
        ]
    }
    fn infer_shape(&self, shapes: &mut ShapeCtx<'_>) -> Result<()> {
        let Some(dims) = shapes.input_dims(0) else {
            return Ok(());
        };
        let l = layout_of(self.name(), &dims, self.channels, self.halo)?;
        shapes.set_output(0, Shape::known(&[l.n, l.c, l.h, l.w]))
    }
    fn forward(&self, call: Call<'_, '_, '_>) -> Result<()> {
        let (inputs, outputs) = (call.inputs, call.outputs);
        let layout = layout_of(self.name(), inputs[0].shape, self.channels, self.halo)?;
        from_blocked(
            inputs[0].slice::<f32>(self.name())?,
            &layout,
            outputs[0].slice_mut::<f32>(self.name())?,
        );
        Ok(())
    }
}
