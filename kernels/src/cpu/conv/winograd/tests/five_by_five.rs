//! The 5×5 Winograd kernels: forward against im2col on every instruction set and thread
//! count, the transposed data gradient both ways, the plans' choices and refusals, bad
//! buffers, and LeNet's second layer through the NCHW entries.

use super::*;

/// The bound each 5×5 variant is held to on the uniform test data (values in [-1, 1), up to
/// 64 channels), relative to `max |y|` (or `max |dx|`). Measured on these cases (forward with
/// every epilogue, data gradient both ways, every ISA and thread count): `F(2×2, 5×5)` up to
/// 1.5e-6, `F(4×4, 5×5)` up to 6.4e-6 (its transforms have entries up to 8 and 21/4); on
/// LeNet's second layer with Xavier-scaled weights, 1.1e-6 and 3.4e-6 forward, 1.3e-6 and
/// 4.2e-6 for the data gradient, against 0.9e-6 for the direct kernel. The bounds leave about
/// 2× margin.
fn tolerance_5x5(variant: Variant) -> f64 {
    match variant {
        Variant::F2x2 => 3e-6,
        Variant::F4x4 => 1.2e-5,
    }
}

/// 5×5 shapes: channels 1, 3, 20, 50 and 64; maps from 5×5 to 16×16 (outputs not multiples of
/// the tile); padding 0 to 4 (also different per axis); batch 1 and 3.
fn cases_5x5() -> Vec<ConvGeom> {
    let g = |n, c, f, hw, p| geom(n, c, f, hw, [5, 5], [1, 1], p, [1, 1]);
    vec![
        g(3, 20, 50, [12, 12], [0, 0]),
        g(1, 1, 3, [5, 5], [0, 0]),
        g(3, 3, 20, [9, 11], [1, 2]),
        g(1, 50, 20, [8, 8], [4, 4]),
        g(3, 64, 17, [16, 16], [2, 2]),
        g(1, 20, 64, [7, 13], [3, 0]),
        g(3, 17, 50, [14, 6], [4, 1]),
    ]
}

#[test]
fn winograd_5x5_matches_im2col_on_every_isa_and_thread_count() {
    for g in cases_5x5() {
        for variant in VARIANTS {
            let plan = WinogradConv::with_kernel_variant(&g, variant)
                .unwrap()
                .expect("5×5 served");
            assert_eq!((plan.kernel(), plan.alpha()), (5, variant.tile() + 4));
            for case in [blocked_case(g), full_case(g)] {
                let ops = Operands::uniform(&g);
                let want = expected(&case, &ops.x, &ops.w, &ops.b, &ops.scale, &ops.res);
                let (input, layout) = blocked_input(&case, &ops.x);
                let mut first: Option<Vec<f32>> = None;
                for isa in Isa::available() {
                    for threads in [1, 2, 3] {
                        let out = run(&plan, &case, &ops, (&input, &layout), isa, threads);
                        let what = format!("{g:?} {variant:?} {isa:?} {threads} threads");
                        let y = unblock(&out, &plan.output_layout(case.out_halo), &what);
                        let err = relative_error(&y, &want);
                        assert!(err <= tolerance_5x5(variant), "{what}: error {err:e}");
                        // The same bits whatever the thread count (per ISA: the vector widths
                        // differ in how the transforms fuse).
                        if threads == 1 {
                            first = Some(y);
                        } else {
                            assert_eq!(first.as_ref(), Some(&y), "{what}: bits differ");
                        }
                    }
                }
            }
        }
    }
}

/// The data gradient `dx` of the forward convolution `g` in `f64` (im2col + GEMM + col2im).
fn dgrad_reference(g: &ConvGeom, dy: &[f32], w: &[f32]) -> Vec<f64> {
    let to64 = |v: &[f32]| v.iter().map(|&x| f64::from(x)).collect::<Vec<_>>();
    let mut dx = vec![0.0f64; g.data_len()];
    let mut dw = vec![0.0f64; g.weight_len()];
    let x = vec![0.0f64; g.data_len()];
    crate::cpu::conv::conv_backward_im2col(
        g,
        &to64(dy),
        &x,
        &to64(w),
        Some(&mut dx),
        &mut dw,
        None,
        1,
    )
    .unwrap();
    dx
}

