//! The blocked element-wise operations against plain loops on NCHW data (bit for bit: the same
//! fused multiply-add and addition), with NaN, ±0 and infinities, channel counts that are not
//! multiples of 16, batch 1 and several, different halos, 1 and several threads and every
//! instruction set; BatchNorm folding against `batch_norm::normalize`; errors.

use super::super::blocked::{from_blocked, to_blocked};
use super::test_util;
use super::*;
use crate::cpu::batch_norm::normalize;
use crate::cpu::softmax::Axis;

/// Pseudo-random values in [-1, 1), with NaN, ±0 and ±∞ sprinkled in when `specials`.
fn values(n: usize, seed: u64, specials: bool) -> Vec<f32> {
    let mut v = test_util::values(n, seed);
    for (i, x) in v.iter_mut().enumerate() {
        *x = match (specials, i % 37) {
            (true, 3) => f32::NAN,
            (true, 7) => -0.0,
            (true, 11) => 0.0,
            (true, 13) => f32::INFINITY,
            (true, 17) => f32::NEG_INFINITY,
            _ => *x,
        };
    }
    v
}

fn blocked(x: &[f32], layout: &Blocked) -> Vec<f32> {
    let mut b = vec![f32::NAN; layout.len()];
    to_blocked(x, layout, &mut b);
    b
}

/// MXNet's relu on one value.
fn relu(y: f32) -> f32 {
    if y <= 0.0 { 0.0 } else { y }
}

/// Checks `out` (in `layout`) against the NCHW `want` bit for bit (every NaN alike), with zero
/// padding channels and halo columns.
fn check_out(out: &[f32], layout: &Blocked, want: &[f32], what: &str) {
    let bits = |v: f32| if v.is_nan() { u32::MAX } else { v.to_bits() };
    let mut nchw = vec![0.0; want.len()];
    from_blocked(out, layout, &mut nchw);
    for (i, (&g, &w)) in nchw.iter().zip(want).enumerate() {
        assert_eq!(bits(g), bits(w), "{what}: [{i}] = {g}, want {w}");
    }
    test_util::assert_zero_outside_data(out, layout, what);
}

#[test]
fn affine_relu_matches_plain_loops() {
    for (n, c, h, w) in [(1, 5, 3, 7), (3, 16, 4, 4), (2, 35, 5, 9)] {
        let x = values(n * c * h * w, 1, true);
        let scale = values(c, 2, false);
        let shift = values(c, 3, false);
        for (in_halo, out_halo) in [(0, 0), (2, 1), (1, 3)] {
            let xl = Blocked::new(n, c, h, w, in_halo);
            let xb = blocked(&x, &xl);
            let ol = xl.with_halo(out_halo);
            for do_relu in [false, true] {
                let want: Vec<f32> = x
                    .iter()
                    .enumerate()
                    .map(|(i, &v)| {
                        let ch = i / (h * w) % c;
                        let y = v.mul_add(scale[ch], shift[ch]);
                        if do_relu { relu(y) } else { y }
                    })
                    .collect();
                for isa in Isa::available() {
                    for threads in [1, 3] {
                        let mut out = vec![f32::NAN; ol.len()];
                        affine_relu_with(
                            isa, &xb, &xl, &scale, &shift, do_relu, &mut out, &ol, threads,
                        )
                        .unwrap();
                        check_out(&out, &ol, &want, &format!("affine {xl:?} {isa} {threads}"));
                    }
                }
            }
        }
    }
}

#[test]
fn add_relu_matches_plain_loops_and_splits_across_threads() {
    // The last shape is large enough (256 Ki floats) to be split across threads.
    for (n, c, h, w) in [(1, 5, 3, 7), (2, 35, 5, 9), (2, 64, 32, 32)] {
        let a = values(n * c * h * w, 4, true);
        let b = values(n * c * h * w, 5, true);
        for (ha, hb, ho) in [(0, 0, 0), (1, 2, 0), (2, 0, 1)] {
            let (al, bl) = (Blocked::new(n, c, h, w, ha), Blocked::new(n, c, h, w, hb));
            let (ab, bb) = (blocked(&a, &al), blocked(&b, &bl));
            let ol = al.with_halo(ho);
            for do_relu in [false, true] {
                let want: Vec<f32> = a
                    .iter()
                    .zip(&b)
                    .map(|(&x, &y)| if do_relu { relu(x + y) } else { x + y })
                    .collect();
                for isa in Isa::available() {
                    for threads in [1, 2, 5] {
                        let mut out = vec![f32::NAN; ol.len()];
                        add_relu_with(isa, &ab, &al, &bb, &bl, do_relu, &mut out, &ol, threads)
                            .unwrap();
                        check_out(&out, &ol, &want, &format!("add {al:?} {isa} {threads}"));
                    }
                }
            }
        }
    }
}

