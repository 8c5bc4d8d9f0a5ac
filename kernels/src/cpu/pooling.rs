//! Max/avg/sum pooling and its backward.
//!
//! Data is `planes × spatial` (each `(n, c)` pair of NCW / NCHW / NCDHW data is one plane),
//! with every spatial quantity in three dimensions (`[depth, height, width]`; unused leading
//! dimensions are 1, or 0 for `pad`), so 1-D, 2-D and 3-D pooling share one code path.
//!
//! Window rules (MXNet 1.9.1's CPU pooling): output position `o` covers input coordinates
//! `[o·stride − pad, o·stride − pad + kernel)` clipped to `[0, size)`.
//! - max: the largest element of the clipped window (padding never wins); the gradient goes to
//!   the **first** element (row-major scan) equal to the output.
//!
//! Max pooling has two fast paths with the same results bit for bit: windows that tile the
//! plane (`Tiles`: 2×2 / stride 2 and the like) and ResNet's overlapping 3×3 / stride 2 /
//! pad 1 windows (`overlap`: a separable forward, a first-match search per window row).
//! - avg: the window sum divided by the window area clipped to `[−pad, size + pad)` when
//!   `count_include_pad`, else by the number of real elements.
//! - sum: the window sum.
//!
//! ```
//! use mxr_kernels::cpu::pooling::{PoolGeom, PoolType, pool_forward};
//! // A 3×3 plane of ones, kernel 2, stride 2, pad 1: the corner windows see 1 real element.
//! let geom = PoolGeom::new_2d(1, [3, 3], [2, 2], [2, 2], [2, 2], [1, 1]);
//! let x = [1.0f32; 9];
//! let mut y = [0.0f32; 4];
//! pool_forward(&geom, PoolType::Avg { count_include_pad: true }, &x, &mut y)?;
//! assert_eq!(y, [0.25, 0.5, 0.5, 1.0]);
//! pool_forward(&geom, PoolType::Sum, &x, &mut y)?;
//! assert_eq!(y, [1.0, 2.0, 2.0, 4.0]);
//! # Ok::<(), mxr_kernels::cpu::pooling::PoolError>(())
//! ```

use std::ops::{Add, AddAssign, Div};

use super::isa::Isa;
use super::parallel;

#[cfg(target_arch = "x86_64")]
mod avx2;
mod backward;
pub mod blocked;
mod overlap;

use overlap::Overlap3;

use backward::{max_backward_2x2_bands, max_backward_2x2_row};
pub use backward::{pool_backward, pool_backward_with};

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

/// An element type the pooling kernels support: `f32` and `f64`. Sealed.
pub trait PoolElement:
    crate::Element
    + PartialOrd
    + Add<Output = Self>
    + AddAssign
    + Div<Output = Self>
    + Send
    + Sync
    + sealed::Sealed
{
    /// Zero.
    const ZERO: Self;
    /// The most negative finite value (the start of a max).
    const LOWEST: Self;
    /// `n` as this type (window sizes are small).
    fn from_usize(n: usize) -> Self;

    /// The 2×2 max-pool gradient of `bands` window rows, overwriting `dx`: band `b` is the
    /// input rows `2b` and `2b + 1` of `x` and `dx` (`iw` wide, `2·ow <= iw`) and the outputs
    /// `b·ow .. (b + 1)·ow` of `y` and `g`; window `i` of a band sends its gradient to the
    /// first of `top[2i], top[2i+1], bottom[2i], bottom[2i+1]` equal to its output, zero goes
    /// everywhere else. With `isa`'s vector code where the type has some (`f32` with AVX2 or
    /// better), else portable; the results are the same.
    #[allow(
        clippy::too_many_arguments,
        reason = "the instruction set, the sizes and the four buffers of a run of bands"
    )]
    fn max_backward_2x2(
        isa: Isa,
        bands: usize,
        iw: usize,
        ow: usize,
        x: &[Self],
        y: &[Self],
        g: &[Self],
        dx: &mut [Self],
    ) {
        let _ = isa;
        max_backward_2x2_bands(bands, iw, ow, x, y, g, dx);
    }
}

impl PoolElement for f32 {
    const ZERO: Self = 0.0;
    const LOWEST: Self = f32::MIN;
    fn from_usize(n: usize) -> Self {
        n as f32
    }

