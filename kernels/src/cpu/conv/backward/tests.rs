//! The blocked backward kernels against the f64 im2col backward (the reference): strides 1, 2
//! and 3, padding (including more than the kernel reaches), dilation, 1×1 to 7×7 and
//! rectangular kernels, odd sizes, channel counts that are not multiples of 16, batch 1 and
//! several, blocked and plain weight-gradient inputs with extra halos, `dx` skipped, the bias
//! gradient, 1/2/3 threads (bit-identical), and every instruction set this CPU has; then
//! `conv_backward::<f32>` end to end.

use super::super::blocked::to_blocked;
use super::super::winograd::Variant;
use super::super::winograd::wgrad::WinogradWgrad;
use super::super::{conv_backward, conv_backward_im2col};
use super::data::phases;
use super::weight::{MIN_WORK_PER_THREAD, TILE};
use super::*;
use crate::cpu::conv::tests::values_f32;

mod wgrad5;

fn up(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| f64::from(x)).collect()
}

/// A 2-D convolution with one group: (batch, channels, filters, input, kernel, stride, pad,
/// dilate).
const fn geom(
    n: usize,
    c: usize,
    f: usize,
    hw: [usize; 2],
    [k, s, p, d]: [[usize; 2]; 4],
) -> ConvGeom {
    ConvGeom {
        batch: n,
        channels: c,
        filters: f,
        groups: 1,
        input: [1, hw[0], hw[1]],
        kernel: [1, k[0], k[1]],
        stride: [1, s[0], s[1]],
        pad: [0, p[0], p[1]],
        dilate: [1, d[0], d[1]],
    }
}

/// The reference gradients (dx, dw, db) in f64 by im2col on one thread.
fn reference(g: &ConvGeom, dy: &[f32], x: &[f32], w: &[f32]) -> [Vec<f64>; 3] {
    let mut dx = vec![f64::NAN; g.data_len()];
    let mut dw = vec![f64::NAN; g.weight_len()];
    let mut db = vec![f64::NAN; g.filters];
    conv_backward_im2col(
        g,
        &up(dy),
        &up(x),
        &up(w),
        Some(&mut dx),
        &mut dw,
        Some(&mut db),
        1,
    )
    .unwrap();
    [dx, dw, db]
}

/// `got` within `tol · terms · max|want|` of `want` element by element (`terms` products are
/// summed into each element, each rounded to f32).
fn assert_near(what: &str, got: &[f32], want: &[f64], terms: usize) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    let scale = want.iter().fold(1.0f64, |m, v| m.max(v.abs()));
    let tol = 2e-7 * (terms as f64).sqrt().max(1.0) * 8.0 * scale;
    for (i, (&a, &b)) in got.iter().zip(want).enumerate() {
        assert!(
            (f64::from(a) - b).abs() <= tol,
            "{what}[{i}]: {a} vs reference {b} (tolerance {tol})"
        );
    }
}

/// Runs the blocked backward of `g` with `isa` and every thread count 1..=3: each matches the
/// reference, and all are bit-identical. `plain` forces the weight gradient's input layout
/// (`None`: as `backward_nchw_with` picks it). Returns the 1-thread `(dx, dw)`.
fn check(g: &ConvGeom, isa: Isa, plain: Option<bool>) -> (Vec<f32>, Vec<f32>) {
    let [_, oh, ow] = g.output().unwrap();
    let x = values_f32(g.data_len(), 1);
    let w = values_f32(g.weight_len(), 2);
    let dy = values_f32(g.output_len(), 3);
    let [rdx, rdw, _] = reference(g, &dy, &x, &w);
    let taps = g.kernel[1] * g.kernel[2];
    let mut first: Option<(Vec<f32>, Vec<f32>)> = None;
    for threads in 1..=3 {
        let mut dx = vec![f32::NAN; g.data_len()];
        let mut dw = vec![f32::NAN; g.weight_len()];
        match plain {
            None => {
                let served =
                    backward_nchw_with(isa, g, &dy, &x, &w, Some(&mut dx), Some(&mut dw), threads)
                        .unwrap();
                assert!(served, "{g:?} served");
            }
            Some(plain) => {
                // Extra halos: 2 more on the head gradient, 1 on the input.
                let halo = data_gradient_halo(g).unwrap() + 2;
                let dl = Blocked::new(g.batch, g.filters, oh, ow, halo);
                let mut dyb = vec![f32::NAN; dl.len()];
                to_blocked(&dy, &dl, &mut dyb);
                let xl = Blocked::new(g.batch, g.channels, g.input[1], g.input[2], 1);
                let mut xb = vec![f32::NAN; xl.len()];
                to_blocked(&x, &xl, &mut xb);
                let input = if plain {
                    WgradInput::Nchw(&x)
                } else {
                    WgradInput::Blocked(&xb, xl)
                };
                weight_gradient(isa, g, input, &dyb, &dl, &mut dw, threads).unwrap();
                data_gradient(isa, g, &dyb, &dl, &w, &mut dx, threads).unwrap();
            }
        }
        assert_near(
            &format!("{g:?} {isa} {threads}t dx"),
            &dx,
            &rdx,
            g.filters * taps,
        );
        assert_near(
            &format!("{g:?} {isa} {threads}t dw"),
            &dw,
            &rdw,
            g.batch * oh * ow,
        );
        match &first {
            None => first = Some((dx, dw)),
            Some((dx1, dw1)) => {
                assert!(
                    dx.iter().zip(dx1).all(|(a, b)| a.to_bits() == b.to_bits()),
                    "{g:?} {isa}: dx with {threads} threads differs from 1 thread"
                );
                assert!(
                    dw.iter().zip(dw1).all(|(a, b)| a.to_bits() == b.to_bits()),
                    "{g:?} {isa}: dw with {threads} threads differs from 1 thread"
                );
            }
        }
    }
    first.unwrap()
}

