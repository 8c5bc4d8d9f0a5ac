//! Convolution by im2col + GEMM, and its backward.
//!
//! Data is `N × C × spatial` (NCW / NCHW / NCDHW), weights are `F × C/groups × kernel`, the
//! output is `N × F × out-spatial`. Everything is done in three spatial dimensions: a 1-D or 2-D
//! convolution is one whose leading spatial dimensions are 1 (size, kernel, stride and dilation
//! 1, pad 0), so a single code path serves every rank.
//!
//! Per sample, [`im2col()`] unrolls the input into a `(C·kd·kh·kw) × (od·oh·ow)` matrix whose row
//! `(c, i, j, l)` holds the input element each output position sees through kernel tap
//! `(i, j, l)` of channel `c` (zero where the tap falls into the padding). The convolution of
//! group `g` is then one GEMM: `out[g] (F/G × P) = W[g] (F/G × K) · col[g] (K × P)`, where
//! `K = C/G·kd·kh·kw` and `P = od·oh·ow`. A 1×1 kernel with stride 1 and no padding skips the
//! unrolling: the input already is that matrix.
//!
//! The backward pass reuses the same matrices: `dW[g] += g[g] · col[g]ᵀ`,
//! `dcol[g] = W[g]ᵀ · g[g]`, and [`col2im`] folds `dcol` back onto the input gradient
//! (adding where windows overlap); the bias gradient is the sum of `g` over batch and space.
//!
//! ```
//! use mxr_kernels::cpu::conv::{ConvGeom, conv_forward};
//! // One 3×3 image, one 2×2 filter of ones: every output is the sum of a 2×2 window.
//! let geom = ConvGeom::new_2d(1, 1, 1, 1, [3, 3], [2, 2], [1, 1], [0, 0], [1, 1]);
//! let x: Vec<f32> = (1..=9).map(|v| v as f32).collect();
//! let w = [1.0f32; 4];
//! let mut y = [0.0f32; 4];
//! conv_forward(&geom, &x, &w, Some(&[0.5]), &mut y)?;
//! assert_eq!(y, [12.5, 16.5, 24.5, 28.5]);
//! # Ok::<(), mxr_kernels::cpu::conv::ConvError>(())
//! ```

use std::ops::{Add, AddAssign};

use super::gemm::{GemmElement, GemmError, batched_gemm};
use super::parallel;

pub mod backward;
pub mod blocked;
pub mod blocked_ops;
pub mod depthwise;
pub mod direct;
pub mod few_channels;
pub mod fused_dgrad;
mod im2col;
pub mod implicit_wgrad;
pub(crate) mod lanes;
pub mod transposed;
pub mod winograd;

pub use im2col::{col2im, im2col};
use im2col::{col2im_unchecked, im2col_unchecked};

mod sealed;

/// An element type the convolution kernels support: `f32` and `f64`. Sealed.
pub trait ConvElement: GemmElement + Add<Output = Self> + AddAssign + sealed::Sealed {}

impl ConvElement for f32 {}
impl ConvElement for f64 {}

/// A convolution the kernels cannot run as described.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConvError {
    /// The geometry is invalid (a zero stride, channels not divisible by the groups, a kernel
    /// larger than the padded input, ...).
    #[error("convolution: {0}")]
    Geometry(String),
    /// A buffer's length does not match the geometry.
    #[error("convolution: {what} has {len} elements, the geometry needs {needed}")]
    Length {
        /// Which buffer (`data`, `weight`, `bias`, `output`, ...).
        what: &'static str,
        /// Its length.
        len: usize,
        /// The length the geometry implies.
        needed: usize,
    },
    /// The matrix product failed (a bug: the geometry was checked first).
    #[error(transparent)]
    Gemm(#[from] GemmError),
}

