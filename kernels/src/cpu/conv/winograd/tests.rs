//! The Winograd kernels against the im2col path (in `f64`, the reference) and the direct
//! kernel (in `f32`): both variants, padding 0, 1 and 2 (also different per axis), output sides
//! that are not multiples of the tile, channel counts that are not multiples of 16, batch 1 and
//! several, input and output halos, every epilogue, blocks of tiles and threads, every
//! instruction set this CPU has; the error on ResNet-style layers with realistic data; and the
//! error cases.

use super::super::NchwOperands;
use super::super::blocked::{Blocked, from_blocked, to_blocked};
use super::super::direct::tests::{
    Case, assert_operand_errors, blocked_case, expected, full_case, geom, values,
};
use super::super::direct::{ConvOperands, DirectConv, Epilogue, InputLayout};
use super::*;

mod five_by_five;
mod packing;

const VARIANTS: [Variant; 2] = [Variant::F2x2, Variant::F4x4];

/// The operands of one case (NCHW input, `F × C × 3 × 3` weights, bias, scale, NCHW
/// residual).
struct Operands {
    x: Vec<f32>,
    w: Vec<f32>,
    b: Vec<f32>,
    scale: Vec<f32>,
    res: Vec<f32>,
}

impl Operands {
    /// Values in [-1, 1) (the scale in [0.5, 2.5)).
    fn uniform(g: &ConvGeom) -> Operands {
        Operands {
            x: values(g.data_len(), 1),
            w: values(g.weight_len(), 2),
            b: values(g.filters, 3),
            scale: values(g.filters, 4).iter().map(|v| v + 1.5).collect(),
            res: values(g.output_len(), 5),
        }
    }

    /// ResNet-like data: activations after BatchNorm and ReLU (half zero, the rest O(1)),
    /// weights within ±0.3, a BatchNorm scale and bias folded in, a residual of the output's
    /// magnitude.
    fn realistic(g: &ConvGeom) -> Operands {
        let u = Operands::uniform(g);
        Operands {
            x: u.x.iter().map(|v| (1.8 * v).max(0.0)).collect(),
            w: u.w.iter().map(|v| 0.3 * v).collect(),
            b: u.b.iter().map(|v| 0.5 * v).collect(),
            scale: u.scale.iter().map(|v| 0.5 * v).collect(),
            res: u.res.iter().map(|v| 3.0 * v).collect(),
        }
    }
}

/// The blocked input of `case` with its halo (the plan's plus `in_extra_halo`), and its
/// layout.
fn blocked_input(case: &Case, x: &[f32]) -> (Vec<f32>, Blocked) {
    let g = &case.geom;
    let halo = g.pad[2] + case.in_extra_halo;
    let layout = Blocked::new(g.batch, g.channels, g.input[1], g.input[2], halo);
    let mut buf = vec![f32::NAN; layout.len()];
    to_blocked(x, &layout, &mut buf);
    (buf, layout)
}

/// The residual of `case`, blocked with one halo column.
fn blocked_residual(out_layout: &Blocked, res: &[f32]) -> (Vec<f32>, Blocked) {
    let layout = out_layout.with_halo(1);
    let mut buf = vec![f32::NAN; layout.len()];
    to_blocked(res, &layout, &mut buf);
    (buf, layout)
}

/// Runs `case` with `plan`, `isa` and `threads` on the blocked `input`; returns the blocked
/// output (every element written: it starts as NaN).
fn run(
    plan: &WinogradConv,
    case: &Case,
    ops: &Operands,
    input: (&[f32], &Blocked),
    isa: Isa,
    threads: usize,
) -> Vec<f32> {
    let mut packed = vec![f32::NAN; plan.packed_len()];
    plan.pack_weights(&ops.w, case.scale.then_some(&ops.scale[..]), &mut packed)
        .unwrap();
    let out_layout = plan.output_layout(case.out_halo);
    let (res_b, res_layout) = blocked_residual(&out_layout, &ops.res);
    let epilogue = Epilogue {
        bias: case.bias.then_some(&ops.b[..]),
        residual: case.residual.then_some((&res_b[..], res_layout)),
        relu: case.relu,
    };
    let mut out = vec![f32::NAN; out_layout.len()];
    plan.forward_with(
        isa,
        &ConvOperands::new(
            input.0,
            &InputStrides::blocked(input.1),
            &packed,
            &epilogue,
            &out_layout,
        ),
        &mut out,
        threads,
    )
    .unwrap();
    out
}