/// The geometries of the kernel-level tests: (batch, channels, filters, input, kernel,
/// stride, pad, dilate).
fn cases() -> Vec<ConvGeom> {
    vec![
        // ResNet-like 3×3 / 1 pad 1, a channel count past one block.
        geom(2, 17, 20, [7, 9], [[3, 3], [1, 1], [1, 1], [1, 1]]),
        // 3×3 / 2 pad 1 on even and odd sizes.
        geom(2, 16, 33, [8, 8], [[3, 3], [2, 2], [1, 1], [1, 1]]),
        geom(1, 5, 7, [9, 11], [[3, 3], [2, 2], [1, 1], [1, 1]]),
        // 1×1 / 2 and 1×1 / 1.
        geom(3, 20, 18, [7, 6], [[1, 1], [2, 2], [0, 0], [1, 1]]),
        geom(2, 32, 40, [5, 5], [[1, 1], [1, 1], [0, 0], [1, 1]]),
        // 5×5 without padding (LeNet), 7×7 / 2 pad 3 (a stem), on few channels.
        geom(3, 3, 20, [12, 12], [[5, 5], [1, 1], [0, 0], [1, 1]]),
        geom(2, 3, 16, [15, 14], [[7, 7], [2, 2], [3, 3], [1, 1]]),
        // Dilation, rectangular kernels, uneven padding needs, stride 3, pad beyond the
        // kernel's reach.
        geom(1, 9, 12, [11, 10], [[3, 3], [1, 1], [2, 2], [2, 2]]),
        geom(2, 6, 5, [9, 8], [[3, 2], [2, 1], [2, 1], [2, 1]]),
        geom(1, 4, 17, [10, 11], [[5, 3], [3, 2], [1, 2], [1, 1]]),
        geom(1, 2, 3, [4, 4], [[3, 3], [1, 1], [3, 3], [1, 1]]),
        // Output one pixel wide; input narrower than the stride in phases.
        geom(2, 18, 3, [5, 3], [[5, 3], [1, 1], [0, 0], [1, 1]]),
        geom(1, 16, 16, [2, 3], [[1, 1], [2, 2], [0, 0], [1, 1]]),
    ]
}

#[test]
fn kernels_match_the_reference_on_every_isa_and_thread_count() {
    for g in cases() {
        for isa in Isa::available() {
            let (dx, dw) = check(&g, isa, Some(false));
            let (dx_p, dw_p) = check(&g, isa, Some(true));
            // The data gradient does not depend on the weight gradient's input layout.
            assert_eq!(dx, dx_p, "{g:?} {isa}");
            // Plain and blocked lanes sum the same products in the same pixel order.
            assert_eq!(dw, dw_p, "{g:?} {isa}");
        }
    }
}

#[test]
fn instruction_sets_agree_bit_for_bit() {
    for g in cases() {
        let runs: Vec<(Vec<f32>, Vec<f32>)> = Isa::available()
            .into_iter()
            .map(|isa| check(&g, isa, None))
            .collect();
        for r in &runs[1..] {
            // The weight gradient is the same chain of fused multiply-adds everywhere; the
            // data gradient's direct kernels are too.
            assert_eq!(r.1, runs[0].1, "{g:?} dw");
            assert_eq!(r.0, runs[0].0, "{g:?} dx");
        }
    }
}

