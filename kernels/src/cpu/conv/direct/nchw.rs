//! Convolutions on NCHW arrays through the blocked kernels: when the direct (or Winograd)
//! kernel pays for converting the layout, and the conversions around it.

use super::{DirectConv, Epilogue, InputLayout, InputStrides, pack_and_run, resize};
use crate::cpu::conv::blocked::Blocked;
use crate::cpu::conv::{ConvError, NchwOperands};
use crate::cpu::isa::Isa;

/// Output pixels (`N·P`) below which [`forward_nchw_with`] leaves a convolution to im2col: the
/// weights are packed on every call, which costs about as much as 20–60 multiply-adds per
/// weight (more when they do not fit in the caches), and only enough pixels amortise it.
const MIN_NCHW_PIXELS: usize = 256;

/// Flops per converted float below which [`forward_nchw_with`] leaves a convolution to im2col, for
/// `isa`'s kernels. Converted floats are the output's (always converted back to NCHW) and the
/// input's when it is converted to the blocked layout (not when it is read in place, or copied
/// as plain rows for a first layer). `gemm_only`: im2col needs no unrolling (a 1×1 kernel,
/// stride 1, no padding), so it is one plain GEMM, near the FMA peak, and the direct kernel
/// must save more than the conversions cost. Measured on the `benches/conv.rs` layers and a
/// few more 1×1 shapes (one thread, Zen 4): AVX-512 (reading 1×1 inputs in place) wins from
/// about 100 flops per float where im2col unrolls (3×3 layers have hundreds; ResNet's 1×1
/// stride-2 shortcut has 128), and against a plain GEMM from about 500 (ResNet-50's
/// `256 → 64` has 512 and wins by 5–10%; `128 → 256` has 256 and loses by 15%); the AVX2
/// kernel, a little slower and always converting its input, from about 250 and 1000.
fn min_nchw_intensity(isa: Isa, gemm_only: bool) -> f64 {
    match (isa, gemm_only) {
        (Isa::Avx512, false) => 96.0,
        (Isa::Avx512, true) => 512.0,
        (_, false) => 256.0,
        (_, true) => 1024.0,
    }
}

thread_local! {
    /// Scratch for [`forward_nchw_with`] (and [`crate::cpu::conv::depthwise::forward_nchw`]): the
    /// blocked input, the packed weights, the blocked output.
    pub(in crate::cpu::conv) static NCHW_SCRATCH: std::cell::RefCell<[Vec<f32>; 3]> = const {
        std::cell::RefCell::new([Vec::new(), Vec::new(), Vec::new()])
    };
}

/// A convolution on NCHW `f32` data through the blocked kernels of `isa` (scalar, or one this CPU
/// lacks, declines; [`crate::cpu::conv::conv_forward`] passes [`Isa::current`]), when they serve it
/// and it pays (AVX-512 or AVX2): Winograd where [`crate::cpu::conv::winograd::plan_nchw`] takes
/// it, else the direct kernel with at least `MIN_NCHW_PIXELS` output pixels to amortise packing the
/// weights, and enough flops per converted float, `min_nchw_intensity`. Converts the input to the
/// blocked layout (the plain layout for fewer than 8 channels; with AVX-512, an input without
/// horizontal padding is read in place), packs the weights, runs
/// [`DirectConv::forward`] with the bias in the epilogue, and converts the output back. Returns
/// `Ok(false)`, having done nothing, otherwise. The
/// buffers must have been checked against `geom` (as [`crate::cpu::conv::conv_forward`] does).
///
/// # Errors
/// [`ConvError`] from the direct kernel (a bug: the geometry was checked).
pub fn forward_nchw_with(
    isa: Isa,
    op: &NchwOperands<'_, f32>,
    y: &mut [f32],
    threads: usize,
) -> Result<bool, ConvError> {
    let NchwOperands { geom, x, w, bias } = *op;
    if isa < Isa::Avx2 || !isa.is_available() {
        return Ok(false);
    }
    let epilogue = Epilogue {
        bias,
        ..Epilogue::default()
    };
    if let Some(plan) = crate::cpu::conv::winograd::plan_nchw(geom) {
        let [_, h, wd] = geom.input;
        let in_layout = Blocked::new(geom.batch, geom.channels, h, wd, plan.input_halo());
        return NCHW_SCRATCH.with_borrow_mut(|[xin, packed, out]| {
            resize(xin, in_layout.len());
            crate::cpu::conv::blocked::to_blocked_with(isa, x, &in_layout, xin, threads);
            let strides = InputStrides::blocked(&in_layout);
            let scratch = [packed, out];
            let out_layout =
                pack_and_run(&plan, isa, xin, &strides, w, &epilogue, scratch, threads)?;
            crate::cpu::conv::blocked::from_blocked_with(isa, out, &out_layout, y, threads);
            Ok(true)
        });
    }
    // AVX-512 reads an input without horizontal padding in place (the plain layout without a
    // halo is the NCHW data itself), as fast as a blocked one; the AVX2 kernel reads blocked
    // inputs faster than it saves by skipping the conversion.
    let in_place = geom.pad[2] == 0 && isa == Isa::Avx512;
    let input = if geom.channels < 8 || in_place {
        InputLayout::Plain
    } else {
        InputLayout::Blocked
    };
    let Some(plan) = DirectConv::new_for(geom, input, isa)? else {
        return Ok(false);
    };
    let [oh, ow] = plan.output_size();
    let pixels = geom.batch * oh * ow;
    let flops = 2.0 * (geom.filters * geom.channels * plan.taps()) as f64 * pixels as f64;
    let converted = geom.filters * pixels
        + match input {
            InputLayout::Blocked => geom.data_len(),
            InputLayout::Plain => 0,
        };
    let gemm_only = plan.taps() == 1 && geom.stride == [1; 3] && geom.pad == [0; 3];
    if pixels < MIN_NCHW_PIXELS || flops < min_nchw_intensity(isa, gemm_only) * converted as f64 {
        return Ok(false);
    }
    NCHW_SCRATCH.with_borrow_mut(|[xin, packed, out]| {
        let (input, strides) = if in_place {
            let [_, h, wd] = geom.input;
            (x, InputStrides::plain(geom.channels, h, wd, 0))
        } else {
            let strides = plan.prepare_input(x, plan.input_halo(), xin)?;
            (&xin[..], strides)
        };
        let out_layout = pack_and_run(
            &plan,
            isa,
            input,
            &strides,
            w,
            &epilogue,
            [packed, out],
            threads,
        )?;
        crate::cpu::conv::blocked::from_blocked_with(isa, out, &out_layout, y, threads);
        Ok(true)
    })
}
