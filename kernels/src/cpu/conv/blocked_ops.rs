//! Element-wise operations on channel-blocked activations ([`super::blocked`]), `f32`: a
//! per-channel affine map with an optional ReLU ([`affine_relu`]: BatchNorm in inference, folded
//! by [`fold_batch_norm`], then an activation, as ResNet-v2's pre-activation units need) and
//! an addition with an optional ReLU ([`add_relu`]: a residual join).
//!
//! Inputs and output are blocked activations of one shape that may have different halos; the
//! output's halo columns are zeroed and its padding channels stay zero. Rows are split across
//! threads statically (each output element is computed by one thread, in one order), and
//! every instruction set gives the same bits (`super::lanes`).
//!
//! ```
//! use mxr_kernels::cpu::conv::blocked::{Blocked, from_blocked, to_blocked};
//! use mxr_kernels::cpu::conv::blocked_ops::{add_relu, affine_relu};
//! let layout = Blocked::new(1, 2, 1, 2, 1); // 2 channels, 1×2, one halo column
//! let mut x = vec![0.0; layout.len()];
//! to_blocked(&[1.0, -2.0, 3.0, 4.0], &layout, &mut x);
//! let out_layout = layout.with_halo(0);
//! let mut y = vec![f32::NAN; out_layout.len()];
//! affine_relu(&x, &layout, &[2.0, -1.0], &[0.5, 0.0], true, &mut y, &out_layout, 1)?;
//! let mut nchw = vec![0.0; 4];
//! from_blocked(&y, &out_layout, &mut nchw);
//! assert_eq!(nchw, [2.5, 0.0, 0.0, 0.0]); // relu(2x + 0.5) and relu(-x)
//! let mut z = vec![0.0; out_layout.len()];
//! add_relu(&x, &layout, &y, &out_layout, false, &mut z, &out_layout, 1)?;
//! from_blocked(&z, &out_layout, &mut nchw);
//! assert_eq!(nchw, [3.5, -2.0, 3.0, 4.0]); // x + y
//! # Ok::<(), mxr_kernels::cpu::conv::ConvError>(())
//! ```

use std::ops::Range;
use std::sync::Mutex;

use super::blocked::{BLOCK, Blocked};
use super::lanes::{Kernel, Lanes, run_kernel};
use super::{ConvError, check_len};
use crate::cpu::batch_norm::inverse_std;
use crate::cpu::isa::Isa;
use crate::cpu::parallel;

/// Element-wise work below this many floats per thread runs on one thread.
const MIN_FLOATS_PER_THREAD: usize = 1 << 16;

/// MXNet's inference BatchNorm as a per-channel affine map `y = x·scale + shift`:
/// `scale = gamma / √(var + eps)` (`gamma` taken as 1 with `fix_gamma`) and
/// `shift = beta − mean·scale`, for [`affine_relu`] or to fold into a convolution's weights
/// ([`super::direct::DirectConv::pack_weights`]'s scale, with `shift` as the bias).
///
/// `scale` is computed exactly as [`crate::cpu::batch_norm::normalize`] computes its
/// per-channel factor (`invstd` from [`inverse_std`] in `f64` rounded to `f32`, times `gamma`
/// in `f32`): it is **bit-identical**. `shift` is `beta − mean·scale` evaluated in `f64` and
/// rounded once. The outputs `x·scale + shift` (one fused multiply-add in [`affine_relu`]) are
/// **neither bit-identical nor always within 1 ulp** of `normalize`'s `(x − mean)·scale + beta`
/// (three roundings): the two differ by rounding only, at most `5·2⁻²⁴·M` with
/// `M = max(|y|, |(x − mean)·scale|, |shift|)`, so by more than an ulp of `y` only where `y`
/// is small through cancellation. On random data about 57% of outputs are bit-identical and
/// 91% within 1 ulp; the worst seen is `3.6·2⁻²⁴·M` (the tests check the bound).
///
/// # Errors
/// [`ConvError::Length`] when the four vectors do not have the same length.
pub fn fold_batch_norm(
    gamma: &[f32],
    beta: &[f32],
    mean: &[f32],
    var: &[f32],
    eps: f64,
    fix_gamma: bool,
) -> Result<(Vec<f32>, Vec<f32>), ConvError> {
    let c = gamma.len();
    check_len("beta", beta.len(), c)?;
    check_len("moving mean", mean.len(), c)?;
    check_len("moving var", var.len(), c)?;
    let mut scale = vec![0.0f32; c];
    inverse_std(var, eps, &mut scale);
    if !fix_gamma {
        for (s, &g) in scale.iter_mut().zip(gamma) {
            *s *= g;
        }
    }
    let shift = beta
        .iter()
        .zip(mean)
        .zip(&scale)
        .map(|((&b, &m), &s)| (f64::from(b) - f64::from(m) * f64::from(s)) as f32)
        .collect();
    Ok((scale, shift))
}