#[test]
fn phases_cover_the_strided_data_gradient() {
    // 3×3 / 2 pad 1 on 56 → 28: a 1-tap phase (the middle tap) and a 2-tap phase that
    // needs one more padding on the right than the left.
    let p = phases(56, 28, 3, 2, 1, 1);
    assert_eq!(p.len(), 2);
    assert_eq!((p[0].first, p[0].count, &p[0].taps[..]), (0, 28, &[1][..]));
    assert_eq!((p[0].pad, p[0].skip), (0, 0));
    assert_eq!(
        (p[1].first, p[1].count, &p[1].taps[..]),
        (1, 28, &[0, 2][..])
    );
    assert_eq!((p[1].pad, p[1].skip, p[1].dilate), (1, 1, 1));
    // 1×1 / 2: the odd pixels get nothing.
    let p = phases(7, 4, 1, 2, 0, 1);
    assert_eq!(p[0].taps, vec![0]);
    assert!(p[1].taps.is_empty());
    assert_eq!(p[1].count, 3);
    // Stride 1: one phase, the classic padding dilate·(k−1) − pad.
    let p = phases(10, 8, 5, 1, 1, 1);
    assert_eq!((p.len(), p[0].pad, p[0].skip), (1, 3, 0));
    // Dilation 2 with stride 2: every second tap, dilation 1 within the phase.
    let p = phases(12, 4, 5, 2, 2, 2);
    assert_eq!(p[0].taps, vec![0, 1, 2, 3, 4]);
    assert_eq!(p[0].dilate, 1);
    assert!(p[1].taps.is_empty());
}

#[test]
fn conv_backward_f32_end_to_end() {
    // Through the public entry point: whichever path serves each gradient of each shape, f32
    // within rounding of the f64 reference, with and without `dx` and the bias gradient. With
    // AVX-512: blocked `dw` and `dx` by the transposed 5×5 Winograd (else fused GEMM + col2im)
    // unless MXR_WINOGRAD=0; im2col; blocked (`dx` through Winograd unless MXR_WINOGRAD=0);
    // blocked; im2col; blocked `dw`.
    let shapes = [
        geom(4, 20, 50, [12, 12], [[5, 5], [1, 1], [0, 0], [1, 1]]),
        geom(8, 1, 20, [28, 28], [[5, 5], [1, 1], [0, 0], [1, 1]]),
        geom(2, 32, 48, [16, 16], [[3, 3], [1, 1], [1, 1], [1, 1]]),
        geom(3, 32, 64, [18, 18], [[3, 3], [2, 2], [1, 1], [1, 1]]),
        geom(2, 24, 40, [17, 17], [[1, 1], [2, 2], [0, 0], [1, 1]]),
        geom(1, 3, 16, [40, 40], [[7, 7], [2, 2], [3, 3], [1, 1]]),
    ];
    if Isa::current() >= Isa::Avx512 {
        let paths: Vec<(bool, bool)> = shapes
            .iter()
            .map(|g| (weight_gradient_pays(g), data_gradient_pays(g)))
            .collect();
        let (b, i) = (true, false);
        let wino = super::super::winograd::enabled();
        assert_eq!(paths, [(b, wino), (i, i), (b, b), (b, b), (i, i), (b, i)]);
    }
    for g in shapes {
        let [_, oh, ow] = g.output().unwrap();
        let x = values_f32(g.data_len(), 4);
        let w = values_f32(g.weight_len(), 5);
        let dy = values_f32(g.output_len(), 6);
        let [rdx, rdw, rdb] = reference(&g, &dy, &x, &w);
        let taps = g.kernel[1] * g.kernel[2];
        for (with_dx, with_db) in [(true, true), (false, false), (true, false)] {
            let mut dx = vec![f32::NAN; g.data_len()];
            let mut dw = vec![f32::NAN; g.weight_len()];
            let mut db = vec![f32::NAN; g.filters];
            conv_backward(
                &g,
                &dy,
                &x,
                &w,
                with_dx.then_some(&mut dx[..]),
                &mut dw,
                with_db.then_some(&mut db[..]),
            )
            .unwrap();
            assert_near(&format!("{g:?} dw"), &dw, &rdw, g.batch * oh * ow);
            if with_dx {
                assert_near(&format!("{g:?} dx"), &dx, &rdx, g.filters * taps);
            } else {
                assert!(dx.iter().all(|v| v.is_nan()), "{g:?}: dx untouched");
            }
            if with_db {
                assert_near(&format!("{g:?} db"), &db, &rdb, g.batch * oh * ow);
            } else {
                assert!(db.iter().all(|v| v.is_nan()), "{g:?}: db untouched");
            }
        }
    }
}

