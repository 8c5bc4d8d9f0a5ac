//! The Winograd weight gradient of 5×5 layers against the f64 im2col reference: LeNet's second
//! layer, odd sizes, padding 0 to 4 (uneven too), channel counts that are not multiples of 16,
//! batch 1, halos on both operands; bit-identical on every instruction set and thread count.
//! (The 3×3 cases are in [`super`].)

use super::super::super::ConvGeom;
use super::super::super::winograd::Variant;
use super::super::super::winograd::wgrad::plan;
use super::super::{backward_nchw, winograd_5x5_pays};
use super::{assert_winograd_dw_everywhere, max_rel_error, winograd_dw};
use crate::cpu::conv::tests::values_f32;
use crate::cpu::isa::Isa;

/// A 2-D 5×5 convolution, stride 1, one group: (batch, channels, filters, input, padding).
fn geom5(n: usize, c: usize, f: usize, hw: [usize; 2], pad: [usize; 2]) -> ConvGeom {
    ConvGeom::new_2d(n, c, f, 1, hw, [5, 5], [1, 1], pad, [1, 1])
}

/// The f64 reference weight gradient of `g` (im2col, 2 threads).
fn reference_dw(g: &ConvGeom, x: &[f32], dy: &[f32]) -> Vec<f64> {
    super::reference_dw(g, x, dy, 2)
}

/// The largest error (relative to `max |dw|`) accepted for `variant`: 3 and 9 times the worst
/// measured on these cases (`F(2×2, 5×5)` 3.2e-6, `F(4×4, 5×5)` 5.4e-6; the forward pass's
/// `F(4×4, 5×5)` is within 3.4e-6 on LeNet's layer).
fn tolerance(variant: Variant) -> f64 {
    match variant {
        Variant::F2x2 => 1e-5,
        Variant::F4x4 => 5e-5,
    }
}

#[test]
fn winograd_5x5_weight_gradient_matches_the_reference_on_every_isa_and_thread_count() {
    let cases = [
        // LeNet's second layer (batch 64), and at batch 1.
        (geom5(64, 20, 50, [12, 12], [0, 0]), [0, 0]),
        (geom5(1, 20, 50, [12, 12], [0, 0]), [1, 2]),
        // Padding 2 ("same"), odd sizes, channels not multiples of 16.
        (geom5(3, 7, 9, [11, 13], [2, 2]), [0, 1]),
        (geom5(2, 17, 33, [9, 10], [1, 3]), [2, 0]),
        (geom5(1, 16, 16, [5, 5], [4, 4]), [0, 0]),
        (geom5(2, 3, 2, [5, 6], [0, 0]), [0, 0]),
        // Large enough for several blocks of tiles (not the fused path).
        (geom5(8, 32, 48, [30, 29], [2, 2]), [1, 1]),
    ];
    for (g, halos) in cases {
        let x = values_f32(g.data_len(), 31);
        let dy = values_f32(g.output_len(), 32);
        let want = reference_dw(&g, &x, &dy);
        for variant in [Variant::F2x2, Variant::F4x4] {
            let first = winograd_dw(&g, variant, Isa::Scalar, 1, (&x, &dy), halos);
            let err = max_rel_error(&first, &want);
            println!("{g:?} {variant:?}: max error / max |dw| = {err:.2e}");
            assert!(err <= tolerance(variant), "{g:?} {variant:?}: {err:e}");
            assert_winograd_dw_everywhere(&g, variant, &first, (&x, &dy), halos);
        }
    }
}

#[test]
fn winograd_5x5_weight_gradient_plans_and_dispatch() {
    use super::super::super::winograd::enabled;
    let lenet2 = geom5(64, 20, 50, [12, 12], [0, 0]);
    // LeNet's second layer: F(4×4, 5×5), unless MXR_WINOGRAD=0.
    let p = plan(&lenet2);
    assert_eq!(
        p.as_ref().map(|p| (p.kernel(), p.variant())),
        enabled().then_some((5, Variant::F4x4))
    );
    // Declined: 3 input channels, 256 output pixels, outputs below 4×4.
    for declined in [
        geom5(16, 3, 32, [32, 32], [2, 2]),
        geom5(4, 20, 50, [12, 12], [0, 0]),
        geom5(64, 20, 50, [7, 7], [0, 0]),
    ] {
        assert!(plan(&declined).is_none(), "{declined:?}");
        assert!(!winograd_5x5_pays(&declined), "{declined:?}");
    }
    // The NCHW backward pass takes it (with the data gradient, or without): the plan's bits,
    // whatever the thread count, within rounding of the reference.
    if !winograd_5x5_pays(&lenet2) {
        return;
    }
    let g = lenet2;
    let x = values_f32(g.data_len(), 41);
    let dy = values_f32(g.output_len(), 42);
    let w = values_f32(g.weight_len(), 43);
    let want = winograd_dw(&g, Variant::F4x4, Isa::current(), 1, (&x, &dy), [0, 0]);
    assert!(max_rel_error(&want, &reference_dw(&g, &x, &dy)) <= tolerance(Variant::F4x4));
    for threads in [1, 2] {
        let mut dw = vec![f32::NAN; g.weight_len()];
        let mut dx = vec![f32::NAN; g.data_len()];
        let done = backward_nchw(&g, &dy, &x, &w, Some(&mut dx), &mut dw, threads).unwrap();
        assert!(done.dw && done.dx, "{threads} threads");
        assert!(
            dw.iter()
                .zip(&want)
                .all(|(a, b)| a.to_bits() == b.to_bits())
        );
        let mut dw = vec![f32::NAN; g.weight_len()];
        let done = backward_nchw(&g, &dy, &x, &w, None, &mut dw, threads).unwrap();
        assert!(done.dw && !done.dx, "{threads} threads");
        assert!(
            dw.iter()
                .zip(&want)
                .all(|(a, b)| a.to_bits() == b.to_bits())
        );
    }
}