/// `y = x·scale[c] + shift[c]` per channel (one fused multiply-add), then MXNet's relu when
/// `relu` (`0` where `y <= 0`: NaN kept, `-0` becomes `+0`), with the current instruction set
/// on up to `threads` threads. `out_layout` is `in_layout` with any halo.
///
/// # Errors
/// [`ConvError`] when a buffer does not match its layout, the layouts differ in more than the
/// halo, or `scale`/`shift` do not have one value per channel.
#[allow(clippy::too_many_arguments, reason = "the operation's operands")]
pub fn affine_relu(
    input: &[f32],
    in_layout: &Blocked,
    scale: &[f32],
    shift: &[f32],
    relu: bool,
    out: &mut [f32],
    out_layout: &Blocked,
    threads: usize,
) -> Result<(), ConvError> {
    affine_relu_with(
        Isa::current(),
        input,
        in_layout,
        scale,
        shift,
        relu,
        out,
        out_layout,
        threads,
    )
}

/// [`affine_relu`] with a chosen instruction set (tests compare them); one this CPU lacks runs
/// the portable code.
///
/// # Errors
/// As [`affine_relu`].
#[allow(clippy::too_many_arguments, reason = "the operation's operands")]
pub fn affine_relu_with(
    isa: Isa,
    input: &[f32],
    in_layout: &Blocked,
    scale: &[f32],
    shift: &[f32],
    relu: bool,
    out: &mut [f32],
    out_layout: &Blocked,
    threads: usize,
) -> Result<(), ConvError> {
    check_operand("input", input, in_layout, out_layout)?;
    check_len("output", out.len(), out_layout.len())?;
    check_len("scale", scale.len(), out_layout.c)?;
    check_len("shift", shift.len(), out_layout.c)?;
    let padded = |v: &[f32]| {
        let mut p = vec![0.0f32; out_layout.blocks() * BLOCK];
        p[..v.len()].copy_from_slice(v);
        p
    };
    let (scale, shift) = (padded(scale), padded(shift));
    let op = Op::Affine {
        x: input,
        x_layout: in_layout,
        scale: &scale,
        shift: &shift,
    };
    run_rows(isa, op, relu, out, out_layout, threads);
    Ok(())
}

/// `y = a + b`, then MXNet's relu when `relu`, with the current instruction set on up to
/// `threads` threads. The three layouts are one shape with any halos.
///
/// # Errors
/// [`ConvError`] when a buffer does not match its layout or the layouts differ in more than
/// the halo.
#[allow(clippy::too_many_arguments, reason = "the operation's operands")]
pub fn add_relu(
    a: &[f32],
    a_layout: &Blocked,
    b: &[f32],
    b_layout: &Blocked,
    relu: bool,
    out: &mut [f32],
    out_layout: &Blocked,
    threads: usize,
) -> Result<(), ConvError> {
    add_relu_with(
        Isa::current(),
        a,
        a_layout,
        b,
        b_layout,
        relu,
        out,
        out_layout,
        threads,
    )
}