#[test]
fn unserved_geometry_and_bad_buffers() {
    // Groups and 3-D are left to im2col.
    let grouped = ConvGeom::new_2d(1, 4, 4, 2, [5, 5], [3, 3], [1, 1], [1, 1], [1, 1]);
    let x = vec![0.0f32; grouped.data_len()];
    let w = vec![0.0f32; grouped.weight_len()];
    let dy = vec![0.0f32; grouped.output_len()];
    let mut dw = vec![0.0f32; grouped.weight_len()];
    assert!(
        !backward_nchw_with(Isa::Scalar, &grouped, &dy, &x, &w, None, Some(&mut dw), 1).unwrap()
    );
    assert!(!weight_gradient_pays(&grouped) && !data_gradient_pays(&grouped));
    let dl = Blocked::new(1, 4, 5, 5, 1);
    let dyb = vec![0.0f32; dl.len()];
    let err = weight_gradient(
        Isa::Scalar,
        &grouped,
        WgradInput::Nchw(&x),
        &dyb,
        &dl,
        &mut dw,
        1,
    )
    .unwrap_err();
    assert!(err.to_string().contains("one group"), "{err}");

    let g = geom(1, 4, 4, [5, 5], [[3, 3], [1, 1], [1, 1], [1, 1]]);
    let x = vec![0.0f32; g.data_len()];
    let w = vec![0.0f32; g.weight_len()];
    let mut dw = vec![0.0f32; g.weight_len()];
    let mut dx = vec![0.0f32; g.data_len()];
    // A head gradient without the halo the data gradient needs.
    let thin = Blocked::new(1, 4, 5, 5, 0);
    let dyb = vec![0.0f32; thin.len()];
    let err = data_gradient(Isa::Scalar, &g, &dyb, &thin, &w, &mut dx, 1).unwrap_err();
    assert!(err.to_string().contains("halo"), "{err}");
    // Wrong shapes and lengths.
    let wrong = Blocked::new(1, 5, 5, 5, 1);
    let dyb = vec![0.0f32; wrong.len()];
    assert!(
        weight_gradient(
            Isa::Scalar,
            &g,
            WgradInput::Nchw(&x),
            &dyb,
            &wrong,
            &mut dw,
            1
        )
        .is_err()
    );
    let ok = Blocked::new(1, 4, 5, 5, 1);
    let dyb = vec![0.0f32; ok.len()];
    let err = weight_gradient(
        Isa::Scalar,
        &g,
        WgradInput::Nchw(&x[1..]),
        &dyb,
        &ok,
        &mut dw,
        1,
    )
    .unwrap_err();
    assert!(
        matches!(err, ConvError::Length { what: "data", .. }),
        "{err}"
    );
    let err = weight_gradient(
        Isa::Scalar,
        &g,
        WgradInput::Nchw(&x),
        &dyb,
        &ok,
        &mut dw[1..],
        1,
    )
    .unwrap_err();
    assert!(err.to_string().contains("weight gradient"), "{err}");
    let err = data_gradient(Isa::Scalar, &g, &dyb, &ok, &w, &mut dx[2..], 1).unwrap_err();
    assert!(err.to_string().contains("data gradient"), "{err}");
    let xl = Blocked::new(1, 4, 5, 4, 0);
    let xb = vec![0.0f32; xl.len()];
    let err = weight_gradient(
        Isa::Scalar,
        &g,
        WgradInput::Blocked(&xb, xl),
        &dyb,
        &ok,
        &mut dw,
        1,
    )
    .unwrap_err();
    assert!(err.to_string().contains("input layout"), "{err}");
    let dyn_ = vec![0.0f32; g.output_len()];
    let err = backward_nchw_with(Isa::Scalar, &g, &dyn_[1..], &x, &w, None, Some(&mut dw), 1)
        .unwrap_err();
    assert!(err.to_string().contains("output gradient"), "{err}");
}

