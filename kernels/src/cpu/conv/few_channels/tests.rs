//! The few-channel kernels against naive f64 loops: LeNet's first layer, odd image and kernel
//! sizes, 1 to 4 input channels, output-channel and tap counts that leave partial tiles,
//! output rows of exactly 15 (the narrowest served), images whose pixel count leaves a
//! partial chunk, 1-D, batch 1 and several; every instruction set (the portable loop for
//! AVX2 and scalar), 1/2/3 threads bit-identical; the shapes declined; the entries through
//! `conv_forward` / `conv_backward`.

use super::super::{conv_backward, conv_forward};
use super::*;
use crate::cpu::conv::tests::values_f32;
use crate::cpu::test_util::same_bits;

/// (batch, channels, filters, [ih, iw], [kh, kw]): stride 1, no padding.
type Shape = (usize, usize, usize, [usize; 2], [usize; 2]);

const SHAPES: [Shape; 9] = [
    (3, 1, 20, [28, 28], [5, 5]),
    (2, 3, 7, [17, 19], [3, 4]),
    (1, 4, 13, [20, 18], [2, 3]),
    (2, 2, 25, [9, 17], [3, 3]),
    (9, 1, 1, [16, 15], [1, 1]),
    (2, 1, 5, [1, 40], [1, 7]),
    (1, 3, 12, [23, 21], [7, 5]),
    (10, 1, 6, [19, 22], [4, 2]),
    (1, 2, 32, [15, 16], [2, 2]),
];

fn geom_of(&(n, c, f, hw, k): &Shape) -> ConvGeom {
    ConvGeom::new_2d(n, c, f, 1, hw, k, [1, 1], [0, 0], [1, 1])
}

/// The forward output and, per element, the sum of its terms' magnitudes (for tolerances).
fn forward_reference(g: &ConvGeom, x: &[f32], w: &[f32], b: &[f32]) -> (Vec<f64>, Vec<f64>) {
    let [_, oh, ow] = g.output().expect("valid");
    let [_, ih, iw] = g.input;
    let [_, kh, kw] = g.kernel;
    let mut y = Vec::new();
    let mut mag = Vec::new();
    for n in 0..g.batch {
        for f in 0..g.filters {
            for oy in 0..oh {
                for ox in 0..ow {
                    let (mut s, mut m) = (f64::from(b[f]), f64::from(b[f]).abs());
                    for c in 0..g.channels {
                        for ky in 0..kh {
                            for kx in 0..kw {
                                let xv = x[((n * g.channels + c) * ih + oy + ky) * iw + ox + kx];
                                let wv = w[((f * g.channels + c) * kh + ky) * kw + kx];
                                let p = f64::from(xv) * f64::from(wv);
                                s += p;
                                m += p.abs();
                            }
                        }
                    }
                    y.push(s);
                    mag.push(m);
                }
            }
        }
    }
    (y, mag)
}

/// The weight gradient and its terms' magnitudes.
fn wgrad_reference(g: &ConvGeom, dy: &[f32], x: &[f32]) -> (Vec<f64>, Vec<f64>) {
    let [_, oh, ow] = g.output().expect("valid");
    let [_, ih, iw] = g.input;
    let [_, kh, kw] = g.kernel;
    let mut dw = vec![0.0; g.weight_len()];
    let mut mag = vec![0.0; g.weight_len()];
    for n in 0..g.batch {
        for f in 0..g.filters {
            for c in 0..g.channels {
                for ky in 0..kh {
                    for kx in 0..kw {
                        let i = ((f * g.channels + c) * kh + ky) * kw + kx;
                        for oy in 0..oh {
                            for ox in 0..ow {
                                let d = dy[((n * g.filters + f) * oh + oy) * ow + ox];
                                let xv = x[((n * g.channels + c) * ih + oy + ky) * iw + ox + kx];
                                let p = f64::from(d) * f64::from(xv);
                                dw[i] += p;
                                mag[i] += p.abs();
                            }
                        }
                    }
                }
            }
        }
    }
    (dw, mag)
}