    fn max_backward_2x2(
        isa: Isa,
        bands: usize,
        iw: usize,
        ow: usize,
        x: &[f32],
        y: &[f32],
        g: &[f32],
        dx: &mut [f32],
    ) {
        #[cfg(target_arch = "x86_64")]
        if isa.min(Isa::detected()) >= Isa::Avx2 {
            // SAFETY: AVX2 is available (the CPU's instruction set includes it).
            return unsafe { avx2::max_backward_2x2(bands, iw, ow, x, y, g, dx) };
        }
        let _ = isa;
        max_backward_2x2_bands(bands, iw, ow, x, y, g, dx);
    }
}

impl PoolElement for f64 {
    const ZERO: Self = 0.0;
    const LOWEST: Self = f64::MIN;
    fn from_usize(n: usize) -> Self {
        n as f64
    }
}

/// The reduction over each window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PoolType {
    /// The maximum.
    Max,
    /// The mean; `count_include_pad` divides by the padded window area instead of the number
    /// of real elements.
    Avg {
        /// Count padding elements in the divisor.
        count_include_pad: bool,
    },
    /// The sum.
    Sum,
}

/// A pooling the kernels cannot run as described.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PoolError {
    /// The geometry is invalid (a zero kernel or stride, a kernel larger than the padded input).
    #[error("pooling: {0}")]
    Geometry(String),
    /// A buffer's length does not match the geometry.
    #[error("pooling: {what} has {len} elements, the geometry needs {needed}")]
    Length {
        /// Which buffer.
        what: &'static str,
        /// Its length.
        len: usize,
        /// The length the geometry implies.
        needed: usize,
    },
}

/// The shape of one pooling: `planes` independent planes of `input` elements each, reduced to
/// `output` elements each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PoolGeom {
    /// The number of planes (`N·C`).
    pub planes: usize,
    /// Input spatial size.
    pub input: [usize; 3],
    /// Output spatial size (see [`pool_output_size`]).
    pub output: [usize; 3],
    /// Window size.
    pub kernel: [usize; 3],
    /// Stride.
    pub stride: [usize; 3],
    /// Padding on each side.
    pub pad: [usize; 3],
}

impl PoolGeom {
    /// A 2-D pooling: `input`, `output`, `kernel`, `stride` and `pad` are `[h, w]`.
    pub fn new_2d(
        planes: usize,
        input: [usize; 2],
        output: [usize; 2],
        kernel: [usize; 2],
        stride: [usize; 2],
        pad: [usize; 2],
    ) -> PoolGeom {
        PoolGeom {
            planes,
            input: [1, input[0], input[1]],
            output: [1, output[0], output[1]],
            kernel: [1, kernel[0], kernel[1]],
            stride: [1, stride[0], stride[1]],
            pad: [0, pad[0], pad[1]],
        }
    }

    /// Elements of the input.
    pub fn input_len(&self) -> usize {
        self.planes * self.input.iter().product::<usize>()
    }

    /// Elements of the output.
    pub fn output_len(&self) -> usize {
        self.planes * self.output.iter().product::<usize>()
    }

    /// The windows along each dimension.
    fn windows(&self) -> Result<[Vec<Window>; 3], PoolError> {
        if self.kernel.contains(&0) || self.stride.contains(&0) {
            return Err(PoolError::Geometry(format!(
                "kernel {:?} and stride {:?} must be positive",
                self.kernel, self.stride
            )));
        }
        Ok(std::array::from_fn(|d| {
            (0..self.output[d])
                .map(|o| {
                    Window::new(
                        o,
                        self.input[d],
                        self.kernel[d],
                        self.stride[d],
                        self.pad[d],
                    )
                })
                .collect()
        }))
    }

    fn check(&self, what: &'static str, len: usize, input: bool) -> Result<(), PoolError> {
        let needed = if input {
            self.input_len()
        } else {
            self.output_len()
        };
        if len == needed {
            Ok(())
        } else {
            Err(PoolError::Length { what, len, needed })
        }
    }

    /// Checks the lengths of a forward pass's input (`x`) and output (`y`).
    fn check_forward(&self, x: usize, y: usize) -> Result<(), PoolError> {
        self.check("input", x, true)?;
        self.check("output", y, false)
    }
}

/// The output size along one dimension: `⌊(x + 2·pad − kernel) / stride⌋ + 1`, or with `full`
/// (MXNet's `pooling_convention='full'`) `⌈(x + 2·pad − kernel) / stride⌉ + 1`. `None` when the
/// kernel or stride is 0 or the kernel exceeds the padded input.
pub fn pool_output_size(
    input: usize,
    kernel: usize,
    stride: usize,
    pad: usize,
    full: bool,
) -> Option<usize> {
    let padded = input + 2 * pad;
    if kernel == 0 || stride == 0 || kernel > padded {
        return None;
    }
    let span = padded - kernel;
    Some(
        if full {
            span.div_ceil(stride)
        } else {
            span / stride
        } + 1,
    )
}