#[test]
fn winograd_5x5_data_gradient_matches_im2col_both_ways() {
    use super::super::dgrad::WinogradDgrad;
    for g in cases_5x5() {
        let [_, oh, ow] = g.output().unwrap();
        let [_, ih, iw] = g.input;
        let dy = values(g.output_len(), 6);
        let w = values(g.weight_len(), 7);
        let want = dgrad_reference(&g, &dy, &w);
        for variant in VARIANTS {
            // The transposed algorithm (the one training uses), on `dy` with and without a
            // halo, into `dx` with and without one.
            let plan = WinogradDgrad::with_variant(&g, variant)
                .unwrap()
                .expect("5×5 served");
            for (dy_halo, dx_halo) in [(0, 0), (4, 1)] {
                let dy_layout = Blocked::new(g.batch, g.filters, oh, ow, dy_halo);
                let mut dyb = vec![f32::NAN; dy_layout.len()];
                to_blocked(&dy, &dy_layout, &mut dyb);
                let dx_layout = Blocked::new(g.batch, g.channels, ih, iw, dx_halo);
                let mut first: Option<Vec<f32>> = None;
                for isa in Isa::available() {
                    for threads in [1, 2, 3] {
                        let what = format!("{g:?} {variant:?} {isa:?} {threads} threads");
                        let mut packed = vec![f32::NAN; plan.packed_len()];
                        plan.pack_with(isa, &w, &mut packed, threads).unwrap();
                        let mut dx = vec![f32::NAN; dx_layout.len()];
                        plan.run(isa, &dyb, &dy_layout, &packed, &mut dx, &dx_layout, threads)
                            .unwrap();
                        let got = unblock(&dx, &dx_layout, &what);
                        let err = relative_error(&got, &want);
                        assert!(err <= tolerance_5x5(variant), "{what}: error {err:e}");
                        if threads == 1 {
                            first = Some(got);
                        } else {
                            assert_eq!(first.as_ref(), Some(&got), "{what}: bits differ");
                        }
                    }
                }
            }
            // The correlation of the padded `dy` with the flipped transposed weights (what the
            // data gradient falls back to where the transposed plan declines).
            let pg = geom(
                g.batch,
                g.filters,
                g.channels,
                [oh, ow],
                [5, 5],
                [1, 1],
                [4 - g.pad[1], 4 - g.pad[2]],
                [1, 1],
            );
            let corr = WinogradConv::with_kernel_variant(&pg, variant)
                .unwrap()
                .expect("served");
            let halo = corr.input_halo();
            let dy_layout = Blocked::new(g.batch, g.filters, oh, ow, halo);
            let mut dyb = vec![f32::NAN; dy_layout.len()];
            to_blocked(&dy, &dy_layout, &mut dyb);
            for isa in Isa::available() {
                let mut packed = vec![f32::NAN; corr.packed_len()];
                corr.pack_flipped_with(isa, &w, &mut packed, 2).unwrap();
                let out_layout = corr.output_layout(0);
                let mut out = vec![f32::NAN; out_layout.len()];
                let strides = InputStrides::blocked(&dy_layout);
                let ep = Epilogue::default();
                corr.forward_with(
                    isa,
                    &ConvOperands::new(&dyb, &strides, &packed, &ep, &out_layout),
                    &mut out,
                    2,
                )
                .unwrap();
                let what = format!("flipped {g:?} {variant:?} {isa:?}");
                let got = unblock(&out, &out_layout, &what);
                let err = relative_error(&got, &want);
                assert!(err <= tolerance_5x5(variant), "{what}: error {err:e}");
            }
        }
    }
}

