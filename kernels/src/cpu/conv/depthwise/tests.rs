//! The depthwise kernels against the im2col path with `groups == C` (in `f64`, the reference):
//! strides 1 and 2, padding, dilation, odd sizes, channel counts that are not multiples of 16,
//! batch 1 and several, input and output halos, every epilogue, threads, every instruction set
//! this CPU has (bit-identical to each other), `conv_forward`'s NCHW route, and errors.

use super::super::blocked::to_blocked;
use super::super::blocked_ops::test_util::{EpilogueInputs, assert_zero_outside_data, values};
use super::super::direct::tests::{Case, assert_operand_errors, blocked_case, expected};
use super::super::{conv_forward, conv_forward_im2col};
use super::*;

/// A depthwise geometry: `c` channels, `[h, w]`, kernel, stride, pad, dilation.
fn dw(
    n: usize,
    c: usize,
    hw: [usize; 2],
    k: [usize; 2],
    s: [usize; 2],
    p: [usize; 2],
    d: [usize; 2],
) -> ConvGeom {
    ConvGeom::new_2d(n, c, c, c, hw, k, s, p, d)
}

/// Runs `case` with `isa` and `threads`, checks it against the reference (values, padding
/// channels, halo columns), and returns the blocked output.
fn check(case: &Case, isa: Isa, threads: usize) -> Vec<f32> {
    let g = &case.geom;
    let plan = DepthwiseConv::new(g).unwrap().expect("served");
    let taps = g.kernel.iter().product::<usize>();
    let x = values(g.data_len(), 1);
    let w = values(g.channels * taps, 2);
    let in_layout = plan.input_layout(plan.input_halo() + case.in_extra_halo);
    let mut input = vec![f32::NAN; in_layout.len()];
    to_blocked(&x, &in_layout, &mut input);
    let mut packed = vec![f32::NAN; plan.packed_len()];
    let out_layout = plan.output_layout(case.out_halo);
    let ops = EpilogueInputs::new(values, g.filters, g.output_len(), out_layout.with_halo(2));
    let (b, scale, res) = (&ops.bias, &ops.scale, &ops.residual);
    plan.pack_weights(&w, case.scale.then_some(&scale[..]), &mut packed)
        .unwrap();
    let epilogue = ops.epilogue(case.bias, case.residual, case.relu);
    let mut out = vec![f32::NAN; out_layout.len()];
    plan.forward_with(
        isa,
        &ConvOperands::new(&input, &in_layout, &packed, &epilogue, &out_layout),
        &mut out,
        threads,
    )
    .unwrap();

    let want = expected(case, &x, &w, b, scale, res);
    let [oh, ow] = plan.output_size();
    for n in 0..g.batch {
        for c in 0..g.channels {
            for y in 0..oh {
                for xo in 0..ow {
                    let got = out[out_layout.offset(n, c, y, xo)];
                    let exp = want[((n * g.channels + c) * oh + y) * ow + xo];
                    assert!(
                        (f64::from(got) - exp).abs() <= 1e-5 * (taps as f64 + 2.0),
                        "{case:?} {isa} threads {threads}: ({n},{c},{y},{xo}) = {got}, want {exp}"
                    );
                }
            }
        }
    }
    assert_zero_outside_data(&out, &out_layout, &format!("{case:?} {isa}"));
    out
}

