//! The implicit-GEMM weight gradient against an f64 reference by the definition and the
//! im2col path, over channel counts 1 to 64, maps of 5 to 16, kernels 3 and 5, padding 0 to
//! 2, strides 1 and 2, dilation, batches 1 to 64 (chunks that split images and rows);
//! bit-identical across thread counts; a finite-difference check; refusals and length
//! errors. On machines without AVX-512 only the refusals are checked.
use super::*;
use crate::cpu::conv::conv_backward_im2col;
use crate::cpu::conv::tests::{to_f32, values, values_f32};
use crate::cpu::test_util::conv_geom;

/// `dw` in f64 by the definition: `Σ_n Σ_(oy, ox) dy[n][f][oy][ox] · x[n][c][iy][ix]`.
fn reference(geom: &ConvGeom, dy: &[f64], x: &[f64]) -> Vec<f64> {
    let [_, oh, ow] = geom.output().unwrap();
    let [_, ih, iw] = geom.input;
    let [_, kh, kw] = geom.kernel;
    let mut dw = vec![0.0; geom.weight_len()];
    for f in 0..geom.filters {
        for c in 0..geom.channels {
            for ky in 0..kh {
                for kx in 0..kw {
                    let mut sum = 0.0;
                    for n in 0..geom.batch {
                        for oy in 0..oh {
                            let iy = (oy * geom.stride[1] + ky * geom.dilate[1]) as isize
                                - geom.pad[1] as isize;
                            if iy < 0 || iy as usize >= ih {
                                continue;
                            }
                            for ox in 0..ow {
                                let ix = (ox * geom.stride[2] + kx * geom.dilate[2]) as isize
                                    - geom.pad[2] as isize;
                                if ix < 0 || ix as usize >= iw {
                                    continue;
                                }
                                let d = dy[((n * geom.filters + f) * oh + oy) * ow + ox];
                                let v = x[((n * geom.channels + c) * ih + iy as usize) * iw
                                    + ix as usize];
                                sum += d * v;
                            }
                        }
                    }
                    dw[((f * geom.channels + c) * kh + ky) * kw + kx] = sum;
                }
            }
        }
    }
    dw
}

fn geometries() -> Vec<ConvGeom> {
    let g2 = ConvGeom::new_2d;
    // [input, kernel, stride, pad, dilate] of a 1-D layer.
    let one_d = [[1, 1, 30], [1, 1, 5], [1; 3], [0, 0, 1], [1; 3]];
    vec![
        // LeNet's second layer: batch 64 (three chunks, split mid-image), 3 and 1.
        g2(64, 20, 50, 1, [12, 12], [5, 5], [1, 1], [0, 0], [1, 1]),
        g2(3, 20, 50, 1, [12, 12], [5, 5], [1, 1], [0, 0], [1, 1]),
        g2(1, 20, 50, 1, [12, 12], [5, 5], [1, 1], [0, 0], [1, 1]),
        // One channel, padding 2 (LeNet's first layer shape on a small map).
        g2(3, 1, 20, 1, [9, 9], [5, 5], [1, 1], [2, 2], [1, 1]),
        // Three channels, 3×3, pad 1, 16×16 maps (rows of exactly 16).
        g2(3, 3, 64, 1, [16, 16], [3, 3], [1, 1], [1, 1], [1, 1]),
        // 50 → 20 channels, 5×5 map, pad 2 (25 pixels per image: lanes across images).
        g2(3, 50, 20, 1, [5, 5], [5, 5], [1, 1], [2, 2], [1, 1]),
        // 64 → 7, 7×6 map, 3×3, pad 1 (partial filter and column blocks).
        g2(3, 64, 7, 1, [7, 6], [3, 3], [1, 1], [1, 1], [1, 1]),
        // Stride 2 (the scalar packing), pad 1, odd map.
        g2(3, 3, 8, 1, [11, 13], [3, 3], [2, 2], [1, 1], [1, 1]),
        // Stride 2 along the height only, pad 2 with 3×3 (zero rows at the border).
        g2(1, 5, 6, 1, [9, 8], [3, 3], [2, 1], [2, 2], [1, 1]),
        // Dilation 2, 5×3 kernel, rows wider than 16 (two masked loads per row).
        g2(2, 4, 9, 1, [10, 37], [5, 3], [1, 1], [1, 0], [2, 2]),
        // 1-D.
        conv_geom(3, 3, 5, 1, one_d),
    ]
}