#[test]
fn winograd_5x5_plans_choose_and_refuse() {
    use super::super::dgrad::{WinogradDgrad, plan};
    let g5 = |n, c, f, hw, s, p, d| geom(n, c, f, hw, [5, 5], s, p, d);
    let lenet2 = g5(64, 20, 50, [12, 12], [1, 1], [0, 0], [1, 1]);
    // LeNet's second layer: F(4×4, 5×5) both ways (fewer products; packing is cheap next to
    // them), unless MXR_WINOGRAD=0.
    let fwd = plan_nchw(&lenet2);
    let dgrad = plan(&lenet2);
    assert_eq!(fwd.is_some(), enabled());
    assert_eq!(dgrad.is_some(), enabled());
    if let (Some(f), Some(d)) = (fwd, dgrad) {
        assert_eq!((f.kernel(), f.variant()), (5, Variant::F4x4));
        assert_eq!(d.variant(), Variant::F4x4);
        assert_eq!(d.geom(), &lenet2);
    }
    // The 3×3-only constructors (the fused program builds on them) decline 5×5; the weight
    // gradient takes it (F(4×4, 5×5)).
    assert!(WinogradConv::new(&lenet2).unwrap().is_none());
    assert!(
        WinogradConv::with_variant(&lenet2, Variant::F4x4)
            .unwrap()
            .is_none()
    );
    let wgrad = super::super::wgrad::plan(&lenet2);
    assert_eq!(
        wgrad.as_ref().map(|p| (p.kernel(), p.variant())),
        enabled().then_some((5, Variant::F4x4))
    );
    // Not served: stride 2, dilation 2, padding 5, a 7×7 or 5×3 kernel, two groups.
    for unserved in [
        g5(4, 32, 32, [16, 16], [2, 2], [2, 2], [1, 1]),
        g5(4, 32, 32, [16, 16], [1, 1], [2, 2], [2, 2]),
        g5(4, 32, 32, [16, 16], [1, 1], [5, 5], [1, 1]),
        geom(4, 32, 32, [16, 16], [7, 7], [1, 1], [3, 3], [1, 1]),
        geom(4, 32, 32, [16, 16], [5, 3], [1, 1], [2, 1], [1, 1]),
        ConvGeom::new_2d(4, 32, 32, 2, [16, 16], [5, 5], [1, 1], [2, 2], [1, 1]),
    ] {
        for variant in VARIANTS {
            let p = WinogradConv::with_kernel_variant(&unserved, variant).unwrap();
            assert!(p.is_none(), "{unserved:?}");
            let d = WinogradDgrad::with_variant(&unserved, variant).unwrap();
            assert!(d.is_none(), "{unserved:?}");
        }
        assert!(plan_nchw(&unserved).is_none() && plan(&unserved).is_none());
    }
    // Served, but declined where it does not pay: too few pixels, too few channels, outputs
    // below 4×4.
    for declined in [
        g5(1, 32, 32, [12, 12], [1, 1], [0, 0], [1, 1]),
        g5(64, 3, 32, [12, 12], [1, 1], [0, 0], [1, 1]),
        g5(64, 32, 32, [7, 7], [1, 1], [0, 0], [1, 1]),
    ] {
        assert!(
            WinogradConv::with_kernel_variant(&declined, Variant::F2x2)
                .unwrap()
                .is_some()
        );
        assert!(plan(&declined).is_none(), "{declined:?}");
    }
    // The data gradient of a 3×3 layer keeps the flipped correlation.
    let g3 = geom(4, 32, 32, [16, 16], [3, 3], [1, 1], [1, 1], [1, 1]);
    assert!(
        WinogradDgrad::with_variant(&g3, Variant::F4x4)
            .unwrap()
            .is_none()
    );
    // Invalid geometries are errors.
    let too_small = g5(1, 4, 4, [3, 3], [1, 1], [0, 0], [1, 1]);
    assert!(WinogradConv::with_kernel_variant(&too_small, Variant::F2x2).is_err());
    assert!(WinogradDgrad::with_variant(&too_small, Variant::F2x2).is_err());
}