/// The shape of one convolution, with every spatial quantity in three dimensions
/// (`[depth, height, width]`; unused leading dimensions are 1, or 0 for `pad`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConvGeom {
    /// Batch size `N`.
    pub batch: usize,
    /// Input channels `C`.
    pub channels: usize,
    /// Output channels (`num_filter`) `F`.
    pub filters: usize,
    /// Groups `G`: `C` and `F` are split into `G` independent convolutions.
    pub groups: usize,
    /// Input spatial size.
    pub input: [usize; 3],
    /// Kernel size.
    pub kernel: [usize; 3],
    /// Stride.
    pub stride: [usize; 3],
    /// Zero padding on each side.
    pub pad: [usize; 3],
    /// Dilation (distance between kernel taps).
    pub dilate: [usize; 3],
}

impl ConvGeom {
    /// A 2-D convolution (NCHW): `input`, `kernel`, `stride`, `pad`, `dilate` are `[h, w]`.
    #[allow(
        clippy::too_many_arguments,
        reason = "one argument per convolution parameter"
    )]
    pub fn new_2d(
        batch: usize,
        channels: usize,
        filters: usize,
        groups: usize,
        input: [usize; 2],
        kernel: [usize; 2],
        stride: [usize; 2],
        pad: [usize; 2],
        dilate: [usize; 2],
    ) -> ConvGeom {
        ConvGeom {
            batch,
            channels,
            filters,
            groups,
            input: [1, input[0], input[1]],
            kernel: [1, kernel[0], kernel[1]],
            stride: [1, stride[0], stride[1]],
            pad: [0, pad[0], pad[1]],
            dilate: [1, dilate[0], dilate[1]],
        }
    }

    /// The output spatial size, `⌊(x + 2·pad − (dilate·(kernel−1)+1)) / stride⌋ + 1` per
    /// dimension; an error when a stride, kernel or dilation is 0 or a dilated kernel does not
    /// fit in the padded input.
    pub fn output(&self) -> Result<[usize; 3], ConvError> {
        let mut out = [0; 3];
        for (d, o) in out.iter_mut().enumerate() {
            let (k, s, dil) = (self.kernel[d], self.stride[d], self.dilate[d]);
            if k == 0 || s == 0 || dil == 0 {
                return Err(ConvError::Geometry(format!(
                    "kernel {:?}, stride {:?} and dilate {:?} must be positive",
                    self.kernel, self.stride, self.dilate
                )));
            }
            if self.input[d] == 0 {
                return Err(ConvError::Geometry(format!(
                    "input size {:?} has a zero dimension",
                    self.input
                )));
            }
            let span = dil * (k - 1) + 1;
            let padded = self.input[d] + 2 * self.pad[d];
            if span > padded {
                return Err(ConvError::Geometry(format!(
                    "dilated kernel size {span} exceeds the padded input size {padded}"
                )));
            }
            *o = (padded - span) / s + 1;
        }
        Ok(out)
    }

    /// Checks the channel split and returns the sizes the kernels use.
    fn sizes(&self) -> Result<Sizes, ConvError> {
        let out = self.output()?;
        let g = self.groups;
        if self.channels == 0 || self.filters == 0 {
            return Err(ConvError::Geometry(format!(
                "{} input channels and {} filters: both must be positive",
                self.channels, self.filters
            )));
        }
        if g == 0 || !self.channels.is_multiple_of(g) || !self.filters.is_multiple_of(g) {
            return Err(ConvError::Geometry(format!(
                "{} input channels and {} filters must both be divisible by num_group = {g}",
                self.channels, self.filters
            )));
        }
        let taps: usize = self.kernel.iter().product();
        let spatial: usize = self.input.iter().product();
        let out_spatial: usize = out.iter().product();
        Ok(Sizes {
            out,
            taps,
            spatial,
            out_spatial,
            fg: self.filters / g,
            k: self.channels / g * taps,
            direct: taps == 1 && self.stride == [1; 3] && self.pad == [0; 3],
        })
    }

    /// Elements of the input: `N·C·spatial`.
    pub fn data_len(&self) -> usize {
        self.batch * self.channels * self.input.iter().product::<usize>()
    }

    /// Elements of the weight: `F·C/G·taps`.
    pub fn weight_len(&self) -> usize {
        self.filters * (self.channels / self.groups.max(1)) * self.kernel.iter().product::<usize>()
    }

    /// Elements of the output (0 when the geometry is invalid).
    pub fn output_len(&self) -> usize {
        self.output().map_or(0, |o| {
            self.batch * self.filters * o.iter().product::<usize>()
        })
    }

    /// Checks the lengths of a weight gradient's buffers: the data `x`, the weight gradient
    /// `dw` and the head gradient `dy`, in that order.
    fn check_weight_gradient(&self, x: usize, dw: usize, dy: usize) -> Result<(), ConvError> {
        check_len("data", x, self.data_len())?;
        check_len("weight gradient", dw, self.weight_len())?;
        check_len("output gradient", dy, self.output_len())
    }
}