fn avx512() -> bool {
    Isa::Avx512.is_available()
}

/// Each `dw` element sums `N·P` products of values in [-1, 1); in f32 the kernel's longest
/// chain of additions is a lane's pixels in a chunk (`N·P/16` at most), the chunks and the
/// four levels of the lane tree, so its error is at most `(N·P/16 + N·P/16 + 8) · 2⁻²⁴ · N·P`
/// (counting each chunk's partial as one more term): the bound below, with a floor for the
/// rounding of the inputs to f32 (`2⁻²⁴` each, `N·P` products).
fn tolerance(geom: &ConvGeom) -> f64 {
    let p = (geom.batch * geom.output().unwrap().iter().product::<usize>()) as f64;
    (p / 8.0 + 8.0) * p * 2f64.powi(-24) + 2.0 * p * 2f64.powi(-24)
}

#[test]
fn matches_the_reference_and_the_im2col_path_and_ignores_the_thread_count() {
    if !avx512() {
        return;
    }
    for (i, geom) in geometries().into_iter().enumerate() {
        let dy64 = values(geom.output_len(), 5 * i as u64 + 1);
        let x64 = values(geom.data_len(), 5 * i as u64 + 2);
        let want = reference(&geom, &dy64, &x64);
        let dy: Vec<f32> = to_f32(&dy64);
        let x: Vec<f32> = to_f32(&x64);
        let mut dw = vec![f32::NAN; geom.weight_len()];
        assert!(
            weight_gradient_with(Isa::Avx512, &geom, &dy, &x, &mut dw, 1).unwrap(),
            "{geom:?} served"
        );
        let tol = tolerance(&geom);
        for (j, (&got, &want)) in dw.iter().zip(&want).enumerate() {
            assert!(
                (got as f64 - want).abs() <= tol,
                "{geom:?}: dw[{j}] = {got}, reference {want} (tolerance {tol})"
            );
        }
        let w = vec![0.0f32; geom.weight_len()];
        let mut dw_im2col = vec![0.0f32; geom.weight_len()];
        conv_backward_im2col(&geom, &dy, &x, &w, None, &mut dw_im2col, None, 1).unwrap();
        for (j, (&a, &b)) in dw.iter().zip(&dw_im2col).enumerate() {
            assert!(
                ((a - b) as f64).abs() <= 2.0 * tol,
                "{geom:?}: dw[{j}] = {a}, im2col {b}"
            );
        }
        for threads in [2, 3] {
            let mut again = vec![f32::NAN; geom.weight_len()];
            weight_gradient_with(Isa::Avx512, &geom, &dy, &x, &mut again, threads).unwrap();
            assert!(
                again
                    .iter()
                    .zip(&dw)
                    .all(|(a, b)| a.to_bits() == b.to_bits()),
                "{geom:?}: {threads} threads"
            );
        }
    }
}

#[test]
fn lenet_is_bit_identical_for_1_2_3_and_8_threads() {
    if !avx512() {
        return;
    }
    let geom = ConvGeom::new_2d(64, 20, 50, 1, [12, 12], [5, 5], [1, 1], [0, 0], [1, 1]);
    let dy: Vec<f32> = values_f32(geom.output_len(), 11);
    let x: Vec<f32> = values_f32(geom.data_len(), 12);
    let run = |threads| {
        let mut dw = vec![f32::NAN; geom.weight_len()];
        assert!(weight_gradient_with(Isa::Avx512, &geom, &dy, &x, &mut dw, threads).unwrap());
        dw.iter().map(|v| v.to_bits()).collect::<Vec<u32>>()
    };
    let one = run(1);
    for threads in [2, 3, 8] {
        assert_eq!(run(threads), one, "{threads} threads");
    }
}

