//! The transposed convolution (MXNet's `Deconvolution`) as the adjoint of a convolution.
//!
//! A transposed convolution is described by the [`ConvGeom`] of the convolution it transposes:
//! that convolution's *input* (`N × C × spatial`, `C` = [`ConvGeom::channels`]) is the
//! transposed convolution's output, and its *output* (`N × F × out_spatial`, `F` =
//! [`ConvGeom::filters`]) is the transposed convolution's input. The weights are the same
//! `F × C/G × kernel` array (MXNet's `Deconvolution` weight: input channels × `num_filter /
//! num_group` × kernel). So:
//!
//! - the forward pass is the convolution's data gradient: per image and group,
//!   `col[g] = W[g]ᵀ · x[g]`, then col2im folds `col` onto `y`; plus the bias (`C`);
//! - its data gradient is the convolution's forward pass of the head gradient;
//! - its weight gradient is the convolution's weight gradient with the roles of data and head
//!   gradient exchanged; its bias gradient sums the head gradient per channel.
//!
//! Every pass reuses the convolution's kernels ([`conv_forward`], [`conv_backward`], the fused
//! GEMM + col2im of [`super::fused_dgrad`] for `f32` where it serves, else GEMM + col2im).
//!
//! ```
//! use mxr_kernels::cpu::conv::{ConvGeom, transposed};
//! // The 2×2 input [1 2; 3 4] spread by a 2×2 kernel of ones with stride 2: each value fills
//! // its own 2×2 block of the 4×4 output. The convolution transposed maps 4×4 to 2×2.
//! let geom = ConvGeom::new_2d(1, 1, 1, 1, [4, 4], [2, 2], [2, 2], [0, 0], [1, 1]);
//! let mut y = [0.0f32; 16];
//! transposed::forward(&geom, &[1.0, 2.0, 3.0, 4.0], &[1.0; 4], None, &mut y)?;
//! assert_eq!(&y[..8], &[1.0, 1.0, 2.0, 2.0, 1.0, 1.0, 2.0, 2.0]);
//! # Ok::<(), mxr_kernels::cpu::conv::ConvError>(())
//! ```

use super::{
    ConvElement, ConvError, ConvGeom, channel_sums, check_len, conv_backward, conv_forward,
    data_gradient_image, image_parts, over_image_groups,
};
use crate::cpu::parallel;

/// The transposed convolution of `x` (`N × F × out_spatial`, the output side of `geom`) with
/// the weights `w` (`F × C/G × kernel`): `y` (`N × C × spatial`, the input side of `geom`,
/// overwritten) plus `bias` (`C`) when given. Runs on up to [`parallel::num_threads`] threads.
///
/// # Errors
/// [`ConvError`] for an invalid geometry or a buffer of the wrong length.
pub fn forward<T: ConvElement>(
    geom: &ConvGeom,
    x: &[T],
    w: &[T],
    bias: Option<&[T]>,
    y: &mut [T],
) -> Result<(), ConvError> {
    let s = geom.sizes()?;
    check_len("data", x.len(), geom.batch * geom.filters * s.out_spatial)?;
    check_len("weight", w.len(), geom.filters * s.k)?;
    check_len("output", y.len(), geom.data_len())?;
    if let Some(b) = bias {
        check_len("bias", b.len(), geom.channels)?;
    }
    if y.is_empty() {
        return Ok(());
    }
    let threads = parallel::num_threads();
    if !T::direct_data_gradient(geom, x, w, y, threads)? {
        let sample_x = geom.filters * s.out_spatial;
        let sample_y = geom.channels * s.spatial;
        let col_len = if s.direct {
            0
        } else {
            geom.channels * s.taps * s.out_spatial
        };
        let run = |xg: &[T], yg: &mut [T]| {
            let mut col = vec![T::ZERO; col_len];
            for (xn, yn) in xg.chunks_exact(sample_x).zip(yg.chunks_exact_mut(sample_y)) {
                data_gradient_image(geom, &s, w, xn, yn, &mut col)?;
            }
            Ok(())
        };
        let parts = image_parts(geom, &s, threads);
        over_image_groups(parts, geom.batch, (x, sample_x), (y, sample_y), run)?;
    }
    if let Some(b) = bias {
        for plane_row in y.chunks_exact_mut(geom.channels * s.spatial) {
            for (plane, &bv) in plane_row.chunks_exact_mut(s.spatial).zip(b) {
                plane.iter_mut().for_each(|v| *v += bv);
            }
        }
    }
    Ok(())
}