/// Derived sizes of a checked geometry.
#[derive(Debug, Clone, Copy)]
struct Sizes {
    out: [usize; 3],
    /// Kernel taps per channel.
    taps: usize,
    /// Input elements per channel.
    spatial: usize,
    /// Output elements per channel (`P`).
    out_spatial: usize,
    /// Filters per group.
    fg: usize,
    /// GEMM depth: channels per group × taps.
    k: usize,
    /// 1×1, stride 1, no padding: the input is its own column matrix.
    direct: bool,
}

fn check_len(what: &'static str, len: usize, needed: usize) -> Result<(), ConvError> {
    if len == needed {
        Ok(())
    } else {
        Err(ConvError::Length { what, len, needed })
    }
}

/// The inputs of a forward convolution on NCHW data, as the kernels' NCHW entries take them:
/// the geometry, the input `x` (`N × C × spatial`), the weights `w` (`F × C/G × kernel`) and
/// the bias (`F`), when there is one.
#[derive(Debug, Clone, Copy)]
pub struct NchwOperands<'a, T> {
    /// The geometry.
    pub geom: &'a ConvGeom,
    /// The input.
    pub x: &'a [T],
    /// The weights.
    pub w: &'a [T],
    /// The bias, when there is one.
    pub bias: Option<&'a [T]>,
}

impl<'a, T> NchwOperands<'a, T> {
    /// The operands `geom`, `x`, `w` and `bias`.
    pub fn new(geom: &'a ConvGeom, x: &'a [T], w: &'a [T], bias: Option<&'a [T]>) -> Self {
        NchwOperands { geom, x, w, bias }
    }
}

/// Checks the operands of a weight packing: `w` holds `weights` floats, `dst` `packed` floats
/// and `scale`, when given, one value per output channel (`filters`).
fn check_pack(
    w: &[f32],
    scale: Option<&[f32]>,
    dst: &[f32],
    weights: usize,
    packed: usize,
    filters: usize,
) -> Result<(), ConvError> {
    check_len("weight", w.len(), weights)?;
    check_len("packed weight", dst.len(), packed)?;
    if let Some(s) = scale {
        check_len("weight scale", s.len(), filters)?;
    }
    Ok(())
}

/// For kernel tap `t` along one dimension: the output positions `[lo, hi)` whose input
/// coordinate `o·stride + t·dilate − pad` lies inside `[0, size)`, and the input coordinate of
/// output position 0 (possibly negative).
fn valid_range(o_len: usize, size: usize, stride: usize, offset: isize) -> (usize, usize) {
    // Input coordinate of output o: o·stride + offset. Need 0 <= that < size.
    let s = stride as isize;
    let lo = if offset >= 0 {
        0
    } else {
        ((-offset + s - 1) / s) as usize
    };
    let hi = if (size as isize) <= offset {
        0
    } else {
        // Largest o with o·s + offset <= size − 1, plus one.
        (((size as isize - 1 - offset) / s) + 1) as usize
    };
    (lo.min(o_len), hi.min(o_len).max(lo.min(o_len)))
}

/// Convolutions below this many multiply-adds per thread run on one thread.
const MIN_PARALLEL_WORK: u128 = 1 << 20;

/// How many groups of images to compute in parallel: at most one per thread
/// ([`parallel::num_threads`]) and per image, each with at least [`MIN_PARALLEL_WORK`]
/// multiply-adds. The result does not depend on it (each image is computed the same way), except
/// the weight gradient's summation order over images, which it fixes.
fn image_parts(geom: &ConvGeom, s: &Sizes, threads: usize) -> usize {
    let work = geom.batch as u128 * geom.filters as u128 * s.k as u128 * s.out_spatial as u128;
    let by_work = (work / MIN_PARALLEL_WORK).min(usize::MAX as u128) as usize;
    threads.min(geom.batch).min(by_work).max(1)
}

