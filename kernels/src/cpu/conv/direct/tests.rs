//! The direct kernels against the im2col path (in `f64`, the reference): strides 1 and 2,
//! padding, dilation, odd sizes, channel counts that are not multiples of 16, batch 1 and
//! several, blocked and plain inputs with extra halo, every epilogue, reduction chunks, threads,
//! and every instruction set this CPU has.

use super::super::blocked::{Blocked, to_blocked};
use super::super::blocked_ops::test_util::EpilogueInputs;
use super::super::{ConvGeom, NchwOperands, conv_forward};
use super::*;
use crate::cpu::test_util::same_bits;

/// Deterministic pseudo-random values in [-1, 1).
pub(crate) fn values(n: usize, seed: u64) -> Vec<f32> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            ((state >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

/// One case: the geometry, the input layout, the halos of input and output, and the epilogue.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Case {
    pub(crate) geom: ConvGeom,
    pub(crate) input: InputLayout,
    pub(crate) in_extra_halo: usize,
    pub(crate) out_halo: usize,
    pub(crate) bias: bool,
    pub(crate) residual: bool,
    pub(crate) relu: bool,
    pub(crate) scale: bool,
}

#[allow(
    clippy::too_many_arguments,
    reason = "one argument per convolution parameter"
)]
pub(crate) fn geom(
    n: usize,
    c: usize,
    f: usize,
    hw: [usize; 2],
    k: [usize; 2],
    s: [usize; 2],
    p: [usize; 2],
    d: [usize; 2],
) -> ConvGeom {
    ConvGeom::new_2d(n, c, f, 1, hw, k, s, p, d)
}

/// A case of `geom` on a blocked input, without extra halo, output halo or epilogue.
pub(crate) fn blocked_case(geom: ConvGeom) -> Case {
    Case {
        geom,
        input: InputLayout::Blocked,
        in_extra_halo: 0,
        out_halo: 0,
        bias: false,
        residual: false,
        relu: false,
        scale: false,
    }
}

/// The same with every epilogue and one extra halo column on the input and the output.
pub(crate) fn full_case(geom: ConvGeom) -> Case {
    Case {
        in_extra_halo: 1,
        out_halo: 1,
        bias: true,
        residual: true,
        relu: true,
        scale: true,
        ..blocked_case(geom)
    }
}

/// The expected NCHW output in f64 (im2col + GEMM on f64 data), with the epilogue applied.
pub(crate) fn expected(
    case: &Case,
    x: &[f32],
    w: &[f32],
    b: &[f32],
    scale: &[f32],
    res: &[f32],
) -> Vec<f64> {
    let g = &case.geom;
    let to64 = |v: &[f32]| v.iter().map(|&x| f64::from(x)).collect::<Vec<_>>();
    let taps = g.kernel.iter().product::<usize>();
    let mut w64 = to64(w);
    if case.scale {
        for (f, row) in w64
            .chunks_exact_mut(g.channels / g.groups * taps)
            .enumerate()
        {
            row.iter_mut().for_each(|v| *v *= f64::from(scale[f]));
        }
    }
    let mut y = vec![0.0f64; g.output_len()];
    let bias = case.bias.then(|| to64(b));
    conv_forward(g, &to64(x), &w64, bias.as_deref(), &mut y).unwrap();
    if case.residual {
        for (v, r) in y.iter_mut().zip(res) {
            *v += f64::from(*r);
        }
    }
    if case.relu {
        y.iter_mut().for_each(|v| *v = v.max(0.0));
    }
    y
}

/// Runs `case` with `isa` and `threads` on a plan made for `isa`, and compares with the
/// reference.
fn check(case: &Case, isa: Isa, threads: usize) {
    check_plan(case, isa, isa, threads);
}