/// Reference values in f64 and, per element, the magnitude its tolerance scales with.
type Reference = (Vec<f64>, Vec<f64>);

/// The geometry of `shape`, its input, weights and bias drawn from `seeds`, and the reference
/// output with its magnitudes.
fn forward_case(shape: &Shape, seeds: [u64; 3]) -> (ConvGeom, [Vec<f32>; 3], Reference) {
    let g = geom_of(shape);
    let [sx, sw, sb] = seeds;
    let (x, w, b) = (
        values_f32(g.data_len(), sx),
        values_f32(g.weight_len(), sw),
        values_f32(g.filters, sb),
    );
    let reference = forward_reference(&g, &x, &w, &b);
    (g, [x, w, b], reference)
}

/// Keeps the first result in `first`, and asserts that every later one has its bits.
fn assert_same_as_first(first: &mut Option<Vec<f32>>, got: Vec<f32>, what: &str) {
    match first {
        None => *first = Some(got),
        Some(f) => assert!(same_bits(f, &got), "{what}"),
    }
}

fn assert_close(what: &str, got: &[f32], want: &[f64], mag: &[f64]) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, ((&g, &w), &m)) in got.iter().zip(want).zip(mag).enumerate() {
        let tol = 1e-5 * m + 1e-6;
        assert!(
            (f64::from(g) - w).abs() <= tol,
            "{what}: element {i}: {g} vs {w} (tolerance {tol})"
        );
    }
}

#[test]
fn forward_matches_reference_on_every_isa_and_thread_count() {
    for (k, shape) in SHAPES.iter().enumerate() {
        let k = k as u64;
        let (g, [x, w, b], (want, mag)) = forward_case(shape, [11 + k, 23 + k, 37 + k]);
        let zero = vec![0.0; g.filters];
        let (want_nb, mag_nb) = forward_reference(&g, &x, &w, &zero);
        for isa in Isa::available() {
            let mut first: Option<Vec<f32>> = None;
            for threads in [1, 2, 3] {
                let mut y = vec![f32::NAN; g.output_len()];
                let op = NchwOperands::new(&g, &x, &w, Some(&b));
                let done = forward_with(isa, &op, &mut y, threads).unwrap();
                assert!(done, "{shape:?} is served");
                assert_close(&format!("{shape:?} {isa} {threads}"), &y, &want, &mag);
                let what = format!("{shape:?} {isa}: {threads} threads differ from 1");
                assert_same_as_first(&mut first, y, &what);
            }
            let mut y = vec![f32::NAN; g.output_len()];
            forward_with(isa, &NchwOperands::new(&g, &x, &w, None), &mut y, 2).unwrap();
            assert_close(&format!("{shape:?} {isa} no bias"), &y, &want_nb, &mag_nb);
        }
    }
}

#[test]
fn weight_gradient_matches_reference_on_every_isa_and_thread_count() {
    for (k, shape) in SHAPES.iter().enumerate() {
        let g = geom_of(shape);
        let x = values_f32(g.data_len(), 41 + k as u64);
        let dy = values_f32(g.output_len(), 53 + k as u64);
        let (want, mag) = wgrad_reference(&g, &dy, &x);
        for isa in Isa::available() {
            let mut first: Option<Vec<f32>> = None;
            for threads in [1, 2, 3] {
                let mut dw = vec![f32::NAN; g.weight_len()];
                let done = weight_gradient_with(isa, &g, &dy, &x, &mut dw, threads).unwrap();
                assert!(done, "{shape:?} is served");
                assert_close(&format!("{shape:?} {isa} {threads}"), &dw, &want, &mag);
                let what = format!("{shape:?} {isa}: {threads} threads differ from 1");
                assert_same_as_first(&mut first, dw, &what);
            }
        }
    }
}

