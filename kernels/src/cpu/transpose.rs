//! Axis permutation (`transpose`) of row-major arrays, for any element type.
//!
//! [`transpose`] first simplifies the permutation — size-1 axes are dropped and axes that stay
//! adjacent and in order are merged — so e.g. `(0, 2, 3, 1)` on `(N, C, H, W)` becomes a batch
//! of `C × (H·W)` matrix transposes. What remains is either a copy of contiguous rows (the
//! innermost axis stays innermost) or a batch of 2-D transposes done in square tiles, so both the
//! reads and the writes stay within a few cache lines.
//!
//! [`transpose_bytes`] does the same on raw element bytes of any width (1, 2, 4 or 8), so an
//! operator needs no per-dtype code.
//!
//! ```
//! use mxr_kernels::cpu::transpose::transpose;
//! // (2, 3) -> (3, 2)
//! let src = [1, 2, 3, 4, 5, 6];
//! let mut dst = [0; 6];
//! transpose(&src, &[2, 3], &[1, 0], &mut dst)?;
//! assert_eq!(dst, [1, 4, 2, 5, 3, 6]);
//! # Ok::<(), mxr_kernels::cpu::transpose::LayoutError>(())
//! ```

/// A shape, permutation or buffer that does not fit a layout kernel.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LayoutError {
    /// The axes are not a permutation of `0..ndim`.
    #[error("axes {axes:?} are not a permutation of 0..{ndim}")]
    NotAPermutation {
        /// The axes given.
        axes: Vec<usize>,
        /// The rank of the array.
        ndim: usize,
    },
    /// A buffer's length does not match its shape.
    #[error("{what} holds {len} elements but its shape {shape:?} needs {needed}")]
    Length {
        /// Which buffer (`src`, `dst`, ...).
        what: &'static str,
        /// Its length in elements.
        len: usize,
        /// The shape it should have.
        shape: Vec<usize>,
        /// The number of elements of that shape.
        needed: usize,
    },
    /// Shapes that do not fit together (ranks, or a dimension that is neither equal nor 1).
    #[error("{0}")]
    Mismatch(String),
    /// An element width other than 1, 2, 4 or 8 bytes, or bytes misaligned for that width.
    #[error("element width {0} is not 1, 2, 4 or 8 bytes, or the buffer is misaligned for it")]
    Width(usize),
}

/// Checks that a buffer of `len` elements fits `shape`.
pub(crate) fn check_len(
    what: &'static str,
    len: usize,
    shape: &[usize],
) -> Result<(), LayoutError> {
    let needed: usize = shape.iter().product();
    if len == needed {
        Ok(())
    } else {
        Err(LayoutError::Length {
            what,
            len,
            shape: shape.to_vec(),
            needed,
        })
    }
}

/// Runs `$body` with `$src`/`$dst` rebound as slices of the unsigned integer type of width
/// `$width` bytes (`u8`, `u16`, `u32`, `u64`); other widths or misaligned bytes give
/// [`LayoutError::Width`].
macro_rules! by_width {
    ($width:expr, $src:ident, $dst:ident => $body:expr) => {{
        fn cast<T: bytemuck::Pod>(
            b: &[u8],
            w: usize,
        ) -> Result<&[T], $crate::cpu::transpose::LayoutError> {
            bytemuck::try_cast_slice(b).map_err(|_| $crate::cpu::transpose::LayoutError::Width(w))
        }
        fn cast_mut<T: bytemuck::Pod>(
            b: &mut [u8],
            w: usize,
        ) -> Result<&mut [T], $crate::cpu::transpose::LayoutError> {
            bytemuck::try_cast_slice_mut(b)
                .map_err(|_| $crate::cpu::transpose::LayoutError::Width(w))
        }
        let width: usize = $width;
        match width {
            1 => {
                let $src: &[u8] = cast($src, width)?;
                let $dst: &mut [u8] = cast_mut($dst, width)?;
                $body
            }
            2 => {
                let $src: &[u16] = cast($src, width)?;
                let $dst: &mut [u16] = cast_mut($dst, width)?;
                $body
            }
            4 => {
                let $src: &[u32] = cast($src, width)?;
                let $dst: &mut [u32] = cast_mut($dst, width)?;
                $body
            }
            8 => {
                let $src: &[u64] = cast($src, width)?;
                let $dst: &mut [u64] = cast_mut($dst, width)?;
                $body
            }
            w => Err($crate::cpu::transpose::LayoutError::Width(w)),
        }
    }};
}
pub(crate) use by_width;