/// The forward convolution: `y = conv(x, w) + bias` (cross-correlation, no kernel flip).
/// `x` is `N × C × spatial`, `w` is `F × C/G × kernel`, `bias` (if any) has `F` elements,
/// `y` is `N × F × out_spatial` and is overwritten. `f32` convolutions the few-channel, direct
/// or depthwise kernels serve ([`few_channels::forward_with`]: a network's first layer with
/// stride 1 and no padding; [`direct::forward_nchw_with`], [`depthwise::forward_nchw`]) run there;
/// the rest by im2col + GEMM ([`conv_forward_im2col`]). All use up to [`parallel::num_threads`]
/// threads.
///
/// # Errors
/// [`ConvError`] for an invalid geometry or a buffer of the wrong length.
pub fn conv_forward<T: ConvElement>(
    geom: &ConvGeom,
    x: &[T],
    w: &[T],
    bias: Option<&[T]>,
    y: &mut [T],
) -> Result<(), ConvError> {
    let s = geom.sizes()?;
    check_len("data", x.len(), geom.data_len())?;
    check_len("weight", w.len(), geom.filters * s.k)?;
    check_len("output", y.len(), geom.batch * geom.filters * s.out_spatial)?;
    if let Some(b) = bias {
        check_len("bias", b.len(), geom.filters)?;
    }
    if geom.batch == 0 || s.out_spatial == 0 {
        return Ok(());
    }
    let threads = parallel::num_threads();
    if T::direct_forward(&NchwOperands { geom, x, w, bias }, y, threads)? {
        return Ok(());
    }
    conv_forward_im2col(geom, x, w, bias, y, threads)
}

/// [`conv_forward`] by im2col + GEMM alone (the reference the direct kernels are tested
/// against), groups of images on up to `threads` threads.
///
/// # Errors
/// As [`conv_forward`].
pub fn conv_forward_im2col<T: ConvElement>(
    geom: &ConvGeom,
    x: &[T],
    w: &[T],
    bias: Option<&[T]>,
    y: &mut [T],
    threads: usize,
) -> Result<(), ConvError> {
    let s = geom.sizes()?;
    check_len("data", x.len(), geom.data_len())?;
    check_len("weight", w.len(), geom.filters * s.k)?;
    check_len("output", y.len(), geom.batch * geom.filters * s.out_spatial)?;
    if let Some(b) = bias {
        check_len("bias", b.len(), geom.filters)?;
    }
    if geom.batch == 0 || s.out_spatial == 0 || geom.filters == 0 {
        return Ok(());
    }
    let sample_in = geom.channels * s.spatial;
    let sample_out = geom.filters * s.out_spatial;
    // The images of one group, one after another, with one unrolling buffer.
    let run = |xg: &[T], yg: &mut [T]| -> Result<(), ConvError> {
        let mut col = if s.direct {
            Vec::new()
        } else {
            vec![T::ZERO; geom.channels * s.taps * s.out_spatial]
        };
        for (xn, yn) in xg
            .chunks_exact(sample_in)
            .zip(yg.chunks_exact_mut(sample_out))
        {
            let cols: &[T] = if s.direct {
                xn
            } else {
                im2col_unchecked(geom, &s, xn, &mut col);
                &col
            };
            let beta = match bias {
                Some(b) => {
                    for (row, &bv) in yn.chunks_exact_mut(s.out_spatial).zip(b) {
                        row.fill(bv);
                    }
                    T::ONE
                }
                None => T::ZERO,
            };
            // out[g] (fg × P) = W[g] (fg × k) · col[g] (k × P), for every group at once.
            batched_gemm(
                false,
                false,
                s.fg,
                s.out_spatial,
                s.k,
                T::ONE,
                w,
                s.k,
                s.fg * s.k,
                cols,
                s.out_spatial,
                s.k * s.out_spatial,
                beta,
                yn,
                s.out_spatial,
                s.fg * s.out_spatial,
                geom.groups,
                1,
            )?;
        }
        Ok(())
    };
    let parts = image_parts(geom, &s, threads);
    over_image_groups(parts, geom.batch, (x, sample_in), (y, sample_out), run)
}