/// The same case with the direct kernel, as NCHW.
fn direct(case: &Case, ops: &Operands) -> Vec<f32> {
    let g = &case.geom;
    let plan = DirectConv::new(g, InputLayout::Blocked).unwrap().unwrap();
    let (input, layout) = blocked_input(case, &ops.x);
    let mut packed = vec![0.0; plan.packed_len()];
    plan.pack_weights(&ops.w, case.scale.then_some(&ops.scale[..]), &mut packed)
        .unwrap();
    let out_layout = plan.output_layout(0);
    let (res_b, res_layout) = blocked_residual(&out_layout, &ops.res);
    let epilogue = Epilogue {
        bias: case.bias.then_some(&ops.b[..]),
        residual: case.residual.then_some((&res_b[..], res_layout)),
        relu: case.relu,
    };
    let mut out = vec![0.0; out_layout.len()];
    plan.forward(
        &ConvOperands::new(
            &input,
            &InputStrides::blocked(&layout),
            &packed,
            &epilogue,
            &out_layout,
        ),
        &mut out,
        1,
    )
    .unwrap();
    let mut y = vec![0.0; g.output_len()];
    from_blocked(&out, &out_layout, &mut y);
    y
}

/// Checks that the padding channels and halo columns of the blocked `out` are zero, and
/// returns its NCHW part.
fn unblock(out: &[f32], layout: &Blocked, what: &str) -> Vec<f32> {
    for img in 0..layout.n {
        for cb in 0..layout.blocks() {
            for y in 0..layout.h {
                let row = img * layout.image() + cb * layout.plane() + y * layout.pitch();
                let halo = layout.halo * BLOCK;
                let left = &out[row..row + halo];
                let right = &out[row + layout.pitch() - halo..row + layout.pitch()];
                assert!(
                    left.iter().chain(right).all(|&v| v == 0.0),
                    "{what}: halo of ({img}, block {cb}, row {y})"
                );
                for x in 0..layout.w {
                    for ch in layout.c.max(cb * BLOCK)..(cb + 1) * BLOCK {
                        assert_eq!(
                            out[layout.offset(img, ch, y, x)],
                            0.0,
                            "{what}: padding channel {ch}"
                        );
                    }
                }
            }
        }
    }
    let mut y = vec![0.0; layout.n * layout.c * layout.h * layout.w];
    from_blocked(out, layout, &mut y);
    y
}

/// The largest `|got − want|` over `max |want|`.
fn relative_error(got: &[f32], want: &[f64]) -> f64 {
    assert_eq!(got.len(), want.len());
    let scale = want.iter().fold(f64::MIN_POSITIVE, |m, v| m.max(v.abs()));
    got.iter()
        .zip(want)
        .map(|(&a, &b)| (f64::from(a) - b).abs())
        .fold(0.0, f64::max)
        / scale
}

/// The same in `f32` against another `f32` result.
fn relative_error_f32(got: &[f32], want: &[f32]) -> f64 {
    relative_error(got, &want.iter().map(|&v| f64::from(v)).collect::<Vec<_>>())
}

/// The bound each variant is held to on the uniform test data (values in [-1, 1), up to 64
/// channels).
fn tolerance(variant: Variant) -> f64 {
    match variant {
        Variant::F2x2 => 1e-6,
        Variant::F4x4 => 3e-6,
    }
}

/// What the direct kernel's own rounding may add to a comparison with it.
const DIRECT_ERROR: f64 = 1e-6;