#[test]
fn which_shapes_take_the_blocked_kernels() {
    let g = ConvGeom::new_2d;
    let lenet1 = g(64, 1, 20, 1, [28, 28], [5, 5], [1, 1], [0, 0], [1, 1]);
    let lenet2 = g(64, 20, 50, 1, [12, 12], [5, 5], [1, 1], [0, 0], [1, 1]);
    let stem = g(16, 3, 64, 1, [112, 112], [7, 7], [2, 2], [3, 3], [1, 1]);
    let l4 = g(16, 512, 512, 1, [4, 4], [3, 3], [1, 1], [1, 1], [1, 1]);
    let l4_one = g(1, 512, 512, 1, [7, 7], [3, 3], [1, 1], [1, 1], [1, 1]);
    let l2s2 = g(16, 64, 128, 1, [28, 28], [3, 3], [2, 2], [1, 1], [1, 1]);
    let down = g(16, 64, 128, 1, [28, 28], [1, 1], [2, 2], [0, 0], [1, 1]);
    let pointwise = g(8, 512, 512, 1, [14, 14], [1, 1], [1, 1], [0, 0], [1, 1]);
    let grouped = g(16, 64, 64, 2, [28, 28], [3, 3], [1, 1], [1, 1], [1, 1]);
    let close = |a: f64, b: f64| (a - b).abs() < 1e-9;
    // 25 of 32 lanes, 20 of 32 filters; 147 of 160 lanes.
    assert!(close(
        weight_gradient_efficiency(&lenet1),
        25.0 / 32.0 * 20.0 / 32.0
    ));
    assert!(close(weight_gradient_efficiency(&stem), 147.0 / 160.0));
    // 50 of 64 channels, 20 of 32 filters, 40 of 60 column taps inside `dy`.
    let want = 50.0 / 64.0 * 20.0 / 32.0 * 40.0 / 60.0;
    assert!(close(data_gradient_efficiency(&lenet2), want));
    assert!(close(data_gradient_efficiency(&l4), 10.0 / 12.0));
    assert!(close(data_gradient_efficiency(&l2s2), 41.0 / 42.0));
    let decisions = |geom: &ConvGeom| (weight_gradient_pays(geom), data_gradient_pays(geom));
    if Isa::current() < Isa::Avx512 {
        for geom in [lenet2, stem, l4, l2s2] {
            assert_eq!(decisions(&geom), (false, false), "{geom:?}");
        }
        return;
    }
    assert_eq!(decisions(&lenet1), (false, false));
    // The data gradient by the transposed 5×5 Winograd ([`super::super::winograd::dgrad`]).
    let wino = super::super::winograd::enabled();
    assert_eq!(decisions(&lenet2), (true, wino));
    assert_eq!(decisions(&stem), (true, false));
    assert_eq!(decisions(&l4), (true, true));
    assert_eq!(decisions(&l2s2), (true, true));
    assert_eq!(decisions(&l4_one), (false, false));
    assert_eq!(decisions(&down), (false, false));
    assert_eq!(decisions(&pointwise), (false, false));
    assert_eq!(decisions(&grouped), (false, false));
}

#[test]
fn weight_gradient_is_deterministic_with_two_threads() {
    // Shapes large enough that the tiles really split over 2 (and 3) threads
    // (`MIN_WORK_PER_THREAD`): blocked lanes (3×3, 48 → 48 channels) and plain lanes (a 7×7/2
    // stem on 3 channels). Two runs with 2 threads give the same bits, and the same as 1 and 3
    // threads, on every instruction set; all within rounding of the reference.
    let shapes = [
        geom(4, 48, 48, [28, 28], [[3, 3], [1, 1], [1, 1], [1, 1]]),
        geom(2, 3, 32, [56, 56], [[7, 7], [2, 2], [3, 3], [1, 1]]),
    ];
    for g in shapes {
        let [_, oh, ow] = g.output().unwrap();
        let plain = wgrad_prefers_nchw(&g);
        let taps = g.kernel[1] * g.kernel[2];
        let (fb, cb) = (g.filters.div_ceil(BLOCK), g.channels.div_ceil(BLOCK));
        let work = if plain {
            g.batch * fb * (g.channels * taps).div_ceil(BLOCK) * oh * ow * TILE
        } else {
            g.batch * fb * cb * taps * oh * ow * BLOCK
        };
        assert!(work >= 3 * MIN_WORK_PER_THREAD, "{g:?}: too small to split");
        let x = values_f32(g.data_len(), 7);
        let dy = values_f32(g.output_len(), 8);
        let w = values_f32(g.weight_len(), 9);
        let [_, rdw, _] = reference(&g, &dy, &x, &w);
        let dl = Blocked::new(g.batch, g.filters, oh, ow, 0);
        let mut dyb = vec![0.0; dl.len()];
        to_blocked(&dy, &dl, &mut dyb);
        let xl = Blocked::new(g.batch, g.channels, g.input[1], g.input[2], 0);
        let mut xb = vec![0.0; xl.len()];
        to_blocked(&x, &xl, &mut xb);
        let input = if plain {
            WgradInput::Nchw(&x)
        } else {
            WgradInput::Blocked(&xb, xl)
        };
        for isa in Isa::available() {
            let run = |threads: usize| {
                let mut dw = vec![f32::NAN; g.weight_len()];
                weight_gradient(isa, &g, input, &dyb, &dl, &mut dw, threads).unwrap();
                dw
            };
            let first = run(2);
            assert_near(&format!("{g:?} {isa} dw"), &first, &rdw, g.batch * oh * ow);
            for threads in [2, 1, 3] {
                let again = run(threads);
                assert!(
                    again
                        .iter()
                        .zip(&first)
                        .all(|(a, b)| a.to_bits() == b.to_bits()),
                    "{g:?} {isa}: dw with {threads} threads differs from the first 2-thread run"
                );
            }
        }
    }
}

