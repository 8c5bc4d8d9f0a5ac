//! The Winograd kernels against the im2col path (in `f64`, the reference) and the direct
//! kernel (in `f32`): both variants, padding 0, 1 and 2 (also different per axis), output sides
//! that are not multiples of the tile, channel counts that are not multiples of 16, batch 1 and
//! several, input and output halos, every epilogue, blocks of tiles and threads, every
//! instruction set this CPU has; the error on ResNet-style layers with realistic data; and the
//! error cases.

use super::super::blocked::{Blocked, from_blocked, to_blocked};
use super::super::direct::tests::{Case, blocked_case, expected, full_case, geom, values};
use super::super::direct::{DirectConv, InputLayout};
use super::*;

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
        input.0,
        &InputStrides::blocked(input.1),
        &packed,
        &epilogue,
        &mut out,
        &out_layout,
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
        &input,
        &InputStrides::blocked(&layout),
        &packed,
        &epilogue,
        &mut out,
        &out_layout,
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
    let forward = |x: &[f32], layout: &Blocked, ep: &Epilogue<'_>, out: &mut [f32], ol| {
        plan.forward(x, &InputStrides::blocked(layout), &packed, ep, out, ol, 1)
            .unwrap_err()
            .to_string()
    };
    let no_halo = Blocked::new(1, 4, 5, 5, 0);
    let x0 = vec![0.0; no_halo.len()];
    let err = forward(&x0, &no_halo, &Epilogue::default(), &mut out, &out_layout);
    assert!(err.contains("halo of at least 1"), "{err}");
    let with_halo = Blocked::new(1, 4, 5, 5, 1);
    let x = vec![0.0; with_halo.len()];
    let err = forward(
        &x[1..],
        &with_halo,
        &Epilogue::default(),
        &mut out,
        &out_layout,
    );
    assert!(err.contains("data has"), "{err}");
    let bias = Epilogue {
        bias: Some(&[1.0; 3]),
        ..Epilogue::default()
    };
    let err = forward(&x, &with_halo, &bias, &mut out, &out_layout);
    assert!(err.contains("bias has 3 elements"), "{err}");
    let wrong = Blocked::new(1, 8, 4, 5, 0);
    let err = forward(&x, &with_halo, &Epilogue::default(), &mut out, &wrong);
    assert!(err.contains("output layout"), "{err}");
    let err = forward(
        &x,
        &with_halo,
        &Epilogue::default(),
        &mut out[1..],
        &out_layout,
    );
    assert!(err.contains("output has"), "{err}");
    let res = vec![0.0; wrong.len()];
    let residual = Epilogue {
        residual: Some((&res, wrong)),
        ..Epilogue::default()
    };
    let err = forward(&x, &with_halo, &residual, &mut out, &out_layout);
    assert!(err.contains("residual layout"), "{err}");
    // The same buffers, right, run.
    plan.forward(
        &x,
        &InputStrides::blocked(&with_halo),
        &packed,
        &Epilogue::default(),
        &mut out,
        &out_layout,
        1,
    )
    .unwrap();
    assert!(out.iter().all(|&v| v == 0.0));
}

/// The weight transform as a plain scalar loop (the definition): `U = G g Gᵀ · scale` in
/// `f32` with `G` rounded to `f32`, multiplications and additions in this order, in the
/// packed layout.
fn packed_by_definition(plan: &WinogradConv, w: &[f32], scale: Option<&[f32]>) -> Vec<f32> {
    let g = plan.geom();
    let (c, f) = (g.channels, g.filters);
    let gm: &[[f32; 3]] = match plan.variant() {
        Variant::F2x2 => &G2_F32,
        Variant::F4x4 => &G4_F32,
    };
    let (a, t) = (plan.variant().alpha(), plan.variant().positions());
    let lanes = plan.nv * BLOCK;
    let mut dst = vec![0.0f32; plan.packed_len()];
    for oc in 0..f {
        let s = scale.map_or(1.0, |s| s[oc]);
        let (og, j) = (oc / lanes, oc % lanes);
        for ic in 0..c {
            let k = &w[(oc * c + ic) * 9..][..9];
            for xi in 0..t {
                let (p, q) = (xi / a, xi % a);
                let gg = |l: usize| gm[p][0] * k[l] + gm[p][1] * k[3 + l] + gm[p][2] * k[6 + l];
                let u = gg(0) * gm[q][0] + gg(1) * gm[q][1] + gg(2) * gm[q][2];
                let at = (((og * t + xi) * plan.ic_blocks + ic / BLOCK) * BLOCK + ic % BLOCK)
                    * lanes
                    + j;
                dst[at] = u * s;
            }
        }
    }
    dst
}

