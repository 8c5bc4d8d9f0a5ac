//! The backward pass of a 2-D `f32` convolution on the channel-blocked layout
//! ([`super::blocked`]): the data gradient through the direct forward kernels
//! ([`super::direct`]) and the weight gradient by its own micro-kernel.
//!
//! **Data gradient.** For stride 1, `dx` is the convolution of `dy` with the weights flipped in
//! both spatial axes and their input and output channels swapped, padded by
//! `dilate·(k−1) − pad`. For a stride `s > 1`, each of the `s²` output phases of `dx` (the
//! pixels `(ry + s·a, rx + s·b)` for one `(ry, rx)`) only sees the taps `k` with
//! `k·dilate − pad − r ≡ 0 (mod s)`, and is a stride-1 correlation of `dy` with those taps
//! (flipped; dilation `dilate / gcd(dilate, s)`): ResNet's 3×3/2 becomes a 1×1, a 1×2, a 2×1 and
//! a 2×2 convolution, the 1×1/2 a 1×1 convolution on the even pixels (the others are zero). A
//! phase that needs more padding on one side than the other is padded by the larger amount and
//! its extra outputs are dropped as it is scattered into `dx`. A stride-1 5×5 layer runs through
//! the transposed Winograd algorithm on the forward pass's tiles where
//! [`super::winograd::dgrad::plan`] takes it (LeNet's second layer: 1.1 ms against 2.1 for the
//! fused GEMM + col2im, one Zen 4 core); a stride-1 3×3 (or 5×5) layer's single
//! phase runs through Winograd where [`super::winograd::plan_nchw`] takes it (as the forward
//! pass does); every other phase runs on [`DirectConv`](super::direct::DirectConv) with repacked weights ([`DirectConv::pack_weights`](super::direct::DirectConv::pack_weights) of the flipped,
//! transposed taps), reading one blocked copy of `dy` whose halo covers every phase's padding.
//!
//! **Weight gradient.** A 3×3 stride-1 layer on blocked input runs through Winograd
//! ([`super::winograd::wgrad`]: `F(4×4)` or `F(2×2)`, 0.4 to 0.6 times the direct kernel's time
//! on ResNet-18's layers) where [`super::winograd::wgrad::plan`] takes it (64 channels or more
//! each side, maps of 4×4 and more; not with `MXR_WINOGRAD=0`), and so does a 5×5 stride-1
//! layer (`F(4×4, 5×5)`; 8 channels or more each side, 512 output pixels: LeNet's second
//! layer, about 0.3 times the implicit GEMM's time); everything else runs on the
//! direct kernel ([`weight_gradient_direct`]), which tests and benchmarks can also call on
//! those layers. `dw[f][c][ky][kx] = Σ_n Σ_pixels dy[n][f][pixel] ·
//! x[n][c][pixel·s + k·d − p]` is computed there in tiles of 16 input "lanes" by 16 output channels:
//! 16 accumulator registers, each the gradient of one lane for one block of 16 output
//! channels. Per output pixel the kernel loads one 16-channel vector of `dy` and multiplies it
//! by each lane's input value, broadcast. On blocked data (the usual case) the 16 lanes are the
//! 16 channels of one input block at one kernel tap: their values are next to each other, and
//! a tap is an offset. The pixels a tap reads outside the input (the padding) are not visited:
//! rows by skipping them, columns by narrowing each row's pixel range, so no halo is needed and
//! no multiply-add is spent on padding. A layer with few input channels (a network's first)
//! would waste most of a 16-channel block, so there the lanes are 16 consecutive `(channel,
//! ky, kx)` triples of the weight instead, read from a zero-padded plain NCHW copy of the input
//! ([`WgradInput::Nchw`]).
//!
//! The tiles (output block × input block × tap, or output block × lane group) are split
//! statically over the threads, and each tile is reduced by one thread over the images and
//! pixels in their natural order (image, row, column), whatever the number of threads: the
//! results do not depend on it. The pixels are walked in chunks (whole images, or rows of one
//! image) whose inputs and head gradients for all blocks fit in L2; each chunk is visited by
//! all of a thread's tiles before the next, the partial sums staying in the tile's slot of a
//! blocked `dw` (so chunking does not change the order of the sum either).
//!
//! [`backward_nchw`] is what [`super::conv_backward`] calls for `f32`. It decides per gradient,
//! by shape, whether the blocked kernels beat im2col + GEMM, conversions included
//! ([`weight_gradient_pays`], [`data_gradient_pays`]: not for 1×1 kernels, few pixels, or
//! mostly padding), converts `dy` (and `x` for the weight gradient) to the blocked layout, and
//! runs those gradients; `conv_backward` computes the others by im2col. Typical outcomes:
//! ResNet's 3×3 layers take both gradients here; LeNet's second layer and a network's first
//! (3 channels) only the weight gradient (their data gradient would be mostly padding); 1×1
//! layers neither. The environment variable `MXR_CONV_BACKWARD=im2col` (read once) makes
//! [`backward_nchw`] serve nothing, so every gradient goes to im2col (to compare the two in
//! one binary); any other value, or none, decides by shape.

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512;