/// The Winograd weight gradient of `g` with `variant`, `isa` and `threads` from `x` and `dy`
/// (NCHW), converted to the blocked layout with halos of `halos` (input, head gradient).
fn winograd_dw(
    g: &ConvGeom,
    variant: Variant,
    isa: Isa,
    threads: usize,
    (x, dy): (&[f32], &[f32]),
    halos: [usize; 2],
) -> Vec<f32> {
    let [_, oh, ow] = g.output().unwrap();
    let plan = WinogradWgrad::with_variant(g, variant).unwrap().unwrap();
    let xl = Blocked::new(g.batch, g.channels, g.input[1], g.input[2], halos[0]);
    let mut xb = vec![f32::NAN; xl.len()];
    to_blocked(x, &xl, &mut xb);
    let dl = Blocked::new(g.batch, g.filters, oh, ow, halos[1]);
    let mut dyb = vec![f32::NAN; dl.len()];
    to_blocked(dy, &dl, &mut dyb);
    let mut dw = vec![f32::NAN; g.weight_len()];
    plan.run(isa, &xb, &xl, &dyb, &dl, &mut dw, threads)
        .unwrap();
    dw
}

/// The direct weight gradient of `g` (blocked input, no halo) on one thread.
fn direct_dw(g: &ConvGeom, x: &[f32], dy: &[f32]) -> Vec<f32> {
    let [_, oh, ow] = g.output().unwrap();
    let xl = Blocked::new(g.batch, g.channels, g.input[1], g.input[2], 0);
    let mut xb = vec![0.0; xl.len()];
    to_blocked(x, &xl, &mut xb);
    let dl = Blocked::new(g.batch, g.filters, oh, ow, 0);
    let mut dyb = vec![0.0; dl.len()];
    to_blocked(dy, &dl, &mut dyb);
    let mut dw = vec![f32::NAN; g.weight_len()];
    let input = WgradInput::Blocked(&xb, xl);
    weight_gradient_direct(Isa::current(), g, input, &dyb, &dl, &mut dw, 1).unwrap();
    dw
}

/// The f64 reference weight gradient of `g` (im2col, no `dx`).
fn reference_dw(g: &ConvGeom, x: &[f32], dy: &[f32], threads: usize) -> Vec<f64> {
    let w = vec![0.0f64; g.weight_len()];
    let mut dw = vec![f64::NAN; g.weight_len()];
    conv_backward_im2col(g, &up(dy), &up(x), &w, None, &mut dw, None, threads).unwrap();
    dw
}

/// `max |got − want| / max |want|`.
fn max_rel_error(got: &[f32], want: &[f64]) -> f64 {
    let scale = want.iter().fold(f64::MIN_POSITIVE, |m, v| m.max(v.abs()));
    let worst = got
        .iter()
        .zip(want)
        .fold(0.0f64, |m, (&a, &b)| m.max((f64::from(a) - b).abs()));
    worst / scale
}

#[test]
fn winograd_weight_gradient_matches_the_reference_on_every_isa_and_thread_count() {
    // Odd sizes, padding 0, 1, 2 and uneven, channel counts that are not multiples of 16,
    // batch 1 and more, extra halos, and a layer large enough for several blocks of tiles.
    let p = |py: usize, px: usize| [[3, 3], [1, 1], [py, px], [1, 1]];
    let cases = [
        (geom(1, 16, 16, [8, 8], p(1, 1)), [0, 0]),
        (geom(2, 17, 20, [7, 9], p(1, 1)), [1, 2]),
        (geom(3, 5, 7, [9, 11], p(0, 0)), [0, 1]),
        (geom(1, 20, 33, [10, 7], p(2, 2)), [2, 0]),
        (geom(2, 16, 18, [5, 6], p(2, 0)), [0, 0]),
        (geom(1, 3, 2, [3, 3], p(0, 0)), [0, 0]),
        (geom(8, 64, 48, [20, 19], p(1, 1)), [0, 0]),
    ];
    for (g, halos) in cases {
        let [_, oh, ow] = g.output().unwrap();
        let x = values_f32(g.data_len(), 11);
        let dy = values_f32(g.output_len(), 12);
        let want = reference_dw(&g, &x, &dy, 1);
        let direct = direct_dw(&g, &x, &dy);
        assert_near(&format!("{g:?} direct"), &direct, &want, g.batch * oh * ow);
        for variant in [Variant::F2x2, Variant::F4x4] {
            let first = winograd_dw(&g, variant, Isa::Scalar, 1, (&x, &dy), halos);
            // F(4×4)'s transforms (entries up to 8) amplify the rounding error.
            let terms = g.batch * oh * ow * if variant == Variant::F4x4 { 16 } else { 1 };
            assert_near(&format!("{g:?} {variant:?}"), &first, &want, terms);
            assert_winograd_dw_everywhere(&g, variant, &first, (&x, &dy), halos);
        }
    }
}

