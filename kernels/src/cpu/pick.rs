//! `pick`: one element of every lane along an axis, at the position an index per lane gives
//! (MXNet 1.9.1's `pick`, `src/operator/tensor/broadcast_reduce_op.h`), and its gradient.
//!
//! Arrays are viewed as `(outer, len, inner)` around the axis ([`Axis`]); the indices and the
//! picked values are `(outer, inner)`. An index is truncated toward zero, then brought into
//! `[0, len)`: clipped to the nearest end, or wrapped around (`wrap`), as MXNet does.
//!
//! ```
//! use mxr_kernels::cpu::pick::pick;
//! use mxr_kernels::cpu::softmax::Axis;
//! // x = [[1, 2], [3, 4], [5, 6]] picked along axis 1 at [0, 1, 7] (7 clips to 1)
//! let x = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0];
//! let mut y = [0.0f32; 3];
//! pick(&x, &[0.0, 1.0, 7.0], Axis::new(3, 2, 1), false, &mut y)?;
//! assert_eq!(y, [1.0, 4.0, 6.0]);
//! # Ok::<(), mxr_kernels::cpu::transpose::LayoutError>(())
//! ```

use super::softmax::Axis;
use super::transpose::{LayoutError, check_len};

/// The position along an axis of length `len > 0` that index value `v` picks: `v` truncated
/// toward zero (NaN as 0, saturating), then clipped into `[0, len)` or, with `wrap`, taken
/// modulo `len` (a negative remainder plus `len`).
pub fn position(v: f64, len: usize, wrap: bool) -> usize {
    let j = v as i64; // truncates toward zero, as MXNet's cast to index_t
    let n = len as i64;
    if wrap {
        j.rem_euclid(n) as usize
    } else {
        j.clamp(0, n - 1) as usize
    }
}

/// Checks the buffers of a pick from `ax`: `whole` (`outer × len × inner`) and `lanes` (the
/// indices and picked values, `outer × inner` each), and that the axis is not empty.
fn check(ax: Axis, whole: usize, lanes: &[(&'static str, usize)]) -> Result<(), LayoutError> {
    check_len("data", whole, &[ax.outer, ax.len, ax.inner])?;
    for &(what, len) in lanes {
        check_len(what, len, &[ax.outer, ax.inner])?;
    }
    if ax.len == 0 && ax.outer * ax.inner > 0 {
        return Err(LayoutError::Mismatch(
            "cannot pick from an empty axis".into(),
        ));
    }
    Ok(())
}

/// `y[o, i] = x[o, position(index[o, i]), i]`.
///
/// # Errors
/// [`LayoutError::Length`] when a buffer does not fit `ax`, [`LayoutError::Mismatch`] when
/// there are lanes but the axis is empty.
pub fn pick<T: Copy>(
    x: &[T],
    index: &[f64],
    ax: Axis,
    wrap: bool,
    y: &mut [T],
) -> Result<(), LayoutError> {
    check(ax, x.len(), &[("index", index.len()), ("y", y.len())])?;
    let inner = ax.inner;
    for (k, (yv, &v)) in y.iter_mut().zip(index).enumerate() {
        let (o, i) = (k / inner, k % inner); // inner > 0: there is a lane
        *yv = x[(o * ax.len + position(v, ax.len, wrap)) * inner + i];
    }
    Ok(())
}

/// The gradient: `dx` is `zero` but at the picked positions, which hold the head gradient
/// `g[o, i]` (each lane picks one position, so nothing accumulates).
///
/// # Errors
/// As [`pick`].
pub fn pick_backward<T: Copy>(
    g: &[T],
    index: &[f64],
    ax: Axis,
    wrap: bool,
    zero: T,
    dx: &mut [T],
) -> Result<(), LayoutError> {
    check(ax, dx.len(), &[("index", index.len()), ("g", g.len())])?;
    dx.fill(zero);
    let inner = ax.inner;
    for (k, (&gv, &v)) in g.iter().zip(index).enumerate() {
        let (o, i) = (k / inner, k % inner);
        dx[(o * ax.len + position(v, ax.len, wrap)) * inner + i] = gv;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_clip_and_wrap_like_mxnet() {
        let clip: Vec<usize> = [-3.0, -0.5, 0.0, 1.9, 2.0, 9.0, f64::NAN]
            .iter()
            .map(|&v| position(v, 3, false))
            .collect();
        assert_eq!(clip, [0, 0, 0, 1, 2, 2, 0]);
        let wrap: Vec<usize> = [-4.0, -1.0, -0.5, 3.0, 7.7]
            .iter()
            .map(|&v| position(v, 3, true))
            .collect();
        assert_eq!(wrap, [2, 2, 0, 0, 1]);
    }

    #[test]
    fn picks_along_a_middle_axis_and_scatters_back() {
        // x (2, 3, 2) = arange(12); pick along axis 1 at [[2, 0], [-1, 1]] (clip)
        let x: Vec<i32> = (0..12).collect();
        let ax = Axis::new(2, 3, 2);
        let idx = [2.0, 0.0, -1.0, 1.0];
        let mut y = [0; 4];
        pick(&x, &idx, ax, false, &mut y).unwrap();
        assert_eq!(y, [4, 1, 6, 9]);
        pick(&x, &idx, ax, true, &mut y).unwrap();
        assert_eq!(y, [4, 1, 10, 9]);
        let mut dx = [7; 12];
        pick_backward(&[1, 2, 3, 4], &idx, ax, false, 0, &mut dx).unwrap();
        assert_eq!(dx, [0, 2, 0, 0, 1, 0, 3, 0, 0, 4, 0, 0]);
    }

    #[test]
    fn refuses_buffers_that_do_not_fit() {
        let mut y = [0.0f32; 2];
        let err = pick(&[1.0f32; 6], &[0.0; 3], Axis::new(3, 2, 1), false, &mut y);
        assert!(matches!(err, Err(LayoutError::Length { what: "y", .. })));
        let err = pick(&[0.0f32; 0], &[0.0], Axis::new(1, 0, 1), false, &mut y[..1]);
        assert!(matches!(err, Err(LayoutError::Mismatch(_))));
    }
}