/// One output position's window along one dimension.
#[derive(Debug, Clone, Copy)]
struct Window {
    /// First real input coordinate.
    lo: usize,
    /// One past the last real input coordinate (`>= lo`).
    hi: usize,
    /// The window's length clipped to `[−pad, size + pad)` (avg with `count_include_pad`).
    padded: usize,
}

impl Window {
    fn new(o: usize, size: usize, kernel: usize, stride: usize, pad: usize) -> Window {
        let size = size as isize;
        let start = (o * stride) as isize - pad as isize;
        let end_padded = (start + kernel as isize).min(size + pad as isize);
        let lo = start.clamp(0, size);
        let hi = end_padded.clamp(lo, size);
        Window {
            lo: lo as usize,
            hi: hi as usize,
            padded: (end_padded - start).max(0) as usize,
        }
    }
}

/// Pools `x` (`planes × input`) into `y` (`planes × output`), overwriting `y`. An empty window
/// (possible only with large padding) gives the lowest value for max and 0 otherwise.
///
/// # Errors
/// [`PoolError`] for a zero kernel or stride, or buffers of the wrong length.
pub fn pool_forward<T: PoolElement>(
    geom: &PoolGeom,
    kind: PoolType,
    x: &[T],
    y: &mut [T],
) -> Result<(), PoolError> {
    pool_forward_with(Isa::current(), geom, kind, x, y)
}

/// [`pool_forward`] with the vector code of `isa` (capped at what the CPU has), for tests and
/// benchmarks that compare instruction sets; the results are the same on every one.
///
/// # Errors
/// As [`pool_forward`].
pub fn pool_forward_with<T: PoolElement>(
    isa: Isa,
    geom: &PoolGeom,
    kind: PoolType,
    x: &[T],
    y: &mut [T],
) -> Result<(), PoolError> {
    let windows = geom.windows()?;
    geom.check_forward(x.len(), y.len())?;
    let Some(plan) = Plan::or_zero(geom, kind, windows, y) else {
        return Ok(());
    };
    let ([wd, wh, ww], [_, ih, iw]) = (&plan.windows, geom.input);
    let (spatial, out_spatial) = (plan.spatial, plan.out_spatial);
    let planes = |x: &[T], y: &mut [T]| {
        if let Some(o) = plan.overlap {
            o.forward(isa, wh, ww, x, y);
            return;
        }
        for (plane, out) in x.chunks_exact(spatial).zip(y.chunks_exact_mut(out_spatial)) {
            match plan.tiles {
                Some(t) => t.max_forward(iw, plane, out),
                None => forward_plane(kind, wd, wh, ww, ih, iw, plane, out),
            }
        }
    };
    in_plane_groups(y, out_spatial, spatial, |first, y| {
        let x = &x[first * spatial..(first + y.len() / out_spatial) * spatial];
        planes(x, y);
    });
    Ok(())
}

/// What the forward and backward passes over `geom` share: the windows along each axis, the
/// elements of an input and an output plane, and max pooling's fast paths.
struct Plan {
    windows: [Vec<Window>; 3],
    /// Elements of an input plane.
    spatial: usize,
    /// Elements of an output plane.
    out_spatial: usize,
    /// Max pooling over tiling windows.
    tiles: Option<Tiles>,
    /// Max pooling over overlapping windows in one pass (when they do not tile).
    overlap: Option<Overlap3>,
}

impl Plan {
    /// The plan of `kind` over `geom` with its `windows`; `None`, having zeroed `out` (the
    /// pass's whole output), when a plane is empty.
    fn or_zero<T: PoolElement>(
        geom: &PoolGeom,
        kind: PoolType,
        windows: [Vec<Window>; 3],
        out: &mut [T],
    ) -> Option<Plan> {
        let spatial: usize = geom.input.iter().product();
        let out_spatial: usize = geom.output.iter().product();
        if spatial == 0 || out_spatial == 0 {
            out.fill(T::ZERO);
            return None;
        }
        let [wd, wh, ww] = &windows;
        let tiles = (kind == PoolType::Max)
            .then(|| Tiles::of(wd, wh, ww))
            .flatten();
        let overlap = (kind == PoolType::Max && tiles.is_none())
            .then(|| Overlap3::of(geom, wd, wh, ww))
            .flatten();
        Some(Plan {
            windows,
            spatial,
            out_spatial,
            tiles,
            overlap,
        })
    }
}