/// Asserts that the Winograd weight gradient of `g` with `variant` is `first` (the portable
/// 1-thread run) bit for bit on every instruction set and 1 to 3 threads.
fn assert_winograd_dw_everywhere(
    g: &ConvGeom,
    variant: Variant,
    first: &[f32],
    ops: (&[f32], &[f32]),
    halos: [usize; 2],
) {
    for isa in Isa::available() {
        for threads in 1..=3 {
            let dw = winograd_dw(g, variant, isa, threads, ops, halos);
            assert!(
                dw.iter()
                    .zip(first)
                    .all(|(a, b)| a.to_bits() == b.to_bits()),
                "{g:?} {variant:?} {isa} {threads}t differs from the portable 1-thread run"
            );
        }
    }
}

#[test]
fn winograd_weight_gradient_is_deterministic_with_two_threads() {
    // Large enough to split over 2 and 3 threads, with several blocks of tiles.
    let g = geom(16, 64, 64, [28, 28], [[3, 3], [1, 1], [1, 1], [1, 1]]);
    let x = values_f32(g.data_len(), 13);
    let dy = values_f32(g.output_len(), 14);
    for variant in [Variant::F2x2, Variant::F4x4] {
        let first = winograd_dw(&g, variant, Isa::current(), 2, (&x, &dy), [0, 0]);
        for threads in [2, 1, 3] {
            let again = winograd_dw(&g, variant, Isa::current(), threads, (&x, &dy), [0, 0]);
            assert!(
                again
                    .iter()
                    .zip(&first)
                    .all(|(a, b)| a.to_bits() == b.to_bits()),
                "{variant:?}: {threads} threads differ from the first 2-thread run"
            );
        }
    }
}

#[test]
fn winograd_weight_gradient_rejects_bad_buffers() {
    let g = geom(2, 16, 16, [6, 6], [[3, 3], [1, 1], [1, 1], [1, 1]]);
    let plan = WinogradWgrad::with_variant(&g, Variant::F2x2)
        .unwrap()
        .unwrap();
    let xl = Blocked::new(2, 16, 6, 6, 0);
    let dl = Blocked::new(2, 16, 6, 6, 1);
    let (xb, dyb) = (vec![0.0f32; xl.len()], vec![0.0f32; dl.len()]);
    let mut dw = vec![0.0f32; g.weight_len()];
    let run = |x: &[f32], xl: &Blocked, dy: &[f32], dl: &Blocked, dw: &mut [f32]| {
        plan.run(Isa::current(), x, xl, dy, dl, dw, 2)
            .unwrap_err()
            .to_string()
    };
    assert!(run(&xb[1..], &xl, &dyb, &dl, &mut dw).contains("data"));
    assert!(run(&xb, &xl, &dyb[1..], &dl, &mut dw).contains("output gradient"));
    assert!(run(&xb, &xl, &dyb, &dl, &mut dw[1..]).contains("weight gradient"));
    let wrong = Blocked::new(2, 16, 6, 5, 0);
    assert!(run(&xb, &wrong, &dyb, &dl, &mut dw).contains("input layout"));
    assert!(run(&xb, &xl, &dyb, &wrong, &mut dw).contains("head gradient layout"));
    // Not served: stride 2, a 7×7 kernel. A 5×5 kernel is served (see the Winograd weight
    // gradient's own tests), but not planned on 64 pixels.
    let s2 = geom(1, 16, 16, [8, 8], [[3, 3], [2, 2], [1, 1], [1, 1]]);
    assert!(
        WinogradWgrad::with_variant(&s2, Variant::F2x2)
            .unwrap()
            .is_none()
    );
    let k7 = geom(1, 16, 16, [8, 8], [[7, 7], [1, 1], [3, 3], [1, 1]]);
    assert!(
        WinogradWgrad::with_variant(&k7, Variant::F4x4)
            .unwrap()
            .is_none()
    );
    let k5 = geom(1, 16, 16, [8, 8], [[5, 5], [1, 1], [2, 2], [1, 1]]);
    assert!(
        WinogradWgrad::with_variant(&k5, Variant::F4x4)
            .unwrap()
            .is_some()
    );
    assert!(super::super::winograd::wgrad::plan(&k5).is_none());
}