mod data;
mod weight;

pub use data::{data_gradient, data_gradient_halo};
use weight::served;
pub(crate) use weight::wgrad_rows;
pub use weight::{WgradInput, weight_gradient, weight_gradient_direct, wgrad_prefers_nchw};

use super::blocked::{BLOCK, Blocked};
use super::{ConvError, ConvGeom, check_len, valid_range};
use crate::cpu::isa::Isa;

/// One weight-gradient micro-kernel call, as raw pointers (the driver derives them from checked
/// slices).
///
/// For `i < images`, `r < rows`, `p < pixels` and lane `j < 16`, the kernel adds
/// `x[i·x_image + r·x_row + p·x_pixel + off(j)] · dy[i·dy_image + r·dy_row + p·16 .. + 16]` to
/// `acc[16·j .. 16·j + 16]`, pixel after pixel in that order, where `off(j)` is `j` when
/// `lanes` is null and `lanes[j]` otherwise; the sums start from zero instead of `acc`'s
/// contents when `zero` (the tile's first job), and are written back to `acc`. Only the first
/// `used` lanes' sums are wanted: the AVX-512 kernel skips the others (from the next multiple
/// of 4 on), whose accumulators then come back unspecified.
#[derive(Debug)]
pub(crate) struct WgradJob {
    x: *const f32,
    lanes: *const isize,
    x_pixel: usize,
    x_row: usize,
    x_image: usize,
    dy: *const f32,
    dy_row: usize,
    dy_image: usize,
    pixels: usize,
    rows: usize,
    images: usize,
    acc: *mut f32,
    zero: bool,
    /// Lanes whose sums are wanted (1 to 16).
    used: usize,
}

thread_local! {
    /// Scratch for [`backward_nchw_with`]: the blocked input and head gradient.
    static NCHW_SCRATCH: std::cell::RefCell<[Vec<f32>; 2]> = const {
        std::cell::RefCell::new([Vec::new(), Vec::new()])
    };
    /// Scratch for [`weight_gradient`]: the padded plain input, the tiles.
    static WGRAD_SCRATCH: std::cell::RefCell<[Vec<f32>; 2]> = const {
        std::cell::RefCell::new([Vec::new(), Vec::new()])
    };
    /// Scratch for [`data_gradient`]: flipped weights, packed weights, a phase's output.
    static DGRAD_SCRATCH: std::cell::RefCell<[Vec<f32>; 3]> = const {
        std::cell::RefCell::new([Vec::new(), Vec::new(), Vec::new()])
    };
}

/// Which gradients [`backward_nchw`] computed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Served {
    /// The data gradient.
    pub dx: bool,
    /// The weight gradient.
    pub dw: bool,
}

/// Output pixels (`N·oh·ow`) below which both gradients stay with im2col: converting the
/// tensors, and for the data gradient packing the weights, costs per weight about as much as
/// two hundred multiply-adds. Measured (Zen 4, 1 thread): ResNet's 3×3 layers with 512
/// channels on 7×7 win from 4 images (196 pixels) on, lose 2–3× on 1 image (49).
const MIN_PIXELS: usize = 192;

/// The shape conditions both gradients share: an AVX-512 CPU, a served geometry, enough pixels
/// ([`MIN_PIXELS`]), and not a 1×1 kernel: there im2col is a plain GEMM on the NCHW data (or
/// reads only the strided pixels it uses), which the conversions alone cost as much as
/// (pointwise layers measured at 0.3–0.7× of im2col).
fn blocked_pays(geom: &ConvGeom) -> bool {
    let Ok(out) = geom.output() else {
        return false;
    };
    let pointwise = geom.kernel[1] * geom.kernel[2] == 1;
    Isa::current() >= Isa::Avx512
        && served(geom)
        && !pointwise
        && geom.batch * out[1] * out[2] >= MIN_PIXELS
}