#[test]
fn winograd_5x5_bad_buffers_are_errors() {
    use super::super::dgrad::WinogradDgrad;
    let g = geom(2, 20, 24, [9, 9], [5, 5], [1, 1], [1, 1], [1, 1]);
    let plan = WinogradConv::with_kernel_variant(&g, Variant::F4x4)
        .unwrap()
        .unwrap();
    let mut packed = vec![0.0; plan.packed_len()];
    let err = plan.pack_weights(&[0.0; 9], None, &mut packed).unwrap_err();
    assert!(err.to_string().contains("weight has 9 elements"), "{err}");
    let err = plan
        .pack_flipped_with(
            Isa::current(),
            &vec![0.0; g.weight_len()],
            &mut packed[1..],
            1,
        )
        .unwrap_err();
    assert!(err.to_string().contains("packed weight"), "{err}");

    let d = WinogradDgrad::with_variant(&g, Variant::F4x4)
        .unwrap()
        .unwrap();
    let isa = Isa::current();
    let w = vec![0.5; g.weight_len()];
    let mut packed = vec![0.0; d.packed_len()];
    let err = d.pack_with(isa, &w[1..], &mut packed, 1).unwrap_err();
    assert!(err.to_string().contains("weight has"), "{err}");
    let err = d.pack_with(isa, &w, &mut packed[1..], 1).unwrap_err();
    assert!(err.to_string().contains("packed weight"), "{err}");
    d.pack_with(isa, &w, &mut packed, 1).unwrap();
    let [_, oh, ow] = g.output().unwrap();
    let dy_layout = Blocked::new(2, 24, oh, ow, 0);
    let dx_layout = Blocked::new(2, 20, 9, 9, 0);
    let dy = vec![1.0; dy_layout.len()];
    let mut dx = vec![f32::NAN; dx_layout.len()];
    let run = |dy: &[f32], dyl: &Blocked, packed: &[f32], dx: &mut [f32], dxl: &Blocked| {
        d.run(isa, dy, dyl, packed, dx, dxl, 2)
            .unwrap_err()
            .to_string()
    };
    let err = run(&dy[1..], &dy_layout, &packed, &mut dx, &dx_layout);
    assert!(err.contains("output gradient has"), "{err}");
    let err = run(&dy, &dy_layout, &packed[1..], &mut dx, &dx_layout);
    assert!(err.contains("packed weight"), "{err}");
    let err = run(&dy, &dy_layout, &packed, &mut dx[1..], &dx_layout);
    assert!(err.contains("data gradient has"), "{err}");
    let wrong = Blocked::new(2, 24, oh + 1, ow, 0);
    let err = run(&dy, &wrong, &packed, &mut dx, &dx_layout);
    assert!(err.contains("head gradient layout"), "{err}");
    let wrong = Blocked::new(2, 21, 9, 9, 0);
    let err = run(&dy, &dy_layout, &packed, &mut dx, &wrong);
    assert!(err.contains("data gradient layout"), "{err}");
    assert!(dx.iter().all(|v| v.is_nan()), "nothing written on an error");
    // The same buffers, right, run.
    d.run(isa, &dy, &dy_layout, &packed, &mut dx, &dx_layout, 2)
        .unwrap();
    assert!(dx.iter().all(|v| v.is_finite()));
}

#[test]
fn lenet_conv2_through_the_nchw_entries_is_deterministic_and_accurate() {
    use super::super::super::backward::backward_nchw_with;
    use super::super::super::direct::forward_nchw_with;
    // LeNet's second layer at batch 8 (64 pixels per image): the forward pass and the data
    // gradient through the training entries, against f64, the same bits on 1 and 2 threads.
    let g = geom(8, 20, 50, [12, 12], [5, 5], [1, 1], [0, 0], [1, 1]);
    let x = values(g.data_len(), 1);
    let w: Vec<f32> = values(g.weight_len(), 2).iter().map(|v| 0.06 * v).collect();
    let b = values(g.filters, 3);
    let dy = values(g.output_len(), 4);
    let want_y = expected(
        &Case {
            bias: true,
            ..blocked_case(g)
        },
        &x,
        &w,
        &b,
        &[],
        &[],
    );
    let want_dx = dgrad_reference(&g, &dy, &w);
    for isa in Isa::available().into_iter().filter(|&i| i >= Isa::Avx2) {
        let mut ys = Vec::new();
        let mut dxs = Vec::new();
        for threads in [1, 2] {
            let mut y = vec![f32::NAN; g.output_len()];
            assert!(
                forward_nchw_with(
                    isa,
                    &NchwOperands::new(&g, &x, &w, Some(&b)),
                    &mut y,
                    threads
                )
                .unwrap()
            );
            let err = relative_error(&y, &want_y);
            assert!(
                err <= tolerance_5x5(Variant::F4x4),
                "{isa:?} forward: {err:e}"
            );
            ys.push(y);
            let mut dx = vec![f32::NAN; g.data_len()];
            assert!(
                backward_nchw_with(isa, &g, &dy, &x, &w, Some(&mut dx), None, threads).unwrap()
            );
            let err = relative_error(&dx, &want_dx);
            assert!(
                err <= tolerance_5x5(Variant::F4x4),
                "{isa:?} dgrad: {err:e}"
            );
            dxs.push(dx);
        }
        assert_eq!(ys[0], ys[1], "{isa:?}: forward bits differ across threads");
        assert_eq!(dxs[0], dxs[1], "{isa:?}: dgrad bits differ across threads");
    }
}