#[test]
fn declines_what_it_does_not_serve() {
    let declined = [
        ConvGeom::new_2d(2, 3, 8, 1, [20, 20], [3, 3], [1, 1], [1, 1], [1, 1]),
        ConvGeom::new_2d(2, 3, 8, 1, [40, 40], [3, 3], [2, 2], [0, 0], [1, 1]),
        ConvGeom::new_2d(2, 5, 8, 1, [20, 20], [3, 3], [1, 1], [0, 0], [1, 1]),
        ConvGeom::new_2d(2, 1, 8, 1, [20, 16], [3, 3], [1, 1], [0, 0], [1, 1]),
        ConvGeom::new_2d(2, 1, 8, 1, [20, 20], [3, 3], [1, 1], [0, 0], [2, 2]),
        ConvGeom::new_2d(2, 2, 8, 2, [20, 20], [3, 3], [1, 1], [0, 0], [1, 1]),
    ];
    for g in declined {
        let x = values_f32(g.data_len(), 1);
        let w = values_f32(g.weight_len(), 2);
        let mut y = vec![0.0; g.output_len()];
        let mut dw = vec![0.0; g.weight_len()];
        for isa in Isa::available() {
            assert!(
                !forward_with(isa, &NchwOperands::new(&g, &x, &w, None), &mut y, 1).unwrap(),
                "{g:?}"
            );
            assert!(
                !weight_gradient_with(isa, &g, &y, &x, &mut dw, 1).unwrap(),
                "{g:?}"
            );
        }
    }
}

#[test]
fn wrong_lengths_are_errors() {
    let g = geom_of(&SHAPES[0]);
    let x = values_f32(g.data_len(), 1);
    let w = values_f32(g.weight_len(), 2);
    let mut y = vec![0.0; g.output_len()];
    let mut dw = vec![0.0; g.weight_len()];
    for isa in Isa::available() {
        assert!(forward_with(isa, &NchwOperands::new(&g, &x[1..], &w, None), &mut y, 1).is_err());
        assert!(
            forward_with(
                isa,
                &NchwOperands::new(&g, &x, &w, Some(&w[..3])),
                &mut y,
                1
            )
            .is_err()
        );
        assert!(weight_gradient_with(isa, &g, &y[1..], &x, &mut dw, 1).is_err());
        assert!(weight_gradient_with(isa, &g, &y, &x, &mut dw[1..], 1).is_err());
    }
}

#[test]
fn conv_entries_match_reference() {
    for (k, shape) in SHAPES.iter().enumerate() {
        let (g, [x, w, b], (want, mag)) = forward_case(shape, [61, 67, 71].map(|s| s + k as u64));
        let mut y = vec![f32::NAN; g.output_len()];
        conv_forward(&g, &x, &w, Some(&b), &mut y).unwrap();
        assert_close(&format!("{shape:?} conv_forward"), &y, &want, &mag);
        let dy = values_f32(g.output_len(), 73 + k as u64);
        let (want, mag) = wgrad_reference(&g, &dy, &x);
        let mut dw = vec![f32::NAN; g.weight_len()];
        let mut db = vec![f32::NAN; g.filters];
        conv_backward(&g, &dy, &x, &w, None, &mut dw, Some(&mut db)).unwrap();
        assert_close(&format!("{shape:?} conv_backward"), &dw, &want, &mag);
        let sums: Vec<f64> = (0..g.filters)
            .map(|f| {
                dy.chunks_exact(g.output_len() / g.batch)
                    .flat_map(|image| image.chunks_exact(g.output_len() / g.batch / g.filters))
                    .skip(f)
                    .step_by(g.filters)
                    .flatten()
                    .map(|&v| f64::from(v))
                    .sum()
            })
            .collect();
        for (f, (&got, &want)) in db.iter().zip(&sums).enumerate() {
            assert!((f64::from(got) - want).abs() < 1e-3, "{shape:?} db[{f}]");
        }
    }
}