/// The gradients of [`forward`] given the head gradient `gy` (like `y`): `dx` (like `x`; `None`
/// skips it), `dw` (like `w`) and `db` (`C`, when present). Every output is overwritten.
///
/// # Errors
/// [`ConvError`] for an invalid geometry or a buffer of the wrong length.
#[allow(clippy::too_many_arguments, reason = "the backward pass's operands")]
pub fn backward<T: ConvElement>(
    geom: &ConvGeom,
    gy: &[T],
    x: &[T],
    w: &[T],
    dx: Option<&mut [T]>,
    dw: &mut [T],
    db: Option<&mut [T]>,
) -> Result<(), ConvError> {
    let s = geom.sizes()?;
    check_len("output gradient", gy.len(), geom.data_len())?;
    if let Some(db) = &db {
        check_len("bias gradient", db.len(), geom.channels)?;
    }
    // The convolution's weight gradient, its data and head gradient exchanged (checks `x`,
    // `w` and `dw`).
    conv_backward(geom, x, gy, w, None, dw, None)?;
    if let Some(dx) = dx {
        conv_forward(geom, gy, w, None, dx)?;
    }
    channel_sums(gy, s.spatial, db);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::conv::{conv_backward_im2col, conv_forward_im2col};
    use crate::cpu::test_util::{conv_geom, lcg_values as values};

    fn dot(a: &[f64], b: &[f64]) -> f64 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }

    fn geoms() -> Vec<ConvGeom> {
        // 3-D: [input, kernel, stride, pad, dilate] per [depth, height, width].
        let g3 = conv_geom(
            2,
            4,
            6,
            2,
            [[3, 5, 4], [2, 3, 2], [1, 2, 1], [0, 1, 0], [1, 1, 2]],
        );
        vec![
            ConvGeom::new_2d(2, 3, 4, 1, [8, 8], [4, 4], [2, 2], [1, 1], [1, 1]),
            ConvGeom::new_2d(1, 6, 4, 2, [7, 9], [3, 3], [2, 3], [1, 0], [2, 1]),
            ConvGeom::new_2d(3, 2, 2, 1, [5, 5], [1, 1], [1, 1], [0, 0], [1, 1]),
            // Padding past the kernel: a 3×2 input spread to 1×2.
            ConvGeom::new_2d(1, 2, 3, 1, [1, 2], [3, 3], [1, 1], [2, 1], [1, 1]),
            g3,
        ]
    }

    /// The forward pass is the adjoint of the convolution: `<conv(u), x> = <u, deconv(x)>`.
    #[test]
    fn forward_is_the_adjoint_of_the_convolution() {
        for geom in geoms() {
            let (nx, ny) = (geom.output_len(), geom.data_len());
            let (x, w, u) = (values(nx, 1), values(geom.weight_len(), 2), values(ny, 3));
            let mut y = vec![0.0; ny];
            forward(&geom, &x, &w, None, &mut y).unwrap();
            let mut cu = vec![0.0; nx];
            conv_forward_im2col(&geom, &u, &w, None, &mut cu, 1).unwrap();
            let (a, b) = (dot(&cu, &x), dot(&u, &y));
            assert!(
                (a - b).abs() < 1e-9 * a.abs().max(1.0),
                "{geom:?}: {a} vs {b}"
            );
        }
    }

    /// The gradients against the convolution's (data and head gradient exchanged), the bias
    /// added and summed, and `f32` (the fused kernel where it serves) against `f64`.
    #[test]
    fn gradients_match_the_convolution() {
        for geom in geoms() {
            let (nx, ny, nw) = (geom.output_len(), geom.data_len(), geom.weight_len());
            let (x, w, gy) = (values(nx, 4), values(nw, 5), values(ny, 6));
            let b = values(geom.channels, 7);
            let (mut dx, mut dw, mut db) = (vec![0.0; nx], vec![0.0; nw], vec![0.0; geom.channels]);
            backward(&geom, &gy, &x, &w, Some(&mut dx), &mut dw, Some(&mut db)).unwrap();
            let mut want_dx = vec![0.0; nx];
            conv_forward_im2col(&geom, &gy, &w, None, &mut want_dx, 1).unwrap();
            let mut want_dw = vec![0.0; nw];
            conv_backward_im2col(&geom, &x, &gy, &w, None, &mut want_dw, None, 1).unwrap();
            for (got, want) in [(&dx, &want_dx), (&dw, &want_dw)] {
                for (g, v) in got.iter().zip(want.iter()) {
                    assert!((g - v).abs() < 1e-9, "{geom:?}: {g} vs {v}");
                }
            }
            let plane = ny / geom.batch / geom.channels;
            for (c, &d) in db.iter().enumerate() {
                let want: f64 = (0..geom.batch)
                    .flat_map(|n| {
                        let at = (n * geom.channels + c) * plane;
                        gy[at..at + plane].iter()
                    })
                    .sum();
                assert!((d - want).abs() < 1e-9);
            }
            // Bias, and f32 against f64.
            let mut y = vec![0.0; ny];
            forward(&geom, &x, &w, Some(&b), &mut y).unwrap();
            let f = |v: &[f64]| v.iter().map(|&a| a as f32).collect::<Vec<f32>>();
            let mut y32 = vec![0.0f32; ny];
            forward(&geom, &f(&x), &f(&w), Some(&f(&b)), &mut y32).unwrap();
            let mut no_bias = vec![0.0; ny];
            forward(&geom, &x, &w, None, &mut no_bias).unwrap();
            for (i, ((&y, &y32), &nb)) in y.iter().zip(&y32).zip(&no_bias).enumerate() {
                let c = i / plane % geom.channels;
                assert!((y - nb - b[c]).abs() < 1e-12);
                assert!(
                    (y - f64::from(y32)).abs() < 1e-4,
                    "{geom:?} at {i}: {y} vs {y32}"
                );
            }
        }
    }

    #[test]
    fn wrong_lengths_are_errors() {
        let geom = geoms()[0];
        let (nx, ny, nw) = (geom.output_len(), geom.data_len(), geom.weight_len());
        let (x, w) = (vec![0.0f32; nx], vec![0.0f32; nw]);
        let mut y = vec![0.0f32; ny];
        let e = forward(&geom, &x[1..], &w, None, &mut y).unwrap_err();
        assert!(matches!(e, ConvError::Length { what: "data", .. }), "{e}");
        let e = forward(&geom, &x, &w, Some(&[0.0; 2]), &mut y).unwrap_err();
        assert!(matches!(e, ConvError::Length { what: "bias", .. }), "{e}");
        let mut dw = vec![0.0f32; nw];
        let e = backward(&geom, &y[1..], &x, &w, None, &mut dw, None).unwrap_err();
        assert!(
            matches!(
                e,
                ConvError::Length {
                    what: "output gradient",
                    ..
                }
            ),
            "{e}"
        );
    }
}