/// Runs `run` on groups of whole images, `parts` groups (at most) of `batch` images on as
/// many threads: each group's slice of `x` (`sample_x` elements per image) and of `y`
/// (`sample_y` per image, written). The first error is returned.
fn over_image_groups<T: ConvElement>(
    parts: usize,
    batch: usize,
    (x, sample_x): (&[T], usize),
    (y, sample_y): (&mut [T], usize),
    run: impl Fn(&[T], &mut [T]) -> Result<(), ConvError> + Sync,
) -> Result<(), ConvError> {
    if parts <= 1 || sample_y == 0 {
        return run(x, y);
    }
    let per = batch.div_ceil(parts);
    let failed = parking_lot::Mutex::new(None);
    parallel::for_each_chunk_mut(y, per * sample_y, |i, yg| {
        let first = i * per;
        let xg = &x[first * sample_x..(first + yg.len() / sample_y) * sample_x];
        if let Err(e) = run(xg, yg) {
            failed.lock().get_or_insert(e);
        }
    });
    failed.into_inner().map_or(Ok(()), Err)
}

/// The gradients of [`conv_forward`] given the head gradient `g` (`N × F × out_spatial`):
/// `dx` (like `x`; `None` when nobody needs it, which skips its computation), `dw` (like `w`)
/// and `db` (`F`, when present). Every output is overwritten. For `f32`, a weight gradient the
/// few-channel kernel serves ([`few_channels::weight_gradient_with`], when `dx` is not
/// wanted: a network's first layer) is computed there; otherwise the gradients the
/// blocked backward kernels serve faster ([`backward::backward_nchw`], decided per gradient;
/// the weight gradient of a 5×5 layer by Winograd where [`backward::winograd_5x5_pays`]
/// holds: LeNet's second layer; else by the implicit GEMM of [`implicit_wgrad`] where
/// [`implicit_wgrad::prefers`] holds) are computed there (results
/// independent of the thread count), then a data gradient they
/// leave by the fused GEMM + col2im where [`fused_dgrad::serves`] holds (LeNet's second
/// layer; also independent of the thread count); the rest by im2col + GEMM
/// ([`conv_backward_im2col`]). All use up to [`parallel::num_threads`] threads.
///
/// # Errors
/// [`ConvError`] for an invalid geometry or a buffer of the wrong length.
#[allow(clippy::too_many_arguments, reason = "the backward pass's operands")]
pub fn conv_backward<T: ConvElement>(
    geom: &ConvGeom,
    g: &[T],
    x: &[T],
    w: &[T],
    mut dx: Option<&mut [T]>,
    dw: &mut [T],
    db: Option<&mut [T]>,
) -> Result<(), ConvError> {
    let s = check_backward(geom, g, x, w, dx.as_deref(), dw, db.as_deref())?;
    channel_sums(g, s.out_spatial, db);
    let threads = parallel::num_threads();
    let work = geom.batch != 0 && s.out_spatial != 0 && s.k != 0;
    let done = if work {
        T::direct_backward(geom, g, x, w, dx.as_deref_mut(), dw, threads)?
    } else {
        backward::Served::default()
    };
    let dx = if done.dx { None } else { dx };
    if done.dw && dx.is_none() {
        return Ok(());
    }
    let dw = (!done.dw).then_some(dw);
    backward_im2col_checked(geom, &s, g, x, w, dx, dw, threads)
}

/// [`conv_backward`] by im2col + GEMM alone (the reference the blocked kernels are tested and
/// measured against): groups of images on up to `threads` threads, their weight gradients
/// summed in order (so the result depends on the number of groups).
///
/// # Errors
/// As [`conv_backward`].
#[allow(clippy::too_many_arguments, reason = "the backward pass's operands")]
pub fn conv_backward_im2col<T: ConvElement>(
    geom: &ConvGeom,
    g: &[T],
    x: &[T],
    w: &[T],
    dx: Option<&mut [T]>,
    dw: &mut [T],
    db: Option<&mut [T]>,
    threads: usize,
) -> Result<(), ConvError> {
    let s = check_backward(geom, g, x, w, dx.as_deref(), dw, db.as_deref())?;
    channel_sums(g, s.out_spatial, db);
    backward_im2col_checked(geom, &s, g, x, w, dx, Some(dw), threads)
}