/// [`check`] on a plan made for `plan_isa` (its packed weights' layout), run with `isa`.
fn check_plan(case: &Case, plan_isa: Isa, isa: Isa, threads: usize) {
    let g = &case.geom;
    let plan = DirectConv::new_for(g, case.input, plan_isa)
        .unwrap()
        .expect("served");
    let taps = g.kernel.iter().product::<usize>();
    let x = values(g.data_len(), 1);
    let w = values(g.filters * g.channels * taps, 2);
    let halo = plan.input_halo() + case.in_extra_halo;
    let mut input = Vec::new();
    let strides = plan.prepare_input(&x, halo, &mut input).unwrap();
    let mut packed = vec![f32::NAN; plan.packed_len()];
    let out_layout = plan.output_layout(case.out_halo);
    let ops = EpilogueInputs::new(values, g.filters, g.output_len(), out_layout.with_halo(1));
    let (b, scale, res) = (&ops.bias, &ops.scale, &ops.residual);
    plan.pack_weights(&w, case.scale.then_some(&scale[..]), &mut packed)
        .unwrap();
    let epilogue = ops.epilogue(case.bias, case.residual, case.relu);
    let mut out = vec![f32::NAN; out_layout.len()];
    plan.forward_with(
        isa,
        &ConvOperands::new(&input, &strides, &packed, &epilogue, &out_layout),
        &mut out,
        threads,
    )
    .unwrap();
    let want = expected(case, &x, &w, b, scale, res);
    let [oh, ow] = plan.output_size();
    let scale_max = want.iter().fold(1.0f64, |m, v| m.max(v.abs()));
    for n in 0..g.batch {
        for f in 0..out_layout.blocks() * BLOCK {
            for y in 0..oh {
                for xo in 0..ow {
                    let got = out[out_layout.offset(n, f, y, xo)];
                    let exp = if f < g.filters {
                        want[((n * g.filters + f) * oh + y) * ow + xo]
                    } else {
                        0.0
                    };
                    assert!(
                        (f64::from(got) - exp).abs()
                            <= 1e-5 * scale_max * (g.channels * taps) as f64,
                        "{case:?} {isa} threads {threads}: ({n},{f},{y},{xo}) = {got}, want {exp}"
                    );
                }
            }
        }
    }
    // Halo columns are zero.
    for img in 0..g.batch {
        for cb in 0..out_layout.blocks() {
            for y in 0..oh {
                let row =
                    img * out_layout.image() + cb * out_layout.plane() + y * out_layout.pitch();
                let left = &out[row..row + case.out_halo * BLOCK];
                let right_start = row + (case.out_halo + ow) * BLOCK;
                let right = &out[right_start..right_start + case.out_halo * BLOCK];
                assert!(
                    left.iter().chain(right).all(|&v| v == 0.0),
                    "{case:?}: halo"
                );
            }
        }
    }
}