fn cases() -> Vec<Case> {
    let base = blocked_case;
    let g = |n, c, f, hw, p| geom(n, c, f, hw, [3, 3], [1, 1], p, [1, 1]);
    vec![
        // ResNet-style, output 9×9 (not a multiple of 2 or 4).
        Case {
            bias: true,
            relu: true,
            ..base(g(1, 32, 48, [9, 9], [1, 1]))
        },
        // Every epilogue, 5 and 7 channels, a wide odd row.
        Case {
            bias: true,
            residual: true,
            relu: true,
            scale: true,
            ..base(g(1, 5, 7, [6, 31], [1, 1]))
        },
        // Padding 2, extra input halo, output halo, 17 → 33 channels, batch 2.
        Case {
            in_extra_halo: 2,
            out_halo: 2,
            residual: true,
            ..base(g(2, 17, 33, [5, 29], [2, 2]))
        },
        // No padding, output 1×1 (one tile, mostly overhang).
        Case {
            bias: true,
            ..base(g(1, 16, 16, [3, 3], [0, 0]))
        },
        // No padding, output halo, batch 3.
        Case {
            bias: true,
            out_halo: 1,
            relu: true,
            ..base(g(3, 20, 40, [11, 10], [0, 0]))
        },
        // Different padding per axis.
        Case {
            scale: true,
            residual: true,
            ..base(g(2, 24, 20, [7, 12], [2, 0]))
        },
        Case {
            bias: true,
            relu: true,
            out_halo: 3,
            ..base(g(1, 40, 24, [13, 9], [0, 1]))
        },
        Case {
            in_extra_halo: 1,
            residual: true,
            relu: true,
            ..base(g(1, 3, 64, [10, 10], [1, 2]))
        },
        // One input row (padding above and below), 8 → 24 channels.
        Case {
            relu: true,
            ..base(g(2, 8, 24, [1, 40], [1, 1]))
        },
        // Many tiles: several matrix-product chunks and blocks of tiles.
        Case {
            bias: true,
            scale: true,
            ..base(g(2, 64, 40, [30, 27], [1, 1]))
        },
    ]
}

#[test]
fn winograd_matches_im2col_and_direct_on_every_isa() {
    for variant in VARIANTS {
        for case in cases() {
            let plan = WinogradConv::with_variant(&case.geom, variant)
                .unwrap()
                .expect("served");
            let ops = Operands::uniform(&case.geom);
            let want = expected(&case, &ops.x, &ops.w, &ops.b, &ops.scale, &ops.res);
            let reference = direct(&case, &ops);
            let (input, layout) = blocked_input(&case, &ops.x);
            let mut first: Option<Vec<f32>> = None;
            for isa in Isa::available() {
                let what = format!("{variant:?} {isa} {case:?}");
                let out = run(&plan, &case, &ops, (&input, &layout), isa, 1);
                let y = unblock(&out, &plan.output_layout(case.out_halo), &what);
                let err = relative_error(&y, &want);
                assert!(err <= tolerance(variant), "{what}: error {err:e}");
                let err = relative_error_f32(&y, &reference);
                assert!(
                    err <= tolerance(variant) + DIRECT_ERROR,
                    "{what}: {err:e} from direct"
                );
                // Every instruction set does the same arithmetic in the same order.
                match &first {
                    None => first = Some(out),
                    Some(f) => assert!(
                        f.iter().zip(&out).all(|(a, b)| a.to_bits() == b.to_bits()),
                        "{what}: differs from {}",
                        Isa::available()[0]
                    ),
                }
            }
        }
    }
}

#[test]
fn winograd_reads_nothing_outside_the_image() {
    // Halo columns, and the rows and columns past the image that edge tiles overhang, must
    // not matter: poison the halo with NaN (with padding 0 nothing may read it at all; with
    // padding 1 it stands for zeros the kernel must supply itself).
    for variant in VARIANTS {
        for p in [[0, 0], [1, 1], [2, 1]] {
            let case = Case {
                in_extra_halo: 2,
                bias: true,
                ..blocked_case(geom(2, 20, 24, [7, 9], [3, 3], [1, 1], p, [1, 1]))
            };
            let plan = WinogradConv::with_variant(&case.geom, variant)
                .unwrap()
                .unwrap();
            let ops = Operands::uniform(&case.geom);
            let (mut input, layout) = blocked_input(&case, &ops.x);
            for row in input.chunks_exact_mut(layout.pitch()) {
                let halo = layout.halo * BLOCK;
                let len = row.len();
                row[..halo].fill(f32::NAN);
                row[len - halo..].fill(f32::NAN);
            }
            let out = run(&plan, &case, &ops, (&input, &layout), Isa::current(), 1);
            let y = unblock(&out, &plan.output_layout(0), "poisoned halo");
            let want = expected(&case, &ops.x, &ops.w, &ops.b, &ops.scale, &ops.res);
            let err = relative_error(&y, &want);
            assert!(err <= tolerance(variant), "{variant:?} pad {p:?}: {err:e}");
        }
    }
}