/// Runs `f(first, out_group)` over `out` (whole planes of `plane_len` elements, inputs of
/// `spatial` elements a plane) on one thread, or split by [`plane_groups`] into groups of
/// whole planes on several, `first` being a group's first plane.
fn in_plane_groups<T: Send>(
    out: &mut [T],
    plane_len: usize,
    spatial: usize,
    f: impl Fn(usize, &mut [T]) + Sync,
) {
    match plane_groups(out.len() / plane_len, spatial) {
        None => f(0, out),
        Some(per) => parallel::for_each_chunk_mut(out, per * plane_len, |i, out| f(i * per, out)),
    }
}

/// Planes per parallel group when a pooling over `planes` planes of `spatial` elements is worth
/// splitting across threads (at least 64 Ki elements per group); `None` to run on one thread.
fn plane_groups(planes: usize, spatial: usize) -> Option<usize> {
    const MIN_GROUP_ELEMENTS: usize = 1 << 16;
    let threads = parallel::num_threads();
    let parts = threads
        .min(planes)
        .min(planes.saturating_mul(spatial) / MIN_GROUP_ELEMENTS);
    (parts > 1).then(|| planes.div_ceil(parts))
}

/// One plane of [`pool_forward`].
#[allow(
    clippy::too_many_arguments,
    reason = "the windows and sizes of one plane"
)]
fn forward_plane<T: PoolElement>(
    kind: PoolType,
    wd: &[Window],
    wh: &[Window],
    ww: &[Window],
    ih: usize,
    iw: usize,
    plane: &[T],
    out: &mut [T],
) {
    {
        let mut out = out.iter_mut();
        for a in wd {
            for b in wh {
                for c in ww {
                    // Every window coordinate is inside the plane: `Window` clips to [0, size).
                    let rows = (a.lo..a.hi).flat_map(|d| {
                        (b.lo..b.hi).map(move |h| {
                            &plane[(d * ih + h) * iw + c.lo..(d * ih + h) * iw + c.hi]
                        })
                    });
                    let value = match kind {
                        PoolType::Max => rows.fold(T::LOWEST, |m, row| {
                            row.iter().fold(m, |m, &v| if v > m { v } else { m })
                        }),
                        PoolType::Sum => {
                            rows.fold(T::ZERO, |s, row| row.iter().fold(s, |s, &v| s + v))
                        }
                        PoolType::Avg { count_include_pad } => {
                            let sum =
                                rows.fold(T::ZERO, |s, row| row.iter().fold(s, |s, &v| s + v));
                            let count = divisor(a, b, c, count_include_pad);
                            if count == 0 {
                                T::ZERO
                            } else {
                                sum / T::from_usize(count)
                            }
                        }
                    };
                    if let Some(o) = out.next() {
                        *o = value;
                    }
                }
            }
        }
    }
}

/// Windows that tile a 2-D plane: `kh × kw` windows with the stride equal to the kernel, no
/// padding and none clipped (LeNet's and VGG's 2×2 max pooling), each input read by at most
/// one window. Max pooling then runs on plain row slices ([`Tiles::max_forward`],
/// [`Tiles::max_backward`]), with the same comparisons in the same order as the general path;
/// the 2×2 gradient ([`Tiles::max_backward_2x2`]) writes every element of `dx` by selects, in
/// runs of bands of two input rows that may span planes, vectorised for `f32` (`avx2`).
#[derive(Debug, Clone, Copy)]
struct Tiles {
    kh: usize,
    kw: usize,
    oh: usize,
    ow: usize,
}

impl Tiles {
    /// The tiling, when the windows are one.
    fn of(wd: &[Window], wh: &[Window], ww: &[Window]) -> Option<Tiles> {
        let even = |w: &[Window]| {
            let k = w.first()?.hi - w.first()?.lo;
            let tiled = w
                .iter()
                .enumerate()
                .all(|(i, w)| w.lo == i * k && w.hi == w.lo + k);
            (k > 0 && tiled).then_some(k)
        };
        if wd.len() != 1 || wd[0].hi - wd[0].lo != 1 {
            return None;
        }
        Some(Tiles {
            kh: even(wh)?,
            kw: even(ww)?,
            oh: wh.len(),
            ow: ww.len(),
        })
    }