#[test]
fn fold_batch_norm_against_normalize() {
    let c = 40;
    let gamma: Vec<f32> = values(c, 6, false).iter().map(|v| v * 3.0).collect();
    let beta = values(c, 7, false);
    let mean: Vec<f32> = values(c, 8, false).iter().map(|v| v * 4.0).collect();
    let var: Vec<f32> = values(c, 9, false).iter().map(|v| v.abs() * 2.0).collect();
    for (fix_gamma, eps) in [(false, 1e-5), (true, 1e-3), (false, 2e-5)] {
        let (scale, shift) = fold_batch_norm(&gamma, &beta, &mean, &var, eps, fix_gamma).unwrap();
        let mut invstd = vec![0.0f32; c];
        inverse_std(&var, eps, &mut invstd);
        let g = (!fix_gamma).then_some(&gamma[..]);
        // The scale is normalize's factor, bit for bit: normalize(1) with mean 0, beta 0.
        let ax = Axis::new(1, c, 1);
        let mut factor = vec![0.0f32; c];
        normalize(
            &vec![1.0; c],
            &mut factor,
            ax,
            &vec![0.0; c],
            &invstd,
            g,
            &vec![0.0; c],
        );
        assert_eq!(scale, factor);
        // Outputs: within 5·2⁻²⁴·M, M = max(|y|, |(x − mean)·scale|, |shift|).
        let (n, inner) = (3, 500);
        let ax = Axis::new(n, c, inner);
        let x: Vec<f32> = values(n * c * inner, 10, false)
            .iter()
            .map(|v| v * 5.0)
            .collect();
        let mut want = vec![0.0f32; x.len()];
        normalize(&x, &mut want, ax, &mean, &invstd, g, &beta);
        let (mut same, mut within) = (0, 0);
        let mut worst = 0.0f64;
        for (i, (&xv, &wv)) in x.iter().zip(&want).enumerate() {
            let ch = i / inner % c;
            let got = xv.mul_add(scale[ch], shift[ch]);
            let big = f64::from(wv)
                .abs()
                .max(((f64::from(xv) - f64::from(mean[ch])) * f64::from(scale[ch])).abs())
                .max(f64::from(shift[ch]).abs());
            let diff = (f64::from(got) - f64::from(wv)).abs() / (big * 2f64.powi(-24));
            worst = worst.max(diff);
            assert!(diff <= 5.0, "[{i}] {got} vs normalize {wv}: {diff}·2⁻²⁴·M");
            same += usize::from(got == wv);
            let ulp = f64::from(f32::from_bits(wv.abs().to_bits() + 1) - wv.abs());
            within += usize::from((f64::from(got) - f64::from(wv)).abs() <= ulp);
        }
        eprintln!(
            "fold_batch_norm: {same} of {} bit-identical, {within} within 1 ulp, worst {worst:.2}·2⁻²⁴·M",
            x.len()
        );
        assert!(
            same > x.len() / 4,
            "mostly identical: {same} of {}",
            x.len()
        );
    }
    let err = fold_batch_norm(&[1.0; 3], &[0.0; 3], &[0.0; 2], &[1.0; 3], 1e-3, false);
    assert!(err.unwrap_err().to_string().contains("moving mean has 2"));
}

#[test]
fn mismatched_layouts_and_buffers_are_errors() {
    let l = Blocked::new(1, 20, 3, 4, 1);
    let x = vec![0.0; l.len()];
    let mut out = vec![0.0; l.len()];
    let s = [1.0f32; 20];
    let err = |r: Result<(), ConvError>| r.unwrap_err().to_string();
    let other = Blocked { w: 5, ..l };
    let e = err(affine_relu(&x, &other, &s, &s, true, &mut out, &l, 1));
    assert!(e.contains("not the output's shape"), "{e}");
    let e = err(affine_relu(&x, &l, &s[1..], &s, true, &mut out, &l, 1));
    assert!(e.contains("scale has 19"), "{e}");
    let e = err(affine_relu(&x, &l, &s, &s, true, &mut out[1..], &l, 1));
    assert!(e.contains("output has"), "{e}");
    let e = err(add_relu(&x[1..], &l, &x, &l, false, &mut out, &l, 1));
    assert!(e.contains("first addend has"), "{e}");
    let c21 = Blocked { c: 21, ..l };
    let e = err(add_relu(&x, &l, &x, &c21, false, &mut out, &l, 1));
    assert!(e.contains("second addend layout"), "{e}");
}