#[test]
fn winograd_results_do_not_depend_on_threads_or_blocks() {
    // 63 input blocks: a few tiles per block of tiles; threads split 2·3·3 = 18 (F(2×2)) or
    // 2·2·2 = 8 (F(4×4)) tiles.
    let case = full_case(geom(2, 1000, 40, [6, 5], [3, 3], [1, 1], [1, 1], [1, 1]));
    let big = Case {
        geom: geom(3, 48, 64, [28, 28], [3, 3], [1, 1], [1, 1], [1, 1]),
        ..case
    };
    for case in [case, big] {
        let ops = Operands::uniform(&case.geom);
        let want = expected(&case, &ops.x, &ops.w, &ops.b, &ops.scale, &ops.res);
        let (input, layout) = blocked_input(&case, &ops.x);
        for variant in VARIANTS {
            let plan = WinogradConv::with_variant(&case.geom, variant)
                .unwrap()
                .unwrap();
            for isa in Isa::available() {
                let one = run(&plan, &case, &ops, (&input, &layout), isa, 1);
                let y = unblock(&one, &plan.output_layout(1), "threads");
                let err = relative_error(&y, &want);
                assert!(err <= tolerance(variant), "{variant:?} {isa}: {err:e}");
                for threads in [2, 3, 5] {
                    let other = run(&plan, &case, &ops, (&input, &layout), isa, threads);
                    assert!(
                        one.iter()
                            .zip(&other)
                            .all(|(a, b)| a.to_bits() == b.to_bits()),
                        "{variant:?} {isa}: {threads} threads differ from one"
                    );
                }
            }
        }
    }
}

/// A ResNet layer's case: scale and bias (BatchNorm), ReLU, and with `residual` the block's
/// shortcut added before it (the second convolution of a basic block).
fn realistic_case(geom: ConvGeom, residual: bool) -> Case {
    Case {
        in_extra_halo: 0,
        out_halo: 0,
        residual,
        ..full_case(geom)
    }
}

/// The worst relative error (`max |a − b| / max |b|`) of `variant` on `geom` with realistic
/// data ([`Operands::realistic`], [`realistic_case`]), against the `f64` reference and against
/// the direct kernel.
fn realistic_errors(geom: ConvGeom, variant: Variant, residual: bool) -> (f64, f64) {
    let case = realistic_case(geom, residual);
    let ops = Operands::realistic(&geom);
    let plan = WinogradConv::with_variant(&geom, variant).unwrap().unwrap();
    let (input, layout) = blocked_input(&case, &ops.x);
    let out = run(&plan, &case, &ops, (&input, &layout), Isa::current(), 2);
    let y = unblock(&out, &plan.output_layout(0), "realistic");
    let want = expected(&case, &ops.x, &ops.w, &ops.b, &ops.scale, &ops.res);
    (
        relative_error(&y, &want),
        relative_error_f32(&y, &direct(&case, &ops)),
    )
}

/// The executor's bound for a fused kernel against the unfused one.
const EXECUTOR_BOUND: f64 = 1e-5;

#[test]
fn winograd_error_on_resnet_like_layers_is_within_the_executor_bound() {
    // Channels 64..512 on small maps (the error does not grow with the map), both variants,
    // with and without the residual.
    for (c, side) in [(64, 12), (128, 10), (256, 8), (512, 7)] {
        let g = geom(1, c, c, [side, side], [3, 3], [1, 1], [1, 1], [1, 1]);
        for variant in VARIANTS {
            for residual in [false, true] {
                let (vs_f64, vs_direct) = realistic_errors(g, variant, residual);
                assert!(
                    vs_f64 <= EXECUTOR_BOUND / 2.0 && vs_direct <= EXECUTOR_BOUND / 2.0,
                    "{variant:?} C={c}: {vs_f64:e} from f64, {vs_direct:e} from direct"
                );
            }
        }
    }
}