/// [`add_relu`] with a chosen instruction set (tests compare them); one this CPU lacks runs
/// the portable code.
///
/// # Errors
/// As [`add_relu`].
#[allow(clippy::too_many_arguments, reason = "the operation's operands")]
pub fn add_relu_with(
    isa: Isa,
    a: &[f32],
    a_layout: &Blocked,
    b: &[f32],
    b_layout: &Blocked,
    relu: bool,
    out: &mut [f32],
    out_layout: &Blocked,
    threads: usize,
) -> Result<(), ConvError> {
    check_operand("first addend", a, a_layout, out_layout)?;
    check_operand("second addend", b, b_layout, out_layout)?;
    check_len("output", out.len(), out_layout.len())?;
    let op = Op::Add {
        a,
        a_layout,
        b,
        b_layout,
    };
    run_rows(isa, op, relu, out, out_layout, threads);
    Ok(())
}

/// Runs `op` (its operands checked against `out_layout`) into `out` with `isa` (or the
/// portable code) on up to `threads` threads, each with at least [`MIN_FLOATS_PER_THREAD`]
/// output floats. AVX-512 runs the AVX2 lanes: these operations are memory-bound, and the
/// 256-bit kernels measured 10–20% faster on Zen 4 (the results are the same bits).
fn run_rows(
    isa: Isa,
    op: Op<'_>,
    relu: bool,
    out: &mut [f32],
    out_layout: &Blocked,
    threads: usize,
) {
    let isa = usable(isa).min(Isa::Avx2);
    let parts = threads.min(out.len() / MIN_FLOATS_PER_THREAD).max(1);
    for_row_parts(out, out_layout, parts, |rows, chunk| {
        let kernel = Rows {
            op,
            relu,
            rows,
            out: chunk.as_mut_ptr(),
            out_layout,
        };
        // SAFETY: `isa` is available; the operands were checked against the layouts, and
        // `chunk` holds exactly the rows of `kernel.rows` (see `Rows`).
        unsafe { run_kernel(isa, &kernel) };
    });
}

/// `isa` when this CPU has it, else the portable code.
pub(crate) fn usable(isa: Isa) -> Isa {
    if isa.is_available() { isa } else { Isa::Scalar }
}

/// Checks that `x` holds an activation in `layout`, which must be `out`'s shape (any halo).
fn check_operand(
    what: &'static str,
    x: &[f32],
    layout: &Blocked,
    out: &Blocked,
) -> Result<(), ConvError> {
    if layout.with_halo(out.halo) != *out {
        return Err(ConvError::Geometry(format!(
            "blocked element-wise: {what} layout {layout:?} is not the output's shape {out:?}"
        )));
    }
    check_len(what, x.len(), layout.len())
}

/// The image, channel block and row of row `unit` of `layout` (rows ordered image, block, row;
/// row fastest).
pub(crate) fn row_of(unit: usize, layout: &Blocked) -> (usize, usize, usize) {
    let y = unit % layout.h.max(1);
    let rest = unit / layout.h.max(1);
    (
        rest / layout.blocks().max(1),
        rest % layout.blocks().max(1),
        y,
    )
}

/// The index of pixel 0 (past the halo) of row `y` of block `cb` of image `n`.
pub(crate) fn row_start(layout: &Blocked, n: usize, cb: usize, y: usize) -> usize {
    layout.offset(n, cb * BLOCK, y, 0)
}