/// The loss `L(w) = Σ r · conv(x, w)` (f64, by the definition) is linear in `w`, and its
/// gradient is the weight gradient for the head gradient `r`: a central difference with step
/// `h` matches it up to the rounding of `L` (about `1e-15 · |L| / h`).
#[test]
fn finite_differences_agree_on_a_tiny_layer() {
    if !avx512() {
        return;
    }
    let geom = ConvGeom::new_2d(2, 2, 3, 1, [5, 6], [3, 3], [1, 1], [1, 1], [1, 1]);
    let [_, oh, ow] = geom.output().unwrap();
    let [_, ih, iw] = geom.input;
    let x64 = values(geom.data_len(), 21);
    let r64 = values(geom.output_len(), 22);
    let loss = |w: &[f64]| {
        let mut l = 0.0;
        for n in 0..geom.batch {
            for f in 0..geom.filters {
                for oy in 0..oh {
                    for ox in 0..ow {
                        let mut y = 0.0;
                        for c in 0..geom.channels {
                            for ky in 0..3 {
                                for kx in 0..3 {
                                    let (iy, ix) = (oy + ky, ox + kx);
                                    if iy < 1 || ix < 1 || iy > ih || ix > iw {
                                        continue;
                                    }
                                    y += w[((f * geom.channels + c) * 3 + ky) * 3 + kx]
                                        * x64
                                            [((n * geom.channels + c) * ih + iy - 1) * iw + ix - 1];
                                }
                            }
                        }
                        l += r64[((n * geom.filters + f) * oh + oy) * ow + ox] * y;
                    }
                }
            }
        }
        l
    };
    let x: Vec<f32> = to_f32(&x64);
    let r: Vec<f32> = to_f32(&r64);
    let mut dw = vec![f32::NAN; geom.weight_len()];
    assert!(weight_gradient_with(Isa::Avx512, &geom, &r, &x, &mut dw, 1).unwrap());
    let w0 = values(geom.weight_len(), 23);
    let h = 1e-3;
    for (j, &got) in dw.iter().enumerate() {
        let mut w = w0.clone();
        w[j] += h;
        let up = loss(&w);
        w[j] -= 2.0 * h;
        let down = loss(&w);
        let fd = (up - down) / (2.0 * h);
        // The kernel's inputs are x and r rounded to f32 (relative 2⁻²⁴ each, 60 products
        // of magnitude < 1) and its f32 sums: 1e-5 covers both with a wide margin.
        assert!(
            (got as f64 - fd).abs() <= 1e-5,
            "dw[{j}] = {got}, finite difference {fd}"
        );
    }
}