/// Checks the backward pass's buffers against `geom`.
fn check_backward<T: ConvElement>(
    geom: &ConvGeom,
    g: &[T],
    x: &[T],
    w: &[T],
    dx: Option<&[T]>,
    dw: &[T],
    db: Option<&[T]>,
) -> Result<Sizes, ConvError> {
    let s = geom.sizes()?;
    geom.check_weight_gradient(x.len(), dw.len(), g.len())?;
    if let Some(dx) = dx {
        check_len("data gradient", dx.len(), geom.data_len())?;
    }
    check_len("weight", w.len(), geom.filters * s.k)?;
    if let Some(db) = db {
        check_len("bias gradient", db.len(), geom.filters)?;
    }
    Ok(s)
}

/// `db[c] = Σ g[n][c][·]` over images in order, for `g` of `N × db.len() × plane` (when `db` is
/// wanted; lengths checked): the bias gradient of a convolution (the planes of its output) or
/// of a transposed one (of its input).
fn channel_sums<T: ConvElement>(g: &[T], plane: usize, db: Option<&mut [T]>) {
    if let Some(db) = db {
        db.fill(T::ZERO);
        for gn in g.chunks_exact((db.len() * plane).max(1)) {
            for (d, row) in db.iter_mut().zip(gn.chunks_exact(plane.max(1))) {
                *d += row_sum(row);
            }
        }
    }
}

/// The sum of `row`, in 16 interleaved partial sums (element `i` into sum `i % 16`) added
/// pairwise at the end: independent additions that vectorise, where one running sum would wait
/// for each addition in turn. The order is fixed, so the result is too.
fn row_sum<T: ConvElement>(row: &[T]) -> T {
    const LANES: usize = 16;
    let mut sums = [T::ZERO; LANES];
    let chunks = row.chunks_exact(LANES);
    let tail = chunks.remainder();
    for chunk in chunks {
        for (s, &v) in sums.iter_mut().zip(chunk) {
            *s += v;
        }
    }
    for (s, &v) in sums.iter_mut().zip(tail) {
        *s += v;
    }
    let mut width = LANES;
    while width > 1 {
        width /= 2;
        for i in 0..width {
            let upper = sums[i + width];
            sums[i] += upper;
        }
    }
    sums[0]
}

/// One image's data gradient `dxn` (`C × spatial`, overwritten) from its head gradient `gn`
/// (`F × P`) by GEMM and col2im through `dcol` (`C·taps × P`; unused, may be empty, for the
/// 1×1 shortcut); buffers checked against `geom`.
fn data_gradient_image<T: ConvElement>(
    geom: &ConvGeom,
    s: &Sizes,
    w: &[T],
    gn: &[T],
    dxn: &mut [T],
    dcol: &mut [T],
) -> Result<(), ConvError> {
    // dcol[g] (k × P) = W[g]ᵀ (k × fg) · g[g] (fg × P).
    let target: &mut [T] = if s.direct { &mut *dxn } else { &mut *dcol };
    batched_gemm(
        true,
        false,
        s.k,
        s.out_spatial,
        s.fg,
        T::ONE,
        w,
        s.k,
        s.fg * s.k,
        gn,
        s.out_spatial,
        s.fg * s.out_spatial,
        T::ZERO,
        target,
        s.out_spatial,
        s.k * s.out_spatial,
        geom.groups,
        1,
    )?;
    if !s.direct {
        col2im_unchecked(geom, s, dcol, dxn);
    }
    Ok(())
}