fn cases() -> Vec<Case> {
    vec![
        // MobileNet: 3×3 pad 1, stride 1 and 2.
        Case {
            bias: true,
            relu: true,
            ..blocked_case(dw(1, 32, [14, 14], [3, 3], [1, 1], [1, 1], [1, 1]))
        },
        Case {
            bias: true,
            relu: true,
            scale: true,
            ..blocked_case(dw(2, 64, [15, 16], [3, 3], [2, 2], [1, 1], [1, 1]))
        },
        // Channels not multiples of 16, odd and wide rows (several tiles), halos.
        Case {
            residual: true,
            relu: true,
            out_halo: 1,
            ..blocked_case(dw(1, 5, [6, 31], [3, 3], [1, 1], [1, 1], [1, 1]))
        },
        Case {
            bias: true,
            residual: true,
            scale: true,
            in_extra_halo: 2,
            out_halo: 2,
            ..blocked_case(dw(3, 35, [9, 29], [3, 3], [2, 2], [1, 1], [1, 1]))
        },
        // Other kernels, paddings, mixed strides, dilation.
        Case {
            bias: true,
            ..blocked_case(dw(1, 17, [13, 12], [5, 3], [2, 1], [2, 1], [1, 1]))
        },
        Case {
            relu: true,
            in_extra_halo: 1,
            ..blocked_case(dw(2, 48, [11, 11], [3, 3], [1, 2], [2, 2], [2, 2]))
        },
        Case {
            ..blocked_case(dw(1, 16, [7, 7], [7, 7], [1, 1], [3, 3], [1, 1]))
        },
        Case {
            bias: true,
            ..blocked_case(dw(1, 20, [8, 9], [1, 1], [2, 2], [0, 0], [1, 1]))
        },
        // Kernel rows wholly in the padding (1×1 with padding 1), a kernel as large as the
        // padded input, no padding at all.
        Case {
            bias: true,
            relu: true,
            ..blocked_case(dw(1, 3, [4, 5], [1, 1], [1, 1], [1, 1], [1, 1]))
        },
        Case {
            ..blocked_case(dw(1, 16, [3, 3], [5, 5], [1, 1], [1, 1], [1, 1]))
        },
        Case {
            scale: true,
            ..blocked_case(dw(2, 33, [10, 10], [3, 3], [1, 1], [0, 0], [1, 1]))
        },
        // 1-D (height 1) with a row of 7 (one tile below the tile width), and of 1 pixel.
        Case {
            relu: true,
            ..blocked_case(dw(2, 8, [1, 40], [1, 5], [1, 2], [0, 2], [1, 1]))
        },
        Case {
            bias: true,
            ..blocked_case(dw(4, 24, [7, 7], [3, 3], [2, 2], [1, 1], [1, 1]))
        },
        Case {
            bias: true,
            ..blocked_case(dw(1, 16, [1, 1], [3, 3], [1, 1], [1, 1], [1, 1]))
        },
    ]
}

#[test]
fn depthwise_matches_im2col_on_every_isa_bit_identically() {
    for case in cases() {
        let want = check(&case, Isa::Scalar, 1);
        for isa in Isa::available() {
            let got = check(&case, isa, 1);
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&got), bits(&want), "{case:?}: {isa} against scalar");
        }
    }
}

#[test]
fn depthwise_results_do_not_depend_on_threads() {
    // About 2M multiply-adds: split across threads when asked.
    let big = Case {
        bias: true,
        residual: true,
        relu: true,
        out_halo: 1,
        in_extra_halo: 1,
        ..blocked_case(dw(2, 72, [40, 40], [3, 3], [1, 1], [1, 1], [1, 1]))
    };
    for isa in Isa::available() {
        let one = check(&big, isa, 1);
        for threads in [2, 3, 8] {
            assert_eq!(one, check(&big, isa, threads), "{isa}, {threads} threads");
        }
    }
}