fn cases() -> Vec<Case> {
    let base = blocked_case;
    vec![
        // ResNet-style 3×3 stride 1 and 2, 1×1 stride 1 and 2.
        Case {
            bias: true,
            relu: true,
            ..base(geom(1, 32, 48, [9, 9], [3, 3], [1, 1], [1, 1], [1, 1]))
        },
        Case {
            residual: true,
            relu: true,
            ..base(geom(2, 16, 32, [8, 7], [3, 3], [2, 2], [1, 1], [1, 1]))
        },
        Case {
            bias: true,
            scale: true,
            ..base(geom(1, 64, 64, [7, 7], [1, 1], [1, 1], [0, 0], [1, 1]))
        },
        Case {
            bias: true,
            out_halo: 1,
            ..base(geom(3, 20, 40, [11, 10], [1, 1], [2, 2], [0, 0], [1, 1]))
        },
        // Channels not multiples of 16, odd sizes, wide rows (several tiles), dilation.
        Case {
            bias: true,
            residual: true,
            relu: true,
            scale: true,
            ..base(geom(1, 5, 7, [6, 31], [3, 3], [1, 1], [1, 1], [1, 1]))
        },
        Case {
            in_extra_halo: 2,
            out_halo: 2,
            ..base(geom(2, 17, 33, [5, 29], [3, 3], [1, 1], [2, 2], [2, 2]))
        },
        Case {
            bias: true,
            ..base(geom(1, 3, 16, [13, 13], [5, 3], [2, 1], [2, 1], [1, 1]))
        },
        // 1-D (height 1) and a kernel as large as the padded input.
        Case {
            relu: true,
            ..base(geom(2, 8, 24, [1, 40], [1, 5], [1, 2], [0, 2], [1, 1]))
        },
        Case {
            ..base(geom(1, 16, 16, [3, 3], [5, 5], [1, 1], [1, 1], [1, 1]))
        },
        // Plain (NCHW) input: a network's first layer.
        Case {
            input: InputLayout::Plain,
            bias: true,
            relu: true,
            ..base(geom(2, 3, 64, [23, 23], [7, 7], [2, 2], [3, 3], [1, 1]))
        },
        Case {
            input: InputLayout::Plain,
            in_extra_halo: 1,
            scale: true,
            ..base(geom(1, 3, 32, [15, 16], [3, 3], [2, 2], [1, 1], [1, 1]))
        },
        Case {
            input: InputLayout::Plain,
            residual: true,
            ..base(geom(1, 2, 20, [6, 9], [3, 3], [1, 1], [1, 1], [1, 1]))
        },
        // Row widths around the tile widths (AVX2: 6 pixels; AVX-512: 14): 1, 6, 7, 12, 13,
        // 14, 15, 29; a last output group with one block of two (48 filters), and fewer than
        // 16 filters; a plain input wider than a 16-channel tile.
        Case {
            bias: true,
            residual: true,
            relu: true,
            ..base(geom(2, 24, 48, [6, 13], [3, 3], [1, 1], [1, 1], [1, 1]))
        },
        Case {
            bias: true,
            out_halo: 1,
            ..base(geom(1, 19, 8, [3, 12], [1, 3], [1, 1], [0, 1], [1, 1]))
        },
        Case {
            relu: true,
            ..base(geom(1, 16, 40, [4, 7], [3, 3], [1, 1], [1, 1], [1, 1]))
        },
        Case {
            bias: true,
            ..base(geom(1, 33, 17, [2, 1], [1, 1], [1, 1], [0, 0], [1, 1]))
        },
        Case {
            residual: true,
            in_extra_halo: 1,
            ..base(geom(1, 20, 64, [5, 14], [3, 3], [1, 1], [1, 1], [1, 1]))
        },
        Case {
            scale: true,
            ..base(geom(1, 16, 32, [3, 29], [1, 1], [1, 2], [0, 0], [1, 1]))
        },
        Case {
            bias: true,
            ..base(geom(1, 8, 16, [3, 15], [1, 3], [1, 1], [0, 1], [1, 1]))
        },
        Case {
            input: InputLayout::Plain,
            bias: true,
            scale: true,
            ..base(geom(1, 21, 24, [5, 6], [3, 3], [1, 1], [1, 1], [1, 1]))
        },
    ]
}

/// The weight packing as first written, one element at a time: the reference for
/// [`DirectConv::pack_weights_with`].
fn pack_reference(plan: &DirectConv, w: &[f32], scale: Option<&[f32]>) -> Vec<f32> {
    let g = plan.geom();
    let (c, f) = (g.channels, g.filters);
    let taps = plan.taps();
    let (nv, icpb) = (plan.nv, plan.ic_per_block);
    let w_block = plan.w_block();
    let mut dst = vec![0.0; plan.packed_len()];
    for (og, group) in dst.chunks_exact_mut(plan.ic_blocks * w_block).enumerate() {
        for (icb, block) in group.chunks_exact_mut(w_block).enumerate() {
            for (t, tap) in block.chunks_exact_mut(icpb * nv * BLOCK).enumerate() {
                for (i, step) in tap.chunks_exact_mut(nv * BLOCK).enumerate() {
                    let ic = icb * icpb + i;
                    for (j, d) in step.iter_mut().enumerate() {
                        let oc = og * nv * BLOCK + j;
                        *d = if ic < c && oc < f {
                            w[(oc * c + ic) * taps + t] * scale.map_or(1.0, |s| s[oc])
                        } else {
                            0.0
                        };
                    }
                }
            }
        }
    }
    dst
}