#[test]
fn new_picks_the_variant_measured_faster() {
    // One thread on Zen 4: F(4×4) on ResNet's layers but its last at batch 1 (four tiles
    // against 37 MB of weights), F(2×2) on maps of 5×5 and less.
    let g = |n, c, side| geom(n, c, c, [side, side], [3, 3], [1, 1], [1, 1], [1, 1]);
    for (geom, want) in [
        (g(1, 64, 56), Variant::F4x4),
        (g(1, 128, 28), Variant::F4x4),
        (g(1, 256, 14), Variant::F4x4),
        (g(1, 512, 7), Variant::F2x2),
        (g(2, 512, 7), Variant::F4x4),
        (g(32, 512, 7), Variant::F4x4),
        (g(1, 512, 14), Variant::F4x4),
        (g(1, 64, 7), Variant::F4x4),
        (g(1, 64, 5), Variant::F2x2),
        (g(1, 256, 4), Variant::F2x2),
    ] {
        let plan = WinogradConv::new(&geom).unwrap().unwrap();
        assert_eq!(plan.variant(), want, "{geom:?}");
    }
}

/// Prints the worst relative errors of both variants on ResNet-18's 3×3 stride-1 layers
/// (`cargo test -p mxr-kernels --release --lib winograd_error_report -- --ignored
/// --nocapture`).
#[test]
#[ignore = "a report, slow: run by hand"]
fn winograd_error_report() {
    for (name, c, side) in [
        ("r18_l1_3x3", 64, 56),
        ("r18_l2_3x3", 128, 28),
        ("r18_l3_3x3", 256, 14),
        ("r18_l4_3x3", 512, 7),
    ] {
        let g = geom(1, c, c, [side, side], [3, 3], [1, 1], [1, 1], [1, 1]);
        for residual in [false, true] {
            for variant in VARIANTS {
                let (vs_f64, vs_direct) = realistic_errors(g, variant, residual);
                println!(
                    "{name:>12} residual {residual:5} {variant:?}: {vs_f64:.2e} from f64, \
                     {vs_direct:.2e} from direct"
                );
            }
            let case = realistic_case(g, residual);
            let ops = Operands::realistic(&g);
            let want = expected(&case, &ops.x, &ops.w, &ops.b, &ops.scale, &ops.res);
            let direct_err = relative_error(&direct(&case, &ops), &want);
            println!("{name:>12} residual {residual:5} direct: {direct_err:.2e} from f64");
        }
    }
}

#[test]
fn unserved_geometries_and_bad_buffers() {
    let g3 = |s, p, d| geom(1, 4, 4, [9, 9], [3, 3], s, p, d);
    for unserved in [
        g3([2, 2], [1, 1], [1, 1]),
        g3([1, 1], [3, 3], [1, 1]),
        g3([1, 1], [1, 1], [2, 2]),
        geom(1, 4, 4, [9, 9], [5, 5], [1, 1], [1, 1], [1, 1]),
        geom(1, 4, 4, [9, 9], [1, 1], [1, 1], [0, 0], [1, 1]),
        geom(1, 4, 4, [1, 9], [1, 3], [1, 1], [0, 1], [1, 1]),
        ConvGeom::new_2d(1, 4, 4, 2, [5, 5], [3, 3], [1, 1], [1, 1], [1, 1]),
    ] {
        assert!(
            WinogradConv::new(&unserved).unwrap().is_none(),
            "{unserved:?}"
        );
    }
    let too_small = geom(1, 4, 4, [1, 1], [3, 3], [1, 1], [0, 0], [1, 1]);
    assert!(WinogradConv::new(&too_small).is_err());
    let no_channels = geom(1, 0, 4, [5, 5], [3, 3], [1, 1], [1, 1], [1, 1]);
    assert!(WinogradConv::new(&no_channels).is_err());

    let g = geom(1, 4, 8, [5, 5], [3, 3], [1, 1], [1, 1], [1, 1]);
    let plan = WinogradConv::new(&g).unwrap().unwrap();
    let mut packed = vec![0.0; plan.packed_len()];
    let err = plan.pack_weights(&[0.0; 3], None, &mut packed).unwrap_err();
    assert!(err.to_string().contains("weight has 3 elements"), "{err}");
    let err = plan
        .pack_weights(&[0.0; 8 * 4 * 9], Some(&[1.0; 7]), &mut packed)
        .unwrap_err();
    assert!(err.to_string().contains("weight scale has 7"), "{err}");
    let err = plan
        .pack_weights(&[0.0; 8 * 4 * 9], None, &mut packed[1..])
        .unwrap_err();
    assert!(err.to_string().contains("packed weight"), "{err}");

    let out_layout = plan.output_layout(0);
    let mut out = vec![0.0; out_layout.len()];
    let forward =
        |x: &[f32], layout: &Blocked, ep: &Epilogue<'_>, out: &mut [f32], ol: &Blocked| {
            plan.forward(
                &ConvOperands::new(x, &InputStrides::blocked(layout), &packed, ep, ol),
                out,
                1,
            )
            .unwrap_err()
            .to_string()
        };
    let with_halo = Blocked::new(1, 4, 5, 5, 1);
    let layouts = [Blocked::new(1, 4, 5, 5, 0), with_halo];
    assert_operand_errors(layouts, &out_layout, Blocked::new(1, 8, 4, 5, 0), forward);
    let x = vec![0.0; with_halo.len()];
    // The same buffers, right, run.
    let (strides, ep) = (InputStrides::blocked(&with_halo), Epilogue::default());
    plan.forward(
        &ConvOperands::new(&x, &strides, &packed, &ep, &out_layout),
        &mut out,
        1,
    )
    .unwrap();
    assert!(out.iter().all(|&v| v == 0.0));
}