#[test]
fn refusals_and_errors() {
    let lenet = ConvGeom::new_2d(2, 20, 50, 1, [12, 12], [5, 5], [1, 1], [0, 0], [1, 1]);
    let resnet = ConvGeom::new_2d(16, 64, 64, 1, [28, 28], [3, 3], [1, 1], [1, 1], [1, 1]);
    let grouped = ConvGeom::new_2d(1, 4, 4, 2, [6, 6], [3, 3], [1, 1], [0, 0], [1, 1]);
    let bad = ConvGeom::new_2d(1, 3, 2, 2, [6, 6], [3, 3], [1, 1], [0, 0], [1, 1]);
    for isa in [Isa::Scalar, Isa::Avx2] {
        assert!(!serves(isa, &lenet));
        let mut dw = vec![1.0f32; lenet.weight_len()];
        let dy = vec![0.0f32; lenet.output_len()];
        let x = vec![0.0f32; lenet.data_len()];
        assert!(!weight_gradient_with(isa, &lenet, &dy, &x, &mut dw, 1).unwrap());
        assert!(dw.iter().all(|&v| v == 1.0), "untouched when not served");
    }
    assert!(!serves(Isa::Avx512, &grouped), "groups");
    assert!(!serves(Isa::Avx512, &bad), "3 channels in 2 groups");
    assert!(
        !prefers(&resnet),
        "64 channels: the blocked kernel wastes nothing"
    );
    if !avx512() {
        assert!(!prefers(&lenet));
        return;
    }
    let lenet64 = ConvGeom { batch: 64, ..lenet };
    assert_eq!(prefers(&lenet64), Isa::current() == Isa::Avx512);
    assert!(!prefers(&lenet), "128 pixels < MIN_PIXELS");
    let mut dw = vec![1.0f32; lenet.weight_len()];
    let x = vec![0.0f32; lenet.data_len()];
    let short = vec![0.0f32; lenet.output_len() - 1];
    let err = weight_gradient_with(Isa::Avx512, &lenet, &short, &x, &mut dw, 1).unwrap_err();
    assert!(err.to_string().contains("output gradient"), "{err}");
    let dy = vec![0.0f32; lenet.output_len()];
    let err = weight_gradient_with(Isa::Avx512, &lenet, &dy, &x[1..], &mut dw, 1).unwrap_err();
    assert!(err.to_string().contains("data"), "{err}");
    let err = weight_gradient_with(Isa::Avx512, &lenet, &dy, &x, &mut dw[1..], 1).unwrap_err();
    assert!(err.to_string().contains("weight gradient"), "{err}");
    let mut long = vec![1.0f32; lenet.weight_len() + 1];
    let err = weight_gradient_with(Isa::Avx512, &lenet, &dy, &x, &mut long, 1).unwrap_err();
    assert!(err.to_string().contains("weight gradient"), "{err}");
    assert!(dw.iter().all(|&v| v == 1.0), "untouched on error");
}

/// `conv_backward` takes the weight gradient of a layer with channel counts that waste
/// blocked lanes (50 → 20, 3×3 on 7×7) here (where [`prefers`] holds) and so returns this
/// module's bits, with or without `dx`. (LeNet's second layer, 5×5, goes to Winograd unless
/// `MXR_WINOGRAD=0`.)
#[test]
fn conv_backward_dispatches_here() {
    let lenet2 = ConvGeom::new_2d(64, 20, 50, 1, [12, 12], [5, 5], [1, 1], [0, 0], [1, 1]);
    let geom = if crate::cpu::conv::backward::winograd_5x5_pays(&lenet2) {
        ConvGeom::new_2d(64, 50, 20, 1, [7, 7], [3, 3], [1, 1], [1, 1], [1, 1])
    } else {
        lenet2
    };
    if !prefers(&geom) {
        return;
    }
    let dy: Vec<f32> = values_f32(geom.output_len(), 31);
    let x: Vec<f32> = values_f32(geom.data_len(), 32);
    let w: Vec<f32> = values_f32(geom.weight_len(), 33);
    let mut want = vec![f32::NAN; geom.weight_len()];
    assert!(weight_gradient_with(Isa::Avx512, &geom, &dy, &x, &mut want, 1).unwrap());
    let mut dw = vec![f32::NAN; geom.weight_len()];
    let mut dx = vec![f32::NAN; geom.data_len()];
    crate::cpu::conv::conv_backward(&geom, &dy, &x, &w, Some(&mut dx), &mut dw, None).unwrap();
    assert!(
        dw.iter()
            .zip(&want)
            .all(|(a, b)| a.to_bits() == b.to_bits())
    );
    assert!(dx.iter().all(|v| v.is_finite()));
    let mut dw2 = vec![f32::NAN; geom.weight_len()];
    crate::cpu::conv::conv_backward(&geom, &dy, &x, &w, None, &mut dw2, None).unwrap();
    assert!(
        dw2.iter()
            .zip(&want)
            .all(|(a, b)| a.to_bits() == b.to_bits())
    );
}
