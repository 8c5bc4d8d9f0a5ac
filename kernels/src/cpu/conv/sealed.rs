//! The sealed trait behind [`super::ConvElement`]: the fast kernels each element type has.

use super::backward::Served;
use super::{ConvError, ConvGeom, NchwOperands};
use crate::cpu::isa::Isa;

pub trait Sealed: Sized {
    /// Runs the forward convolution with the few-channel, direct or depthwise kernels when
    /// they serve it ([`super::few_channels::forward_with`],
    /// [`super::direct::forward_nchw_with`], [`super::depthwise::forward_nchw`], asked in that
    /// order); `Ok(false)` (nothing done) otherwise.
    fn direct_forward(
        _op: &NchwOperands<'_, Self>,
        _y: &mut [Self],
        _threads: usize,
    ) -> Result<bool, ConvError> {
        Ok(false)
    }

    /// Computes those gradients of the backward convolution (`dx` when wanted, `dw`; not
    /// the bias gradient) that the few-channel kernel (`dw` when `dx` is not wanted,
    /// [`super::few_channels::weight_gradient_with`]) or the blocked kernels
    /// ([`super::backward::backward_nchw`]) serve faster or, for `dx`, the fused GEMM +
    /// col2im ([`super::fused_dgrad`]), and says which; none by default.
    #[allow(clippy::too_many_arguments, reason = "the backward pass's operands")]
    fn direct_backward(
        _geom: &ConvGeom,
        _g: &[Self],
        _x: &[Self],
        _w: &[Self],
        _dx: Option<&mut [Self]>,
        _dw: &mut [Self],
        _threads: usize,
    ) -> Result<Served, ConvError> {
        Ok(Served::default())
    }

    /// Computes the data gradient alone (`dx` from the head gradient `g` and the weights `w`,
    /// overwritten) with the fused GEMM + col2im ([`super::fused_dgrad`]) when it serves
    /// `geom`; `Ok(false)` (nothing done) otherwise. The transposed convolution's forward pass
    /// ([`super::transposed`]) asks it.
    fn direct_data_gradient(
        _geom: &ConvGeom,
        _g: &[Self],
        _w: &[Self],
        _dx: &mut [Self],
        _threads: usize,
    ) -> Result<bool, ConvError> {
        Ok(false)
    }
}
impl Sealed for f32 {
    fn direct_forward(
        op: &NchwOperands<'_, f32>,
        y: &mut [f32],
        threads: usize,
    ) -> Result<bool, ConvError> {
        let isa = Isa::current();
        Ok((super::few_channels::serves(op.geom)
            && super::few_channels::forward_with(isa, op, y, threads)?)
            || super::direct::forward_nchw_with(isa, op, y, threads)?
            || super::depthwise::forward_nchw(op, y, threads)?)
    }

    fn direct_backward(
        geom: &ConvGeom,
        g: &[f32],
        x: &[f32],
        w: &[f32],
        mut dx: Option<&mut [f32]>,
        dw: &mut [f32],
        threads: usize,
    ) -> Result<Served, ConvError> {
        let isa = Isa::current();
        if dx.is_none()
            && super::few_channels::serves_weight_gradient(geom)
            && super::few_channels::weight_gradient_with(isa, geom, g, x, dw, threads)?
        {
            return Ok(Served {
                dx: false,
                dw: true,
            });
        }
        let mut served =
            super::backward::backward_nchw(geom, g, x, w, dx.as_deref_mut(), dw, threads)?;
        if let (false, Some(dx)) = (served.dx, dx) {
            served.dx = super::fused_dgrad::data_gradient_with(isa, geom, g, w, dx, threads)?;
        }
        Ok(served)
    }

    fn direct_data_gradient(
        geom: &ConvGeom,
        g: &[f32],
        w: &[f32],
        dx: &mut [f32],
        threads: usize,
    ) -> Result<bool, ConvError> {
        super::fused_dgrad::data_gradient_with(Isa::current(), geom, g, w, dx, threads)
    }
}
impl Sealed for f64 {}