#[test]
fn packed_weights_are_the_definition_on_every_isa_and_thread_count() {
    for variant in VARIANTS {
        for (c, f) in [(3, 5), (17, 16), (20, 40), (64, 96)] {
            let g = geom(1, c, f, [8, 8], [3, 3], [1, 1], [1, 1], [1, 1]);
            let plan = WinogradConv::with_variant(&g, variant).unwrap().unwrap();
            let w = values(g.weight_len(), 7);
            let scale: Vec<f32> = values(f, 8).iter().map(|v| v + 1.5).collect();
            for sc in [None, Some(&scale[..])] {
                let want = packed_by_definition(&plan, &w, sc);
                for isa in Isa::available() {
                    for threads in [1, 2, 3] {
                        let mut got = vec![f32::NAN; plan.packed_len()];
                        plan.pack_weights_with(isa, &w, sc, &mut got, threads)
                            .unwrap();
                        assert_eq!(
                            got,
                            want,
                            "{variant:?}, C {c}, F {f}, scale {}, {isa:?}, {threads} threads",
                            sc.is_some()
                        );
                    }
                }
            }
        }
    }
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
                let taken =
                    forward_nchw_with(isa, &served, &ops.x, &ops.w, Some(&ops.b), &mut y, threads)
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
        let took = forward_nchw_with(isa, &declined, &x, &w, None, &mut y, 1).unwrap();
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
            plan.forward(&xin, &strides, &packed, &ep, &mut out, &out_layout, 1)
                .unwrap();
            from_blocked(&out, &out_layout, &mut direct);
            assert_eq!(y, direct, "{declined:?}");
        }
    }
}

#[test]
fn flipped_packing_is_the_packing_of_the_flipped_transpose() {
    // The data gradient's weights: w'[f][c][k] = w[c][f][8 − k] for the plan with C input
    // and F output channels, from the forward weights `w` (`C × F × 3 × 3`).
    for variant in VARIANTS {
        for (c, f) in [(3, 5), (17, 16), (20, 40), (64, 96)] {
            let g = geom(1, c, f, [8, 8], [3, 3], [1, 1], [1, 1], [1, 1]);
            let plan = WinogradConv::with_variant(&g, variant).unwrap().unwrap();
            let w = values(c * f * 9, 9);
            let mut flipped = vec![0.0; w.len()];
            for (i, v) in flipped.iter_mut().enumerate() {
                let (of, oc, k) = (i / (c * 9), i / 9 % c, i % 9);
                *v = w[(oc * f + of) * 9 + 8 - k];
            }
            let want = packed_by_definition(&plan, &flipped, None);
            for isa in Isa::available() {
                for threads in [1, 2] {
                    let mut got = vec![f32::NAN; plan.packed_len()];
                    plan.pack_flipped_with(isa, &w, &mut got, threads).unwrap();
                    assert_eq!(got, want, "{variant:?}, C {c}, F {f}, {isa:?}, {threads}");
                }
            }
        }
    }
}

#[test]
fn large_packs_streamed_to_aligned_memory_are_the_definition() {
    // F(4×4) with 256 → 288 channels packs 10.6 MB: streamed (AVX-512) when the buffer is
    // 64-byte aligned, ordinary stores one float off the boundary; the bits are the same.
    let g = geom(1, 256, 288, [8, 8], [3, 3], [1, 1], [1, 1], [1, 1]);
    let plan = WinogradConv::with_variant(&g, Variant::F4x4)
        .unwrap()
        .unwrap();
    assert!(plan.packed_len() * 4 >= STREAM_MIN_BYTES);
    let w = values(g.weight_len(), 11);
    let scale: Vec<f32> = values(g.filters, 12).iter().map(|v| v + 1.5).collect();
    let want = packed_by_definition(&plan, &w, Some(&scale));
    let mut flipped_w = vec![0.0; w.len()];
    let (c, f) = (g.channels, g.filters);
    // w'[c][f][k] = w[f][c][8 − k]: packing w' flipped gives w's packing.
    for (i, v) in flipped_w.iter_mut().enumerate() {
        let (ic, of, k) = (i / (f * 9), i / 9 % f, i % 9);
        *v = w[(of * c + ic) * 9 + 8 - k];
    }
    let want_flipped = packed_by_definition(&plan, &w, None);
    let mut buf = Vec::new();
    for isa in Isa::available() {
        for misalign in [0, 1] {
            let dst = &mut super::super::direct::aligned(&mut buf, plan.packed_len() + 1)
                [misalign..misalign + plan.packed_len()];
            dst.fill(f32::NAN);
            plan.pack_weights_with(isa, &w, Some(&scale), dst, 2)
                .unwrap();
            assert!(dst == &want[..], "{isa:?}, misaligned by {misalign}");
            dst.fill(f32::NAN);
            plan.pack_flipped_with(isa, &flipped_w, dst, 2).unwrap();
            assert!(
                dst == &want_flipped[..],
                "flipped, {isa:?}, misaligned by {misalign}"
            );
        }
    }
}

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
    use super::dgrad::WinogradDgrad;
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
                corr.forward_with(isa, &dyb, &strides, &packed, &ep, &mut out, &out_layout, 2)
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
    use super::dgrad::{WinogradDgrad, plan};
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
    let wgrad = super::wgrad::plan(&lenet2);
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
    use super::dgrad::WinogradDgrad;
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
    use super::super::backward::backward_nchw_with;
    use super::super::direct::forward_nchw_with;
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
            assert!(forward_nchw_with(isa, &g, &x, &w, Some(&b), &mut y, threads).unwrap());
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