/// Splits the rows of the blocked output `out` (in `layout`; rows ordered image, block, row,
/// so any run of them is contiguous) into at most `parts` contiguous ranges, zeroes their halo
/// columns, and runs `task(rows, chunk)` for each range on [`parallel::for_each_part`],
/// `chunk` being exactly those rows of `out`. The split never changes what a row's task
/// computes.
pub(crate) fn for_row_parts(
    out: &mut [f32],
    layout: &Blocked,
    parts: usize,
    task: impl Fn(Range<usize>, &mut [f32]) + Sync,
) {
    let pitch = layout.pitch();
    if out.is_empty() || pitch == 0 {
        return;
    }
    let units = out.len() / pitch;
    let ranges = parallel::split_range(units, parts, 1);
    let mut slots = Vec::with_capacity(ranges.len());
    let mut rest = out;
    for r in &ranges {
        let (chunk, tail) = rest.split_at_mut(r.len() * pitch);
        let halo = layout.halo * BLOCK;
        if halo > 0 {
            for row in chunk.chunks_exact_mut(pitch) {
                row[..halo].fill(0.0);
                row[pitch - halo..].fill(0.0);
            }
        }
        slots.push(Mutex::new(chunk));
        rest = tail;
    }
    parallel::for_each_part(ranges.len(), |p| {
        let mut chunk = slots[p].lock().unwrap_or_else(|e| e.into_inner());
        task(ranges[p].clone(), &mut chunk);
    });
}

/// The operation of [`Rows`].
#[derive(Debug, Clone, Copy)]
enum Op<'a> {
    /// `x·scale + shift` (both padded to whole blocks).
    Affine {
        x: &'a [f32],
        x_layout: &'a Blocked,
        scale: &'a [f32],
        shift: &'a [f32],
    },
    /// `a + b`.
    Add {
        a: &'a [f32],
        a_layout: &'a Blocked,
        b: &'a [f32],
        b_layout: &'a Blocked,
    },
}

/// The output rows `rows` (of `out_layout`) of one operation; `out` points at the first of
/// them, and the operands were checked against `out_layout` (same shape, any halo).
#[derive(Debug)]
struct Rows<'a> {
    op: Op<'a>,
    relu: bool,
    rows: Range<usize>,
    out: *mut f32,
    out_layout: &'a Blocked,
}

impl Kernel for Rows<'_> {
    #[inline(always)]
    unsafe fn run<V: Lanes>(&self) {
        let ol = self.out_layout;
        let relu = |y: V| {
            // SAFETY: `V`'s instruction set is available (the trait's contract).
            if self.relu { unsafe { y.relu() } } else { y }
        };
        for (i, unit) in self.rows.clone().enumerate() {
            let (n, cb, y) = row_of(unit, ol);
            // SAFETY: (this block) row `i` of the chunk, past its halo, and the operands' rows
            // `(n, cb, y)` hold `w` pixels of 16 floats each (the layouts were checked);
            // `scale` and `shift` hold whole blocks.
            unsafe {
                let out = self.out.add(i * ol.pitch() + ol.halo * BLOCK);
                match self.op {
                    Op::Affine {
                        x,
                        x_layout,
                        scale,
                        shift,
                    } => {
                        let xp = x.as_ptr().add(row_start(x_layout, n, cb, y));
                        let s = V::load(scale.as_ptr().add(cb * BLOCK));
                        let t = V::load(shift.as_ptr().add(cb * BLOCK));
                        for px in 0..ol.w {
                            let v = V::fma(V::load(xp.add(px * BLOCK)), s, t);
                            relu(v).store(out.add(px * BLOCK));
                        }
                    }
                    Op::Add {
                        a,
                        a_layout,
                        b,
                        b_layout,
                    } => {
                        let ap = a.as_ptr().add(row_start(a_layout, n, cb, y));
                        let bp = b.as_ptr().add(row_start(b_layout, n, cb, y));
                        for px in 0..ol.w {
                            let v =
                                V::add(V::load(ap.add(px * BLOCK)), V::load(bp.add(px * BLOCK)));
                            relu(v).store(out.add(px * BLOCK));
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod test_util;

#[cfg(test)]
mod tests;