#[test]
fn conv_forward_routes_depthwise_convolutions() {
    // Through `conv_forward` (blocked when the instruction set has vector kernels, else
    // im2col): the result is the reference's either way.
    for g in [
        dw(2, 40, [12, 12], [3, 3], [1, 1], [1, 1], [1, 1]),
        dw(1, 32, [9, 9], [3, 3], [2, 2], [1, 1], [1, 1]),
        dw(1, 16, [2, 2], [3, 3], [1, 1], [1, 1], [1, 1]),
    ] {
        let x = values(g.data_len(), 9);
        let w = values(g.weight_len(), 10);
        let b = values(g.filters, 11);
        let mut y = vec![f32::NAN; g.output_len()];
        conv_forward(&g, &x, &w, Some(&b), &mut y).unwrap();
        let to64 = |v: &[f32]| v.iter().map(|&x| f64::from(x)).collect::<Vec<_>>();
        let mut want = vec![0.0f64; g.output_len()];
        conv_forward_im2col(&g, &to64(&x), &to64(&w), Some(&to64(&b)), &mut want, 1).unwrap();
        for (i, (&got, &exp)) in y.iter().zip(&want).enumerate() {
            assert!(
                (f64::from(got) - exp).abs() <= 1e-5,
                "{g:?} [{i}]: {got} vs {exp}"
            );
        }
    }
}

#[test]
fn unserved_geometries_and_bad_buffers() {
    let multiplier = ConvGeom::new_2d(1, 4, 8, 4, [5, 5], [3, 3], [1, 1], [1, 1], [1, 1]);
    assert!(DepthwiseConv::new(&multiplier).unwrap().is_none());
    let grouped = ConvGeom::new_2d(1, 4, 4, 2, [5, 5], [3, 3], [1, 1], [1, 1], [1, 1]);
    assert!(DepthwiseConv::new(&grouped).unwrap().is_none());
    let strided = dw(1, 4, [9, 9], [3, 3], [3, 3], [1, 1], [1, 1]);
    assert!(DepthwiseConv::new(&strided).unwrap().is_none());
    let three_d = ConvGeom {
        input: [3, 5, 5],
        kernel: [3, 3, 3],
        ..dw(1, 4, [5, 5], [3, 3], [1, 1], [1, 1], [1, 1])
    };
    assert!(DepthwiseConv::new(&three_d).unwrap().is_none());
    let too_big = dw(1, 4, [2, 2], [5, 5], [1, 1], [0, 0], [1, 1]);
    assert!(DepthwiseConv::new(&too_big).is_err());
    let zero_stride = dw(1, 4, [5, 5], [3, 3], [0, 1], [1, 1], [1, 1]);
    assert!(DepthwiseConv::new(&zero_stride).is_err());

    let g = dw(1, 4, [5, 5], [3, 3], [1, 1], [1, 1], [1, 1]);
    let plan = DepthwiseConv::new(&g).unwrap().unwrap();
    let mut packed = vec![0.0; plan.packed_len()];
    let err = plan.pack_weights(&[0.0; 3], None, &mut packed).unwrap_err();
    assert!(err.to_string().contains("weight has 3 elements"), "{err}");
    let err = plan
        .pack_weights(&[0.0; 36], Some(&[1.0; 5]), &mut packed)
        .unwrap_err();
    assert!(err.to_string().contains("weight scale has 5"), "{err}");
    let out_layout = plan.output_layout(0);
    let mut out = vec![0.0; out_layout.len()];
    let run = |x: &[f32], xl: &Blocked, ep: &Epilogue<'_>, out: &mut [f32], ol: &Blocked| {
        plan.forward(&ConvOperands::new(x, xl, &packed, ep, ol), out, 1)
            .unwrap_err()
            .to_string()
    };
    let in_layout = plan.input_layout(1);
    let layouts = [plan.input_layout(0), in_layout];
    assert_operand_errors(layouts, &out_layout, Blocked { h: 6, ..out_layout }, run);
    let x = vec![0.0; in_layout.len()];
    let wrong = Blocked { c: 5, ..in_layout };
    let err = run(&x, &wrong, &Epilogue::default(), &mut out, &out_layout);
    assert!(err.contains("input layout"), "{err}");
    let err = plan
        .forward(
            &ConvOperands::new(
                &x,
                &in_layout,
                &packed[1..],
                &Epilogue::default(),
                &out_layout,
            ),
            &mut out,
            1,
        )
        .unwrap_err();
    assert!(err.to_string().contains("packed weight"), "{err}");
}