#[test]
fn nchw_forward_takes_winograd_where_it_pays_and_matches_im2col() {
    use super::super::direct::forward_nchw_with;
    // Taken (unless MXR_WINOGRAD=0): 16×16 outputs, 2 images, 32 → 48 channels, padding 1
    // and 0. Declined: too few pixels, too few channels, a 3×3 output, stride 2.
    let g = |n, c, f, hw, s, p| geom(n, c, f, hw, [3, 3], [s, s], [p, p], [1, 1]);
    for served in [g(2, 32, 48, [16, 16], 1, 1), g(1, 20, 17, [18, 20], 1, 0)] {
        assert_eq!(plan_nchw(&served).is_some(), enabled(), "{served:?}");
        let case = Case {
            bias: true,
            ..blocked_case(served)
        };
        let ops = Operands::uniform(&served);
        let want = expected(&case, &ops.x, &ops.w, &ops.b, &ops.scale, &ops.res);
        let variant = plan_nchw(&served).map_or(Variant::F4x4, |p| p.variant());
        for isa in Isa::available().into_iter().filter(|&i| i >= Isa::Avx2) {
            for threads in [1, 2] {
                let mut y = vec![f32::NAN; served.output_len()];
                let taken = forward_nchw_with(
                    isa,
                    &NchwOperands::new(&served, &ops.x, &ops.w, Some(&ops.b)),
                    &mut y,
                    threads,
                )
                .unwrap();
                assert_eq!(taken, enabled(), "{served:?} {isa:?}");
                if taken {
                    let err = relative_error(&y, &want);
                    assert!(
                        err <= tolerance(variant),
                        "{served:?} {isa:?}: error {err:e}"
                    );
                }
            }
        }
    }
    for declined in [
        g(1, 32, 32, [8, 8], 1, 1),
        g(4, 8, 32, [16, 16], 1, 1),
        g(64, 32, 32, [3, 3], 1, 0),
        g(4, 32, 32, [33, 33], 2, 1),
    ] {
        assert!(plan_nchw(&declined).is_none(), "{declined:?}");
        let mut y = vec![f32::NAN; declined.output_len()];
        let x = values(declined.data_len(), 1);
        let w = values(declined.weight_len(), 2);
        // The direct kernel may still take it (the first), but not through Winograd: its
        // result is the direct kernel's bits.
        let mut direct = y.clone();
        let isa = Isa::current();
        let took =
            forward_nchw_with(isa, &NchwOperands::new(&declined, &x, &w, None), &mut y, 1).unwrap();
        if took {
            let plan = DirectConv::new_for(&declined, InputLayout::Blocked, isa)
                .unwrap()
                .unwrap();
            let (xin, layout) = blocked_input(&blocked_case(declined), &x);
            let mut packed = vec![0.0; plan.packed_len()];
            plan.pack_weights(&w, None, &mut packed).unwrap();
            let out_layout = plan.output_layout(0);
            let mut out = vec![0.0; out_layout.len()];
            let strides = InputStrides::blocked(&layout);
            let ep = Epilogue::default();
            plan.forward(
                &ConvOperands::new(&xin, &strides, &packed, &ep, &out_layout),
                &mut out,
                1,
            )
            .unwrap();
            from_blocked(&out, &out_layout, &mut direct);
            assert_eq!(y, direct, "{declined:?}");
        }
    }
}