    /// The rows of window `(oy, ox)` of a plane `iw` wide.
    fn rows<'a, T>(
        &self,
        iw: usize,
        plane: &'a [T],
        oy: usize,
        ox: usize,
    ) -> impl Iterator<Item = &'a [T]> {
        let (kh, kw) = (self.kh, self.kw);
        (0..kh).map(move |dy| &plane[(oy * kh + dy) * iw + ox * kw..][..kw])
    }

    /// Max pooling of one plane.
    fn max_forward<T: PoolElement>(&self, iw: usize, plane: &[T], out: &mut [T]) {
        if (self.kh, self.kw) == (2, 2) {
            // Branch-free selects over row pairs (they vectorise), in the general fold's order.
            let pick = |m: T, v: T| if v > m { v } else { m };
            for (oy, orow) in out.chunks_exact_mut(self.ow).enumerate().take(self.oh) {
                let r0 = &plane[2 * oy * iw..][..2 * self.ow];
                let r1 = &plane[(2 * oy + 1) * iw..][..2 * self.ow];
                for ((o, a), b) in orow
                    .iter_mut()
                    .zip(r0.chunks_exact(2))
                    .zip(r1.chunks_exact(2))
                {
                    *o = pick(pick(pick(pick(T::LOWEST, a[0]), a[1]), b[0]), b[1]);
                }
            }
            return;
        }
        for (oy, orow) in out.chunks_exact_mut(self.ow).enumerate().take(self.oh) {
            for (ox, o) in orow.iter_mut().enumerate() {
                *o = self.rows(iw, plane, oy, ox).fold(T::LOWEST, |m, row| {
                    row.iter().fold(m, |m, &v| if v > m { v } else { m })
                });
            }
        }
    }

    /// The 2×2 gradient of [`Tiles::max_forward`] on whole planes (`planes × ih × iw` in `x`
    /// and `dx`, `planes × oh × ow` in `y` and `g`), overwriting `dx`: each output's gradient
    /// to the first element of its window equal to the output, zero elsewhere. When the
    /// windows cover every row, the planes' bands of two rows follow one another evenly, so
    /// they run as one stretch.
    #[allow(
        clippy::too_many_arguments,
        reason = "the instruction set, the plane height and the four buffers"
    )]
    fn max_backward_2x2<T: PoolElement>(
        &self,
        isa: Isa,
        ih: usize,
        iw: usize,
        x: &[T],
        y: &[T],
        g: &[T],
        dx: &mut [T],
    ) {
        let (oh, ow) = (self.oh, self.ow);
        if ih == 2 * oh {
            let bands = g.len() / ow.max(1);
            T::max_backward_2x2(isa, bands, iw, ow, x, y, g, dx);
            return;
        }
        // A last row no window covers: plane by plane, that row zeroed.
        let (spatial, out_spatial) = (ih * iw, oh * ow);
        for (((dxp, xp), yp), gp) in dx
            .chunks_exact_mut(spatial)
            .zip(x.chunks_exact(spatial))
            .zip(y.chunks_exact(out_spatial))
            .zip(g.chunks_exact(out_spatial))
        {
            let (covered, rest) = dxp.split_at_mut(2 * oh * iw);
            T::max_backward_2x2(isa, oh, iw, ow, xp, yp, gp, covered);
            rest.fill(T::ZERO);
        }
    }

    /// The gradient of [`Tiles::max_forward`] for windows other than 2×2 (`dxp` zeroed by the
    /// caller): each output's gradient to the first element of its window equal to the output.
    fn max_backward<T: PoolElement>(&self, iw: usize, gp: &[T], xp: &[T], yp: &[T], dxp: &mut [T]) {
        let (kh, kw) = (self.kh, self.kw);
        for oy in 0..self.oh {
            for ox in 0..self.ow {
                let o = oy * self.ow + ox;
                let hit = (0..kh).find_map(|dy| {
                    let at = (oy * kh + dy) * iw + ox * kw;
                    xp[at..at + kw]
                        .iter()
                        .position(|&v| v == yp[o])
                        .map(|w| at + w)
                });
                if let Some(at) = hit {
                    dxp[at] += gp[o];
                }
            }
        }
    }
}

/// The divisor of an average window.
fn divisor(a: &Window, b: &Window, c: &Window, count_include_pad: bool) -> usize {
    if count_include_pad {
        a.padded * b.padded * c.padded
    } else {
        (a.hi - a.lo) * (b.hi - b.lo) * (c.hi - c.lo)
    }
}

#[cfg(test)]
mod tests;
