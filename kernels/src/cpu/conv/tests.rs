//! im2col/GEMM convolution against a direct (seven-loop) reference: strides, padding,
//! dilation, groups, 1-D/2-D/3-D, the 1×1 shortcut, backward, and every error.
use super::*;
use crate::cpu::test_util::{LCG_INC, LCG_MUL, conv_geom, lcg_values};

/// Deterministic pseudo-random values in [-1, 1) (also the blocked backward tests').
pub(super) fn values(n: usize, seed: u64) -> Vec<f64> {
    lcg_values(n, seed.wrapping_mul(LCG_MUL).wrapping_add(LCG_INC))
}

/// [`values`] rounded to `f32`.
pub(super) fn values_f32(n: usize, seed: u64) -> Vec<f32> {
    to_f32(&values(n, seed))
}

/// `v` rounded to `f32`.
pub(super) fn to_f32(v: &[f64]) -> Vec<f32> {
    v.iter().map(|&x| x as f32).collect()
}

/// Calls `f(n, f, c, in_pos, out_pos, tap_pos)` for every (input, weight, output) triple the
/// convolution multiplies together.
fn for_each_tap(geom: &ConvGeom, mut f: impl FnMut(usize, usize, usize, usize, usize, usize)) {
    let out = geom.output().unwrap();
    let cg = geom.channels / geom.groups;
    for n in 0..geom.batch {
        for fi in 0..geom.filters {
            for ci in 0..cg {
                for od in 0..out[0] {
                    for oh in 0..out[1] {
                        for ow in 0..out[2] {
                            for kd in 0..geom.kernel[0] {
                                for kh in 0..geom.kernel[1] {
                                    for kw in 0..geom.kernel[2] {
                                        let pos = [(od, kd), (oh, kh), (ow, kw)];
                                        let mut idx = [0usize; 3];
                                        let mut inside = true;
                                        for d in 0..3 {
                                            let (o, k) = pos[d];
                                            let i = (o * geom.stride[d] + k * geom.dilate[d])
                                                as isize
                                                - geom.pad[d] as isize;
                                            if i < 0 || i >= geom.input[d] as isize {
                                                inside = false;
                                            }
                                            idx[d] = i.max(0) as usize;
                                        }
                                        if !inside {
                                            continue;
                                        }
                                        let in_pos = (idx[0] * geom.input[1] + idx[1])
                                            * geom.input[2]
                                            + idx[2];
                                        let out_pos = (od * out[1] + oh) * out[2] + ow;
                                        let tap = (kd * geom.kernel[1] + kh) * geom.kernel[2] + kw;
                                        f(n, fi, ci, in_pos, out_pos, tap);
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

struct Reference {
    y: Vec<f64>,
    dx: Vec<f64>,
    dw: Vec<f64>,
    db: Vec<f64>,
}

fn reference(geom: &ConvGeom, x: &[f64], w: &[f64], b: &[f64], g: &[f64]) -> Reference {
    let out: usize = geom.output().unwrap().iter().product();
    let spatial: usize = geom.input.iter().product();
    let taps: usize = geom.kernel.iter().product();
    let cg = geom.channels / geom.groups;
    let fg = geom.filters / geom.groups;
    let mut y = vec![0.0; geom.batch * geom.filters * out];
    for n in 0..geom.batch {
        for f in 0..geom.filters {
            for p in 0..out {
                y[(n * geom.filters + f) * out + p] = b[f];
            }
        }
    }
    let mut dx = vec![0.0; x.len()];
    let mut dw = vec![0.0; w.len()];
    let mut db = vec![0.0; geom.filters];
    for (i, gv) in g.iter().enumerate() {
        db[(i / out) % geom.filters] += gv;
    }
    for_each_tap(geom, |n, f, ci, in_pos, out_pos, tap| {
        let c = (f / fg) * cg + ci;
        let xi = (n * geom.channels + c) * spatial + in_pos;
        let wi = (f * cg + ci) * taps + tap;
        let yi = (n * geom.filters + f) * out + out_pos;
        y[yi] += x[xi] * w[wi];
        dx[xi] += g[yi] * w[wi];
        dw[wi] += g[yi] * x[xi];
    });
    Reference { y, dx, dw, db }
}

fn assert_close(what: &str, got: &[f64], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (a, b)) in got.iter().zip(want).enumerate() {
        assert!(
            (a - b).abs() <= tol * (1.0 + b.abs()),
            "{what}[{i}]: {a} vs reference {b}"
        );
    }
}

fn check_geometry(geom: ConvGeom, with_bias: bool) {
    let x = values(geom.data_len(), 1);
    let w = values(geom.weight_len(), 2);
    let b = if with_bias {
        values(geom.filters, 3)
    } else {
        vec![0.0; geom.filters]
    };
    let g = values(geom.output_len(), 4);
    let want = reference(&geom, &x, &w, &b, &g);

    // f64.
    let mut y = vec![f64::NAN; geom.output_len()];
    conv_forward(&geom, &x, &w, with_bias.then_some(&b[..]), &mut y).unwrap();
    assert_close(&format!("{geom:?} y"), &y, &want.y, 1e-12);
    let mut dx = vec![f64::NAN; x.len()];
    let mut dw = vec![f64::NAN; w.len()];
    let mut db = vec![f64::NAN; geom.filters];
    conv_backward(&geom, &g, &x, &w, Some(&mut dx), &mut dw, Some(&mut db)).unwrap();
    assert_close(&format!("{geom:?} dx"), &dx, &want.dx, 1e-12);
    assert_close(&format!("{geom:?} dw"), &dw, &want.dw, 1e-12);
    assert_close(&format!("{geom:?} db"), &db, &want.db, 1e-12);

    // f32, without the bias gradient.
    let f = |v: &[f64]| v.iter().map(|&a| a as f32).collect::<Vec<f32>>();
    let (x32, w32, b32, g32) = (f(&x), f(&w), f(&b), f(&g));
    let mut y32 = vec![f32::NAN; y.len()];
    conv_forward(&geom, &x32, &w32, with_bias.then_some(&b32[..]), &mut y32).unwrap();
    let up = |v: &[f32]| v.iter().map(|&a| f64::from(a)).collect::<Vec<f64>>();
    assert_close(&format!("{geom:?} y32"), &up(&y32), &want.y, 1e-4);
    let mut dx32 = vec![f32::NAN; x.len()];
    let mut dw32 = vec![f32::NAN; w.len()];
    conv_backward(&geom, &g32, &x32, &w32, Some(&mut dx32), &mut dw32, None).unwrap();
    // Without the data gradient: the same weight gradient, `dx` skipped.
    let mut dw32_only = vec![f32::NAN; w.len()];
    conv_backward(&geom, &g32, &x32, &w32, None, &mut dw32_only, None).unwrap();
    assert_eq!(dw32_only, dw32);
    assert_close(&format!("{geom:?} dx32"), &up(&dx32), &want.dx, 1e-4);
    assert_close(&format!("{geom:?} dw32"), &up(&dw32), &want.dw, 1e-4);
}

#[test]
fn batches_split_across_threads_match_the_reference() {
    // LeNet's second layer on 6 images: about 5M multiply-adds, split into groups of images
    // whenever more than one thread is available (the weight gradient summed over groups).
    let geom = ConvGeom::new_2d(6, 20, 50, 1, [12, 12], [5, 5], [1, 1], [0, 0], [1, 1]);
    let s = geom.sizes().unwrap();
    let threads = parallel::num_threads();
    assert_eq!(
        image_parts(&geom, &s, threads),
        threads.min(6),
        "{threads} threads"
    );
    check_geometry(geom, true);
}

#[test]
fn matches_the_direct_reference() {
    let g2 = ConvGeom::new_2d;
    // (batch, channels, filters, groups, input, kernel, stride, pad, dilate)
    check_geometry(g2(2, 3, 4, 1, [5, 6], [3, 3], [1, 1], [1, 1], [1, 1]), true);
    check_geometry(g2(2, 2, 6, 1, [9, 9], [5, 5], [2, 2], [0, 0], [1, 1]), true);
    check_geometry(
        g2(1, 4, 8, 2, [11, 11], [3, 3], [2, 2], [1, 1], [2, 2]),
        true,
    );
    check_geometry(
        g2(2, 4, 6, 2, [5, 5], [3, 3], [1, 1], [1, 1], [1, 1]),
        false,
    );
    check_geometry(g2(1, 3, 3, 3, [4, 7], [2, 3], [3, 2], [2, 0], [1, 2]), true);
    check_geometry(g2(3, 5, 2, 1, [4, 3], [1, 1], [1, 1], [0, 0], [1, 1]), true); // direct
    check_geometry(g2(1, 2, 2, 1, [4, 4], [1, 1], [2, 2], [0, 0], [1, 1]), true); // strided 1×1
    check_geometry(g2(1, 2, 2, 1, [3, 3], [1, 1], [1, 1], [1, 1], [1, 1]), true); // padded 1×1
    check_geometry(g2(1, 1, 1, 1, [2, 2], [3, 3], [1, 1], [2, 2], [1, 1]), true); // pad > input
    check_geometry(g2(2, 2, 3, 1, [7, 5], [7, 5], [1, 1], [0, 0], [1, 1]), true); // one output
    // 1-D (leading dims 1) and 3-D.
    let one_d = conv_geom(
        2,
        3,
        2,
        1,
        [[1, 1, 10], [1, 1, 3], [1, 1, 2], [0, 0, 1], [1, 1, 2]],
    );
    check_geometry(one_d, true);
    let three_d = conv_geom(
        2,
        2,
        4,
        2,
        [[4, 5, 3], [2, 3, 2], [2, 1, 1], [1, 1, 0], [1, 1, 2]],
    );
    check_geometry(three_d, true);
}

#[test]
fn hand_checked_values() {
    // A 3×3 image 1..9 with a 2×2 filter [[1, 0], [0, -1]] and padding 1: each output is
    // x[i-1][j-1] - x[i][j] with zeros outside.
    let geom = ConvGeom::new_2d(1, 1, 1, 1, [3, 3], [2, 2], [1, 1], [1, 1], [1, 1]);
    let x: Vec<f32> = (1..=9).map(|v| v as f32).collect();
    let w = [1.0f32, 0.0, 0.0, -1.0];
    let mut y = vec![0.0f32; geom.output_len()];
    conv_forward(&geom, &x, &w, None, &mut y).unwrap();
    #[rustfmt::skip]
    let want = [
        -1.0, -2.0, -3.0, 0.0,
        -4.0, -4.0, -4.0, 3.0,
        -7.0, -4.0, -4.0, 6.0,
        0.0, 7.0, 8.0, 9.0,
    ];
    assert_eq!(y, want);

    // im2col of a 1-channel 2×3 input, 2×2 kernel, stride 1: columns are the two windows.
    let geom = ConvGeom::new_2d(1, 1, 1, 1, [2, 3], [2, 2], [1, 1], [0, 0], [1, 1]);
    let x = [1.0f64, 2.0, 3.0, 4.0, 5.0, 6.0];
    let mut col = [0.0f64; 8];
    im2col(&geom, &x, &mut col).unwrap();
    assert_eq!(col, [1.0, 2.0, 2.0, 3.0, 4.0, 5.0, 5.0, 6.0]);
    // col2im adds overlapping taps back: the middle column is seen twice.
    let mut dx = [f64::NAN; 6];
    col2im(&geom, &[1.0; 8], &mut dx).unwrap();
    assert_eq!(dx, [1.0, 2.0, 1.0, 1.0, 2.0, 1.0]);
}

#[test]
fn bad_geometry_and_lengths_are_errors() {
    let ok = ConvGeom::new_2d(1, 4, 6, 2, [5, 5], [3, 3], [1, 1], [0, 0], [1, 1]);
    assert_eq!(ok.output().unwrap(), [1, 3, 3]);
    let x = vec![0.0f32; ok.data_len()];
    let w = vec![0.0f32; ok.weight_len()];
    let mut y = vec![0.0f32; ok.output_len()];
    conv_forward(&ok, &x, &w, None, &mut y).unwrap();

    let err = conv_forward(&ok, &x[1..], &w, None, &mut y).unwrap_err();
    assert!(
        matches!(err, ConvError::Length { what: "data", .. }),
        "{err}"
    );
    let err = conv_forward(&ok, &x, &w, Some(&[0.0; 5]), &mut y).unwrap_err();
    assert!(err.to_string().contains("bias"), "{err}");
    let err = conv_forward(&ok, &x, &w, None, &mut y[1..]).unwrap_err();
    assert!(err.to_string().contains("output"), "{err}");

    let groups = ConvGeom { groups: 3, ..ok };
    let err = conv_forward(&groups, &x, &w, None, &mut y).unwrap_err();
    assert!(err.to_string().contains("divisible by num_group"), "{err}");
    let big = ConvGeom {
        kernel: [1, 6, 3],
        ..ok
    };
    assert!(big.output().unwrap_err().to_string().contains("exceeds"));
    let zero = ConvGeom {
        stride: [1, 0, 1],
        ..ok
    };
    assert!(zero.output().unwrap_err().to_string().contains("positive"));
    assert_eq!(zero.output_len(), 0);
    let mut dx = vec![0.0f32; ok.data_len()];
    let mut dw = vec![0.0f32; ok.weight_len()];
    let err = conv_backward(&ok, &y[1..], &x, &w, Some(&mut dx), &mut dw, None).unwrap_err();
    assert!(err.to_string().contains("output gradient"), "{err}");
    let mut col = vec![0.0f32; 3];
    assert!(im2col(&ok, &x[..100], &mut col).is_err());
}

#[test]
fn bias_gradient_row_sums_are_exact_on_integers_and_close_on_reals() {
    // Rows shorter than, equal to and longer than the 16 partial sums, with tails.
    for len in [0usize, 1, 5, 15, 16, 17, 33, 64, 100, 576] {
        let ints: Vec<f32> = (0..len).map(|i| (i % 7) as f32 - 3.0).collect();
        let want: i64 = (0..len).map(|i| (i % 7) as i64 - 3).sum();
        assert_eq!(row_sum(&ints), want as f32, "integers, length {len}");
        let reals = values(len, len as u64);
        let want: f64 = reals.iter().sum();
        let got = row_sum(&to_f32(&reals));
        assert!(
            (f64::from(got) - want).abs() <= 1e-5 * (len as f64).max(1.0),
            "reals, length {len}: {got} against {want}"
        );
        assert_eq!(row_sum(&reals), row_sum(&reals), "deterministic");
    }
}