/// Prints the max relative error (`max |error| / max |dw|`) against the f64 reference of the
/// direct kernel, `F(2×2)` and `F(4×4)` on ResNet-18's 3×3 stride-1 layers (W9 at 112×112 and
/// batch 16; 224×224 at batch 32). Slow (the f64 reference): `cargo test --release -p
/// mxr-kernels winograd_weight_gradient_accuracy -- --ignored --nocapture`.
#[test]
#[ignore = "slow; prints the accuracy table"]
fn winograd_weight_gradient_accuracy() {
    let p1 = [[3, 3], [1, 1], [1, 1], [1, 1]];
    let layers = [
        ("w9_l1_3x3", geom(16, 64, 64, [28, 28], p1)),
        ("w9_l2_3x3", geom(16, 128, 128, [14, 14], p1)),
        ("w9_l3_3x3", geom(16, 256, 256, [7, 7], p1)),
        ("w9_l4_3x3", geom(16, 512, 512, [4, 4], p1)),
        ("r18_l1_3x3_b32", geom(32, 64, 64, [56, 56], p1)),
        ("r18_l2_3x3_b32", geom(32, 128, 128, [28, 28], p1)),
        ("r18_l3_3x3_b32", geom(32, 256, 256, [14, 14], p1)),
        ("r18_l4_3x3_b32", geom(32, 512, 512, [7, 7], p1)),
    ];
    println!(
        "{:>16} {:>10} {:>10} {:>10}",
        "layer", "direct", "F(2x2)", "F(4x4)"
    );
    for (name, g) in layers {
        let x = values_f32(g.data_len(), 21);
        let dy = values_f32(g.output_len(), 22);
        let want = reference_dw(&g, &x, &dy, 2);
        let direct = max_rel_error(&direct_dw(&g, &x, &dy), &want);
        let wino = |v| {
            let dw = winograd_dw(&g, v, Isa::current(), 2, (&x, &dy), [0, 0]);
            max_rel_error(&dw, &want)
        };
        let (f2, f4) = (wino(Variant::F2x2), wino(Variant::F4x4));
        println!("{name:>16} {direct:>10.2e} {f2:>10.2e} {f4:>10.2e}");
        assert!(f2 < 1e-4 && f4 < 1e-3, "{name}: {f2} {f4}");
    }
}

#[test]
fn winograd_weight_gradient_serves_resnet_layers_through_weight_gradient() {
    use super::super::winograd::wgrad::plan;
    let p1 = [[3, 3], [1, 1], [1, 1], [1, 1]];
    // ResNet-18's 3×3 stride-1 layers at batch 16: F(4×4) (unless MXR_WINOGRAD=0).
    for (hw, c) in [(28, 64), (14, 128), (7, 256), (4, 512)] {
        let g = geom(16, c, c, [hw, hw], p1);
        if super::super::winograd::enabled() {
            assert_eq!(plan(&g).map(|p| p.variant()), Some(Variant::F4x4), "{g:?}");
        } else {
            assert!(plan(&g).is_none());
        }
    }
    // Declined: a 3×3 map (Winograd's tiles overhang), 32 channels, stride 2, few pixels.
    assert!(plan(&geom(64, 64, 64, [3, 3], p1)).is_none());
    assert!(plan(&geom(16, 32, 32, [28, 28], p1)).is_none());
    assert!(
        plan(&geom(
            16,
            64,
            64,
            [28, 28],
            [[3, 3], [2, 2], [1, 1], [1, 1]]
        ))
        .is_none()
    );
    assert!(plan(&geom(1, 64, 64, [8, 8], p1)).is_none());
    if !super::super::winograd::enabled() {
        return;
    }
    // `weight_gradient` and `backward_nchw_with` take it: the same bits as the plan's `run`,
    // within rounding of the reference.
    let g = geom(2, 64, 80, [13, 11], p1);
    let [_, oh, ow] = g.output().unwrap();
    let x = values_f32(g.data_len(), 31);
    let dy = values_f32(g.output_len(), 32);
    let w = values_f32(g.weight_len(), 33);
    let want = reference_dw(&g, &x, &dy, 1);
    let wino = winograd_dw(
        &g,
        plan(&g).unwrap().variant(),
        Isa::current(),
        1,
        (&x, &dy),
        [0, 0],
    );
    assert_near("winograd", &wino, &want, 16 * g.batch * oh * ow);
    let mut dw = vec![f32::NAN; g.weight_len()];
    let mut dx = vec![f32::NAN; g.data_len()];
    for isa in Isa::available() {
        assert!(backward_nchw_with(isa, &g, &dy, &x, &w, Some(&mut dx), Some(&mut dw), 2).unwrap());
        assert_eq!(dw, wino, "{isa}");
    }
    assert_ne!(
        direct_dw(&g, &x, &dy),
        wino,
        "the direct kernel sums in another order"
    );
}