/// Checks a plan's errors for bad operands: an input without the halo of 1 the plan needs
/// (`[no_halo, with_halo]`: its input layout without and with it), an input one float short of
/// `with_halo`, an output in another layout (`wrong`, of another shape), an output one float
/// short of `out_layout`, a bias of 3 elements and a residual in the `wrong` layout.
/// `run(x, in_layout, epilogue, out, out_layout)` runs the plan (with valid packed weights)
/// and returns its error message.
pub(crate) fn assert_operand_errors(
    [no_halo, with_halo]: [Blocked; 2],
    out_layout: &Blocked,
    wrong: Blocked,
    run: impl Fn(&[f32], &Blocked, &Epilogue<'_>, &mut [f32], &Blocked) -> String,
) {
    let mut out = vec![0.0; out_layout.len()];
    let none = Epilogue::default();
    let x = vec![0.0; no_halo.len()];
    let err = run(&x, &no_halo, &none, &mut out, out_layout);
    assert!(err.contains("halo of at least 1"), "{err}");
    let x = vec![0.0; with_halo.len()];
    let err = run(&x[1..], &with_halo, &none, &mut out, out_layout);
    assert!(err.contains("data has"), "{err}");
    let err = run(&x, &with_halo, &none, &mut out, &wrong);
    assert!(err.contains("output layout"), "{err}");
    let err = run(&x, &with_halo, &none, &mut out[1..], out_layout);
    assert!(err.contains("output has"), "{err}");
    let bias = Epilogue {
        bias: Some(&[1.0; 3]),
        ..Epilogue::default()
    };
    let err = run(&x, &with_halo, &bias, &mut out, out_layout);
    assert!(err.contains("bias has 3 elements"), "{err}");
    let res = vec![0.0; wrong.len()];
    let residual = Epilogue {
        residual: Some((&res, wrong)),
        ..Epilogue::default()
    };
    let err = run(&x, &with_halo, &residual, &mut out, out_layout);
    assert!(err.contains("residual layout"), "{err}");
}

#[test]
fn packing_matches_the_reference_on_every_isa_and_thread_count() {
    let shapes = [
        (
            geom(1, 5, 7, [5, 5], [3, 3], [1, 1], [1, 1], [1, 1]),
            InputLayout::Blocked,
        ),
        (
            geom(1, 17, 33, [5, 5], [1, 1], [1, 1], [0, 0], [1, 1]),
            InputLayout::Blocked,
        ),
        (
            geom(1, 64, 40, [5, 5], [3, 3], [1, 1], [1, 1], [1, 1]),
            InputLayout::Blocked,
        ),
        (
            geom(1, 16, 16, [9, 9], [5, 3], [1, 1], [1, 1], [1, 1]),
            InputLayout::Blocked,
        ),
        (
            geom(1, 300, 96, [5, 5], [3, 3], [1, 1], [1, 1], [1, 1]),
            InputLayout::Blocked,
        ),
        (
            geom(1, 3, 64, [9, 9], [7, 7], [2, 2], [3, 3], [1, 1]),
            InputLayout::Plain,
        ),
        (
            geom(1, 21, 24, [5, 5], [3, 3], [1, 1], [1, 1], [1, 1]),
            InputLayout::Plain,
        ),
    ];
    for ((g, input), plan_isa) in shapes
        .into_iter()
        .flat_map(|s| [(s, Isa::Avx512), (s, Isa::Avx2)])
    {
        let plan = DirectConv::new_for(&g, input, plan_isa).unwrap().unwrap();
        let taps = plan.taps();
        let w = values(g.filters * g.channels * taps, 11);
        let scale = values(g.filters, 12);
        for sc in [None, Some(&scale[..])] {
            let want = pack_reference(&plan, &w, sc);
            for isa in Isa::available() {
                for threads in [1, 2, 5] {
                    let mut got = vec![f32::NAN; plan.packed_len()];
                    plan.pack_weights_with(isa, &w, sc, &mut got, threads)
                        .unwrap();
                    assert!(
                        same_bits(&got, &want),
                        "{g:?} {input:?} {isa} {threads} threads, scale {}",
                        sc.is_some()
                    );
                }
            }
        }
    }
}

#[test]
fn direct_matches_im2col_on_every_isa() {
    for isa in Isa::available() {
        for case in cases() {
            check(&case, isa, 1);
        }
    }
}

#[test]
fn any_plan_runs_with_any_isa() {
    // AVX2 plans pack one output block per group, the others two: each kernel runs both.
    for isa in Isa::available() {
        for plan_isa in [Isa::Avx512, Isa::Avx2] {
            for case in cases() {
                check_plan(&case, plan_isa, isa, 2);
            }
        }
    }
}

#[test]
fn direct_splits_across_threads_and_reduction_chunks() {
    // 64 input blocks × 9 taps × 16 × 32 floats of weights per group: several L2 chunks.
    let big = full_case(geom(2, 1000, 40, [6, 5], [3, 3], [1, 1], [1, 1], [1, 1]));
    for isa in Isa::available() {
        for threads in [1, 2, 3] {
            check(&big, isa, threads);
        }
    }
}

#[test]
fn direct_results_do_not_depend_on_threads() {
    let g = geom(2, 48, 64, [14, 14], [3, 3], [1, 1], [1, 1], [1, 1]);
    let layout = Blocked::new(2, 48, 14, 14, 1);
    let mut x = vec![0.0; layout.len()];
    to_blocked(&values(g.data_len(), 7), &layout, &mut x);
    for isa in Isa::available() {
        let plan = DirectConv::new_for(&g, InputLayout::Blocked, isa)
            .unwrap()
            .unwrap();
        let mut packed = vec![0.0; plan.packed_len()];
        plan.pack_weights(&values(64 * 48 * 9, 8), None, &mut packed)
            .unwrap();
        let out_layout = plan.output_layout(0);
        let (strides, ep) = (InputStrides::blocked(&layout), Epilogue::default());
        let op = ConvOperands::new(&x, &strides, &packed, &ep, &out_layout);
        let run = |threads| {
            let mut out = vec![0.0; out_layout.len()];
            plan.forward_with(isa, &op, &mut out, threads).unwrap();
            out
        };
        let one = run(1);
        assert_eq!(one, run(2), "{isa}");
        assert_eq!(one, run(4), "{isa}");
    }
}

#[test]
fn unserved_geometries_and_bad_buffers() {
    let grouped = ConvGeom::new_2d(1, 4, 4, 2, [5, 5], [3, 3], [1, 1], [1, 1], [1, 1]);
    assert!(
        DirectConv::new(&grouped, InputLayout::Blocked)
            .unwrap()
            .is_none()
    );
    let strided = geom(1, 4, 4, [9, 9], [3, 3], [3, 3], [1, 1], [1, 1]);
    assert!(
        DirectConv::new(&strided, InputLayout::Blocked)
            .unwrap()
            .is_none()
    );
    let too_big = geom(1, 4, 4, [2, 2], [5, 5], [1, 1], [0, 0], [1, 1]);
    assert!(DirectConv::new(&too_big, InputLayout::Blocked).is_err());

    let g = geom(1, 4, 8, [5, 5], [3, 3], [1, 1], [1, 1], [1, 1]);
    let plan = DirectConv::new(&g, InputLayout::Blocked).unwrap().unwrap();
    let mut packed = vec![0.0; plan.packed_len()];
    let err = plan.pack_weights(&[0.0; 3], None, &mut packed).unwrap_err();
    assert!(err.to_string().contains("weight has 3 elements"), "{err}");
    let layouts = [Blocked::new(1, 4, 5, 5, 0), Blocked::new(1, 4, 5, 5, 1)];
    let out_layout = plan.output_layout(0);
    assert_operand_errors(
        layouts,
        &out_layout,
        Blocked::new(1, 8, 4, 5, 0),
        |x, xl, ep, out, ol| {
            plan.forward(
                &ConvOperands::new(x, &InputStrides::blocked(xl), &packed, ep, ol),
                out,
                1,
            )
            .unwrap_err()
            .to_string()
        },
    );
}

#[test]
fn nchw_entry_takes_the_direct_path_where_it_pays_and_matches_im2col() {
    // (geometry, whether AVX-512 takes it, whether AVX2 does).
    let layers = [
        // 3×3 with padding: a blocked input for both.
        (
            geom(1, 32, 48, [20, 17], [3, 3], [1, 1], [1, 1], [1, 1]),
            true,
            true,
        ),
        // 1×1 with more outputs than inputs (256 flops per float): a plain GEMM is faster.
        (
            geom(1, 128, 256, [20, 20], [1, 1], [1, 1], [0, 0], [1, 1]),
            false,
            false,
        ),
        // 1×1 stride 2 (ResNet's shortcut, 128 flops per float), which im2col must unroll:
        // AVX-512 (in place) takes it, AVX2 (converting its input: 43) does not.
        (
            geom(1, 64, 128, [40, 40], [1, 1], [2, 2], [0, 0], [1, 1]),
            true,
            false,
        ),
        // 1×1 with many input channels: AVX-512 reads the input in place (640 flops per
        // converted float, more than a plain GEMM's 512); AVX2 leaves it to im2col.
        (
            geom(2, 320, 40, [15, 18], [1, 1], [1, 1], [0, 0], [1, 1]),
            true,
            false,
        ),
        // A first layer (3 channels, plain input copied with its halo), stride 2.
        (
            geom(1, 3, 24, [41, 40], [7, 7], [2, 2], [3, 3], [1, 1]),
            true,
            true,
        ),
        // Too few flops per converted float (1×1, 8 → 16): im2col for both.
        (
            geom(1, 8, 16, [40, 40], [1, 1], [1, 1], [0, 0], [1, 1]),
            false,
            false,
        ),
        // Too few output pixels to amortise the packing.
        (
            geom(1, 64, 64, [9, 9], [3, 3], [1, 1], [1, 1], [1, 1]),
            false,
            false,
        ),
    ];
    for (g, avx512, avx2) in layers {
        let taps = g.kernel.iter().product::<usize>();
        let x = values(g.data_len(), 21);
        let w = values(g.filters * g.channels * taps, 22);
        let b = values(g.filters, 23);
        let mut want = vec![0.0f32; g.output_len()];
        super::super::conv_forward_im2col(&g, &x, &w, Some(&b), &mut want, 1).unwrap();
        let scale = want.iter().fold(1.0f32, |m, v| m.max(v.abs()));
        for (isa, takes) in [
            (Isa::Avx512, avx512),
            (Isa::Avx2, avx2),
            (Isa::Scalar, false),
        ] {
            for threads in [1, 3] {
                let mut y = vec![f32::NAN; g.output_len()];
                let op = NchwOperands::new(&g, &x, &w, Some(&b));
                let took = forward_nchw_with(isa, &op, &mut y, threads).unwrap();
                assert_eq!(took, takes && isa.is_available(), "{g:?} {isa}");
                if !took {
                    assert!(
                        y.iter().all(|v| v.is_nan()),
                        "{g:?} {isa}: declined, untouched"
                    );
                    continue;
                }
                for (i, (a, e)) in y.iter().zip(&want).enumerate() {
                    assert!(
                        (a - e).abs() <= 1e-5 * scale * (g.channels * taps) as f32,
                        "{g:?} {isa} {threads} threads: [{i}] = {a}, want {e}"
                    );
                }
            }
        }
    }
}