/// Side of the square tiles of the 2-D transposes, in elements.
const TILE: usize = 32;

/// Permutes the axes of the row-major array `src` of `shape`: output axis `i` is input axis
/// `axes[i]`, so the output shape is `shape[axes[0]], shape[axes[1]], ...`. `dst` must have
/// as many elements as `src`.
///
/// # Errors
/// [`LayoutError::NotAPermutation`] if `axes` is not a permutation of `0..shape.len()`,
/// [`LayoutError::Length`] if a buffer does not match the shape. `dst` is untouched then.
pub fn transpose<T: Copy>(
    src: &[T],
    shape: &[usize],
    axes: &[usize],
    dst: &mut [T],
) -> Result<(), LayoutError> {
    check_permutation(axes, shape.len())?;
    check_len("src", src.len(), shape)?;
    check_len("dst", dst.len(), shape)?;
    if src.is_empty() {
        return Ok(());
    }
    let (shape, axes) = simplify(shape, axes);
    let n = shape.len();
    if axes.iter().enumerate().all(|(i, &a)| i == a) {
        dst.copy_from_slice(src);
        return Ok(());
    }
    // Row-major strides of the (simplified) input and output.
    let in_strides = strides(&shape);
    let out_shape: Vec<usize> = axes.iter().map(|&a| shape[a]).collect();
    let out_strides = strides(&out_shape);
    // n >= 2 here: a single axis is always the identity.
    let last = n - 1;
    if axes[last] == last {
        // The innermost axis stays innermost: copy rows of `len` elements.
        let len = shape[last];
        let mut odo = Odometer::new(
            (0..last)
                .map(|i| (out_shape[i], in_strides[axes[i]], out_strides[i]))
                .collect(),
        );
        for row in dst.chunks_exact_mut(len) {
            let s = odo.src;
            row.copy_from_slice(&src[s..s + len]);
            odo.advance();
        }
        return Ok(());
    }
    // A batch of 2-D transposes: input axis `a` becomes the output's innermost axis, and the
    // input's innermost axis lands at output position `b`.
    let a = axes[last];
    let b = axes.iter().position(|&x| x == last).unwrap_or(0);
    let rows = shape[a];
    let cols = shape[last];
    let mut odo = Odometer::new(
        (0..last)
            .filter(|&i| i != b)
            .map(|i| (out_shape[i], in_strides[axes[i]], out_strides[i]))
            .collect(),
    );
    for _ in 0..odo.count() {
        tile_transpose(
            src,
            odo.src,
            in_strides[a],
            dst,
            odo.dst,
            out_strides[b],
            rows,
            cols,
        );
        odo.advance();
    }
    Ok(())
}

/// [`transpose`] on raw element bytes: `width` bytes per element (1, 2, 4 or 8), both buffers
/// aligned for that width; `shape` counts elements.
///
/// # Errors
/// As [`transpose`], plus [`LayoutError::Width`] for another width or misaligned bytes.
pub fn transpose_bytes(
    src: &[u8],
    width: usize,
    shape: &[usize],
    axes: &[usize],
    dst: &mut [u8],
) -> Result<(), LayoutError> {
    by_width!(width, src, dst => transpose(src, shape, axes, dst))
}

/// The inverse permutation: `inverse[axes[i]] = i`.
///
/// # Errors
/// [`LayoutError::NotAPermutation`] if `axes` is not a permutation of `0..axes.len()`.
pub fn inverse_permutation(axes: &[usize]) -> Result<Vec<usize>, LayoutError> {
    check_permutation(axes, axes.len())?;
    let mut inv = vec![0; axes.len()];
    for (i, &a) in axes.iter().enumerate() {
        inv[a] = i;
    }
    Ok(inv)
}

fn check_permutation(axes: &[usize], ndim: usize) -> Result<(), LayoutError> {
    let mut seen = vec![false; ndim];
    let ok = axes.len() == ndim
        && axes.iter().all(|&a| match seen.get_mut(a) {
            Some(s) if !*s => {
                *s = true;
                true
            }
            _ => false,
        });
    if ok {
        Ok(())
    } else {
        Err(LayoutError::NotAPermutation {
            axes: axes.to_vec(),
            ndim,
        })
    }
}

/// Row-major strides of `shape`.
fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * shape[i + 1];
    }
    s
}