/// Whether [`weight_gradient`] runs `geom` (on NCHW data, conversions included) faster than
/// im2col + GEMM, by shape (measured with `benches/conv.rs` and per-call CPU time on a Zen 4):
/// the shared conditions of `blocked_pays`, and at least 60% of the tiles' lanes and output
/// channels real ([`weight_gradient_efficiency`]; LeNet's first layer, 49%, measured 0.8×).
pub fn weight_gradient_pays(geom: &ConvGeom) -> bool {
    blocked_pays(geom) && weight_gradient_efficiency(geom) >= 0.6
}

/// The fraction of the weight-gradient tiles' lanes and output channels that are real: input
/// channels (blocked) or `(channel, tap)` triples (plain) per 16 lanes, times output channels
/// per 16.
pub fn weight_gradient_efficiency(geom: &ConvGeom) -> f64 {
    let taps = geom.kernel[1] * geom.kernel[2];
    let (c, f) = (geom.channels, geom.filters);
    let lanes = if wgrad_prefers_nchw(geom) {
        (c * taps) as f64 / (c * taps).next_multiple_of(BLOCK) as f64
    } else {
        c as f64 / c.next_multiple_of(BLOCK) as f64
    };
    lanes * f as f64 / f.next_multiple_of(BLOCK) as f64
}

/// Whether [`data_gradient`] runs `geom` faster than im2col + GEMM + col2im (measured as
/// [`weight_gradient_pays`]): the shared conditions of `blocked_pays`, and at least half of
/// the direct kernels' multiply-adds useful ([`data_gradient_efficiency`]; LeNet's second
/// layer, a third, measured 0.5×), or a 5×5 layer the transposed Winograd algorithm takes
/// ([`super::winograd::dgrad::plan`]; LeNet's second layer, 1.9× the fused GEMM + col2im's
/// speed).
pub fn data_gradient_pays(geom: &ConvGeom) -> bool {
    blocked_pays(geom)
        && (data_gradient_efficiency(geom) >= 0.5 || super::winograd::dgrad::plan(geom).is_some())
}

/// The fraction of the multiply-adds of [`data_gradient`] that the data gradient needs: the
/// rest multiply the padding channels of the 16-channel blocks of `dy` and of the (16 or 32)
/// channel tiles of `dx`, or the zero columns around `dy` where a kernel tap reaches past it
/// (rows are skipped). Im2col + GEMM + col2im computes none of these.
pub fn data_gradient_efficiency(geom: &ConvGeom) -> f64 {
    let Ok(out) = geom.output() else {
        return 0.0;
    };
    let (f, c) = (geom.filters, geom.channels);
    let tile = if c > BLOCK { 2 * BLOCK } else { BLOCK };
    let channels = f as f64 / f.next_multiple_of(BLOCK) as f64;
    let filters = c as f64 / c.next_multiple_of(tile) as f64;
    let (iw, ow, k, s) = (geom.input[2], out[2], geom.kernel[2], geom.stride[2]);
    let off = |t: usize| (t * geom.dilate[2]) as isize - geom.pad[2] as isize;
    let useful: usize = (0..k)
        .map(|t| {
            let (lo, hi) = valid_range(ow, iw, s, off(t));
            hi - lo
        })
        .sum();
    let computed = (iw * k).div_ceil(s).max(1);
    channels * filters * (useful as f64 / computed as f64).min(1.0)
}

/// The backward pass of a convolution on NCHW `f32` data: the gradients the blocked kernels
/// serve faster than im2col ([`weight_gradient_pays`], [`data_gradient_pays`]; `dx` only when
/// wanted; none when `MXR_CONV_BACKWARD=im2col`), the weight gradient of a 5×5 layer by
/// Winograd where [`winograd_5x5_pays`] holds, else by the implicit GEMM where
/// [`super::implicit_wgrad::prefers`] holds, overwritten, and which they were
/// ([`Served`]); the caller computes the others, and the bias gradient. Meant for buffers
/// already checked against `geom` (as [`super::conv_backward`] does); when a gradient is
/// served they are checked again before anything is written.
///
/// # Errors
/// [`ConvError`] for a buffer of the wrong length (when a gradient is served).
#[allow(clippy::too_many_arguments, reason = "the backward pass's operands")]
pub fn backward_nchw(
    geom: &ConvGeom,
    dy: &[f32],
    x: &[f32],
    w: &[f32],
    dx: Option<&mut [f32]>,
    dw: &mut [f32],
    threads: usize,
) -> Result<Served, ConvError> {
    let enabled = blocked_enabled();
    // A 5×5 layer Winograd takes; else channel counts that would waste lanes here: the
    // implicit GEMM takes the weight gradient.
    let winograd = enabled && winograd_5x5_pays(geom);
    let implicit = enabled
        && !winograd
        && super::implicit_wgrad::prefers(geom)
        && super::implicit_wgrad::weight_gradient_with(Isa::current(), geom, dy, x, dw, threads)?;
    let done = Served {
        dx: enabled && dx.is_some() && data_gradient_pays(geom),
        dw: implicit || winograd || (enabled && weight_gradient_pays(geom)),
    };
    let blocked_dw = done.dw && !implicit;
    if done.dx || blocked_dw {
        let dx = dx.filter(|_| done.dx);
        let dw = blocked_dw.then_some(dw);
        backward_nchw_with(Isa::current(), geom, dy, x, w, dx, dw, threads)?;
    }
    Ok(done)
}