/// The data and weight gradients by im2col + GEMM, buffers checked; either may be skipped
/// (`None`).
#[allow(clippy::too_many_arguments, reason = "the backward pass's operands")]
fn backward_im2col_checked<T: ConvElement>(
    geom: &ConvGeom,
    s: &Sizes,
    g: &[T],
    x: &[T],
    w: &[T],
    dx: Option<&mut [T]>,
    mut dw: Option<&mut [T]>,
    threads: usize,
) -> Result<(), ConvError> {
    let s = *s;
    if let Some(dw) = dw.as_deref_mut() {
        dw.fill(T::ZERO);
    }
    if geom.batch == 0 || s.out_spatial == 0 || geom.filters == 0 || s.k == 0 {
        if let Some(dx) = dx {
            dx.fill(T::ZERO);
        }
        return Ok(());
    }
    let sample_in = geom.channels * s.spatial;
    let sample_out = geom.filters * s.out_spatial;
    let col_len = geom.channels * s.taps * s.out_spatial;
    // The images of one group: `dwg` (zeroed; `None` when the weight gradient is not wanted)
    // accumulates their weight gradient.
    let run = |xg: &[T], gg: &[T], mut dxg: Option<&mut [T]>, mut dwg: Option<&mut [T]>| {
        let unrolled = |wanted: bool| {
            if s.direct || !wanted {
                Vec::new()
            } else {
                vec![T::ZERO; col_len]
            }
        };
        let (mut col, mut dcol) = (unrolled(dwg.is_some()), unrolled(dxg.is_some()));
        for (n, (xn, gn)) in xg
            .chunks_exact(sample_in)
            .zip(gg.chunks_exact(sample_out))
            .enumerate()
        {
            if let Some(dwg) = dwg.as_deref_mut() {
                let cols: &[T] = if s.direct {
                    xn
                } else {
                    im2col_unchecked(geom, &s, xn, &mut col);
                    &col
                };
                // dW[g] (fg × k) += g[g] (fg × P) · col[g]ᵀ (P × k).
                batched_gemm(
                    false,
                    true,
                    s.fg,
                    s.k,
                    s.out_spatial,
                    T::ONE,
                    gn,
                    s.out_spatial,
                    s.fg * s.out_spatial,
                    cols,
                    s.out_spatial,
                    s.k * s.out_spatial,
                    T::ONE,
                    dwg,
                    s.k,
                    s.fg * s.k,
                    geom.groups,
                    1,
                )?;
            }
            let Some(dxg) = dxg.as_deref_mut() else {
                continue;
            };
            let dxn = &mut dxg[n * sample_in..(n + 1) * sample_in];
            data_gradient_image(geom, &s, w, gn, dxn, &mut dcol)?;
        }
        Ok::<(), ConvError>(())
    };
    let parts = image_parts(geom, &s, threads);
    if parts == 1 {
        return run(x, g, dx, dw);
    }
    let per = geom.batch.div_ceil(parts);
    let dx_groups: Vec<Option<&mut [T]>> = match dx {
        Some(dx) => dx.chunks_mut(per * sample_in).map(Some).collect(),
        None => (0..geom.batch.div_ceil(per)).map(|_| None).collect(),
    };
    /// One group's data, head gradient and (optional) data gradient.
    type Group<'a, T> = (&'a [T], &'a [T], Option<&'a mut [T]>);
    let groups: Vec<Group<'_, T>> = x
        .chunks(per * sample_in)
        .zip(g.chunks(per * sample_out))
        .zip(dx_groups)
        .map(|((xg, gg), dxg)| (xg, gg, dxg))
        .collect();
    let want_dw = dw.is_some();
    let dw_len = dw.as_deref().map_or(0, <[T]>::len);
    let groups: Vec<parking_lot::Mutex<Group<'_, T>>> =
        groups.into_iter().map(parking_lot::Mutex::new).collect();
    let partials: Vec<Vec<T>> = parallel::map_parts(groups.len(), |i| {
        let mut group = groups[i].lock();
        let (xg, gg, dxg) = &mut *group;
        let mut dwg = vec![T::ZERO; dw_len];
        let want = want_dw.then_some(&mut dwg[..]);
        run(xg, gg, dxg.as_deref_mut(), want).map(|()| dwg)
    })
    .into_iter()
    .collect::<Result<_, ConvError>>()?;
    if let Some(dw) = dw {
        for partial in &partials {
            for (d, &p) in dw.iter_mut().zip(partial) {
                *d += p;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