/// Drops size-1 axes and merges runs of axes that stay adjacent and in order; returns the
/// simplified input shape and permutation (same element order on both sides).
fn simplify(shape: &[usize], axes: &[usize]) -> (Vec<usize>, Vec<usize>) {
    // Input axes without the size-1 ones, renumbered.
    let mut new_id = vec![usize::MAX; shape.len()];
    let mut kept_shape = Vec::new();
    for (i, &d) in shape.iter().enumerate() {
        if d != 1 {
            new_id[i] = kept_shape.len();
            kept_shape.push(d);
        }
    }
    let kept_axes: Vec<usize> = axes
        .iter()
        .filter(|&&a| shape[a] != 1)
        .map(|&a| new_id[a])
        .collect();
    // Runs in output order where the input axes are consecutive: (first input axis, size).
    let mut runs: Vec<(usize, usize, usize)> = Vec::new(); // (first axis, last axis, size)
    for &a in &kept_axes {
        match runs.last_mut() {
            Some((_, last, size)) if *last + 1 == a => {
                *last = a;
                *size *= kept_shape[a];
            }
            _ => runs.push((a, a, kept_shape[a])),
        }
    }
    // Number the runs by their position in the input.
    let mut order: Vec<usize> = (0..runs.len()).collect();
    order.sort_by_key(|&r| runs[r].0);
    let mut run_id = vec![0; runs.len()];
    for (id, &r) in order.iter().enumerate() {
        run_id[r] = id;
    }
    let new_shape: Vec<usize> = order.iter().map(|&r| runs[r].2).collect();
    let new_axes: Vec<usize> = (0..runs.len()).map(|r| run_id[r]).collect();
    (new_shape, new_axes)
}

/// Walks a row-major index space, tracking one offset into the source and one into the
/// destination.
struct Odometer {
    /// (extent, source stride, destination stride) per axis, outermost first.
    axes: Vec<(usize, usize, usize)>,
    index: Vec<usize>,
    src: usize,
    dst: usize,
}

impl Odometer {
    fn new(axes: Vec<(usize, usize, usize)>) -> Odometer {
        let n = axes.len();
        Odometer {
            axes,
            index: vec![0; n],
            src: 0,
            dst: 0,
        }
    }

    fn count(&self) -> usize {
        self.axes.iter().map(|a| a.0).product()
    }

    fn advance(&mut self) {
        for (k, &(extent, ss, ds)) in self.axes.iter().enumerate().rev() {
            self.index[k] += 1;
            self.src += ss;
            self.dst += ds;
            if self.index[k] < extent {
                return;
            }
            self.index[k] = 0;
            self.src -= ss * extent;
            self.dst -= ds * extent;
        }
    }
}

/// `dst[d0 + c·ldd + r] = src[s0 + r·lds + c]` for `r < rows`, `c < cols`, one square tile at
/// a time: a full tile's source rows are read whole into a fixed-size block (which stays in
/// L1), and the destination rows are written from its columns; partial tiles at the edges are
/// copied element by element.
#[allow(
    clippy::too_many_arguments,
    reason = "two strided matrices and their sizes"
)]
fn tile_transpose<T: Copy>(
    src: &[T],
    s0: usize,
    lds: usize,
    dst: &mut [T],
    d0: usize,
    ldd: usize,
    rows: usize,
    cols: usize,
) {
    let Some(&first) = src.get(s0) else {
        return; // nothing to move (rows or cols is 0)
    };
    let mut block = [[first; TILE]; TILE];
    // In bounds below: the offsets come from the validated shapes and strides.
    for r0 in (0..rows).step_by(TILE) {
        let r1 = (r0 + TILE).min(rows);
        for c0 in (0..cols).step_by(TILE) {
            let c1 = (c0 + TILE).min(cols);
            if r1 - r0 == TILE && c1 - c0 == TILE {
                for (r, row) in block.iter_mut().enumerate() {
                    let s = s0 + (r0 + r) * lds + c0;
                    row.copy_from_slice(&src[s..s + TILE]);
                }
                #[allow(
                    clippy::needless_range_loop,
                    reason = "c picks a column of every block row and a destination row"
                )]
                for c in 0..TILE {
                    let d = d0 + (c0 + c) * ldd + r0;
                    if let Ok(out) = <&mut [T; TILE]>::try_from(&mut dst[d..d + TILE]) {
                        for (r, o) in out.iter_mut().enumerate() {
                            *o = block[r][c];
                        }
                    }
                }
            } else {
                for c in c0..c1 {
                    let d = d0 + c * ldd;
                    for (r, o) in (r0..r1).zip(&mut dst[d + r0..d + r1]) {
                        *o = src[s0 + r * lds + c];
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