/// Whether [`weight_gradient`] runs `geom`, a 5×5 layer, through Winograd
/// ([`super::winograd::wgrad::plan`]), faster than the implicit GEMM
/// ([`super::implicit_wgrad`]) and im2col, conversions included: the shared conditions of
/// `blocked_pays` and a plan (LeNet's second layer at batch 64, one Zen 4 core: see
/// [`super::winograd::wgrad`]).
pub fn winograd_5x5_pays(geom: &ConvGeom) -> bool {
    geom.kernel[1] == 5 && blocked_pays(geom) && super::winograd::wgrad::plan(geom).is_some()
}

/// Whether [`backward_nchw`] may use the blocked kernels: not when `MXR_CONV_BACKWARD` is
/// `im2col` (case-insensitive; read once).
fn blocked_enabled() -> bool {
    static ENABLED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ENABLED.get_or_init(|| {
        std::env::var("MXR_CONV_BACKWARD")
            .map_or(true, |v| !v.trim().eq_ignore_ascii_case("im2col"))
    })
}

/// The blocked backward kernels on NCHW data with a chosen instruction set, whenever the
/// geometry is served (whether or not they pay; tests and benchmarks use it): converts `dy`
/// and, for the weight gradient, `x` (unless it is read plain, [`wgrad_prefers_nchw`]) to the
/// blocked layout, runs [`weight_gradient`] when `dw` is wanted and [`data_gradient`] when
/// `dx` is. `Ok(false)`, having done nothing, when the geometry is not served.
///
/// # Errors
/// [`ConvError`] for an invalid geometry or a buffer of the wrong length.
#[allow(clippy::too_many_arguments, reason = "the backward pass's operands")]
pub fn backward_nchw_with(
    isa: Isa,
    geom: &ConvGeom,
    dy: &[f32],
    x: &[f32],
    w: &[f32],
    dx: Option<&mut [f32]>,
    dw: Option<&mut [f32]>,
    threads: usize,
) -> Result<bool, ConvError> {
    geom.sizes()?;
    if !served(geom) {
        return Ok(false);
    }
    check_len("data", x.len(), geom.data_len())?;
    check_len("weight", w.len(), geom.weight_len())?;
    if let Some(dw) = &dw {
        check_len("weight gradient", dw.len(), geom.weight_len())?;
    }
    check_len("output gradient", dy.len(), geom.output_len())?;
    if let Some(dx) = &dx {
        check_len("data gradient", dx.len(), geom.data_len())?;
    }
    let [_, oh, ow] = geom.output()?;
    let [_, ih, iw] = geom.input;
    let halo = if dx.is_some() {
        data_gradient_halo(geom)?
    } else {
        0
    };
    NCHW_SCRATCH.with_borrow_mut(|[xb, dyb]| {
        let dy_layout = Blocked::new(geom.batch, geom.filters, oh, ow, halo);
        resize(dyb, dy_layout.len());
        super::blocked::to_blocked_with(isa, dy, &dy_layout, dyb, threads);
        if let Some(dw) = dw {
            // Winograd reads the input blocked, whatever the channel count.
            let winograd = super::winograd::wgrad::plan(geom).is_some();
            let input = if wgrad_prefers_nchw(geom) && !winograd {
                WgradInput::Nchw(x)
            } else {
                let layout = Blocked::new(geom.batch, geom.channels, ih, iw, 0);
                resize(xb, layout.len());
                super::blocked::to_blocked_with(isa, x, &layout, xb, threads);
                WgradInput::Blocked(xb, layout)
            };
            weight_gradient(isa, geom, input, dyb, &dy_layout, dw, threads)?;
        }
        if let Some(dx) = dx {
            data_gradient(isa, geom, dyb, &dy_layout, w, dx, threads)?;
        }
        Ok(true)
    })
}

/// Makes `v` exactly `len` long (contents unspecified; every caller overwrites it).
fn resize(v: &mut Vec<f32>, len: usize) {
    v.resize(len, 0.0);
    v.truncate(len);
}

#[cfg(test)]
mod tests;
