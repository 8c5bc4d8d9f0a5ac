//! Pooling against MXNet 1.9.1's values and a naive reference: every type, both conventions'
//! sizes, padding, 1-D/2-D/3-D, the backward (max ties, linearity of avg/sum), and errors.
use super::overlap::Overlap3;
use super::*;
use crate::cpu::isa::Isa;
use crate::cpu::test_util::{LCG_MUL, lcg_values};

fn values(n: usize, seed: u64) -> Vec<f64> {
    lcg_values(n, seed.wrapping_mul(LCG_MUL) ^ 0x9e37_79b9_7f4a_7c15)
}

/// An input for `geom` of small integers from `seed` (so that windows hold ties), in `f64`
/// and in `f32`.
fn tied_input(geom: &PoolGeom, seed: u64) -> (Vec<f64>, Vec<f32>) {
    let x64: Vec<f64> = values(geom.input_len(), seed)
        .iter()
        .map(|v| (v * 2.0).round())
        .collect();
    let x = x64.iter().map(|&v| v as f32).collect();
    (x64, x)
}

fn forward(geom: &PoolGeom, kind: PoolType, x: &[f64]) -> Vec<f64> {
    let mut y = vec![f64::NAN; geom.output_len()];
    pool_forward(geom, kind, x, &mut y).unwrap();
    y
}

fn geom_3d(
    planes: usize,
    input: [usize; 3],
    kernel: [usize; 3],
    stride: [usize; 3],
    pad: [usize; 3],
    full: bool,
) -> PoolGeom {
    let output = std::array::from_fn(|d| {
        pool_output_size(input[d], kernel[d], stride[d], pad[d], full).unwrap()
    });
    PoolGeom {
        planes,
        input,
        output,
        kernel,
        stride,
        pad,
    }
}

#[test]
fn mxnet_values() {
    // Values printed by MXNet 1.9.1 (mx.nd.Pooling).
    let g = PoolGeom::new_2d(1, [3, 3], [2, 2], [2, 2], [2, 2], [1, 1]);
    let ones = [1.0f64; 9];
    assert_eq!(
        forward(
            &g,
            PoolType::Avg {
                count_include_pad: true
            },
            &ones
        ),
        [0.25, 0.5, 0.5, 1.0]
    );
    assert_eq!(
        forward(
            &g,
            PoolType::Avg {
                count_include_pad: false
            },
            &ones
        ),
        [1.0; 4]
    );
    assert_eq!(forward(&g, PoolType::Sum, &ones), [1.0, 2.0, 2.0, 4.0]);

    let x: Vec<f64> = (1..=9).map(f64::from).collect();
    let full = geom_3d(1, [1, 3, 3], [1, 2, 2], [1, 2, 2], [0; 3], true);
    assert_eq!(full.output, [1, 2, 2]);
    assert_eq!(forward(&full, PoolType::Max, &x), [5.0, 6.0, 8.0, 9.0]);
    assert_eq!(
        forward(
            &full,
            PoolType::Avg {
                count_include_pad: true
            },
            &x
        ),
        [3.0, 4.5, 7.5, 9.0]
    );

    let neg: Vec<f64> = x.iter().map(|v| -v).collect();
    let padded = geom_3d(1, [1, 3, 3], [1, 2, 2], [1; 3], [0, 1, 1], false);
    assert_eq!(
        forward(&padded, PoolType::Max, &neg),
        [
            -1.0, -1.0, -2.0, -3.0, -1.0, -1.0, -2.0, -3.0, -4.0, -4.0, -5.0, -6.0, -7.0, -7.0,
            -8.0, -9.0
        ]
    );

    let exclude = geom_3d(1, [1, 3, 3], [1, 3, 3], [1; 3], [0, 2, 2], false);
    let y = forward(
        &exclude,
        PoolType::Avg {
            count_include_pad: false,
        },
        &x,
    );
    assert_eq!(
        &y[..12],
        [1.0, 1.5, 2.0, 2.5, 3.0, 2.5, 3.0, 3.5, 4.0, 4.5, 4.0, 4.5]
    );

    // 1-D, full convention: 1..7, kernel 3, stride 2.
    let seq: Vec<f64> = (1..=7).map(f64::from).collect();
    let one_d = geom_3d(1, [1, 1, 7], [1, 1, 3], [1, 1, 2], [0; 3], true);
    assert_eq!(
        forward(
            &one_d,
            PoolType::Avg {
                count_include_pad: true
            },
            &seq
        ),
        [2.0, 4.0, 6.0]
    );

    // 3-D sum: 1..24 as (2, 3, 4), kernel 2.
    let cube: Vec<f64> = (1..=24).map(f64::from).collect();
    let three_d = geom_3d(1, [2, 3, 4], [2; 3], [1; 3], [0; 3], false);
    assert_eq!(
        forward(&three_d, PoolType::Sum, &cube),
        [76.0, 84.0, 92.0, 108.0, 116.0, 124.0]
    );

    // Global average of two 3×4 planes.
    let global = geom_3d(2, [1, 3, 4], [1, 3, 4], [1; 3], [0; 3], false);
    let planes: Vec<f32> = (1..=24).map(|v| v as f32).collect();
    let mut y = [0.0f32; 2];
    pool_forward(
        &global,
        PoolType::Avg {
            count_include_pad: true,
        },
        &planes,
        &mut y,
    )
    .unwrap();
    assert_eq!(y, [6.5, 18.5]);
}

#[test]
fn output_sizes() {
    // 6×6, kernel 3, stride 2: valid 2, full 3 (shared/spec/operators.md).
    assert_eq!(pool_output_size(6, 3, 2, 0, false), Some(2));
    assert_eq!(pool_output_size(6, 3, 2, 0, true), Some(3));
    assert_eq!(pool_output_size(7, 2, 2, 0, false), Some(3));
    assert_eq!(pool_output_size(3, 4, 1, 0, false), None);
    assert_eq!(pool_output_size(3, 4, 1, 1, false), Some(2));
    assert_eq!(pool_output_size(3, 2, 0, 0, false), None);
}

/// Naive max with first-position argmax, written independently of `Window`.
fn naive_max(geom: &PoolGeom, x: &[f64]) -> (Vec<f64>, Vec<Option<usize>>) {
    let spatial: usize = geom.input.iter().product();
    let mut y = Vec::new();
    let mut arg = Vec::new();
    for p in 0..geom.planes {
        for od in 0..geom.output[0] {
            for oh in 0..geom.output[1] {
                for ow in 0..geom.output[2] {
                    let mut best: Option<(f64, usize)> = None;
                    for kd in 0..geom.kernel[0] {
                        for kh in 0..geom.kernel[1] {
                            for kw in 0..geom.kernel[2] {
                                let c = [
                                    (od * geom.stride[0] + kd) as isize - geom.pad[0] as isize,
                                    (oh * geom.stride[1] + kh) as isize - geom.pad[1] as isize,
                                    (ow * geom.stride[2] + kw) as isize - geom.pad[2] as isize,
                                ];
                                if (0..3).any(|d| c[d] < 0 || c[d] >= geom.input[d] as isize) {
                                    continue;
                                }
                                let i = p * spatial
                                    + ((c[0] as usize * geom.input[1]) + c[1] as usize)
                                        * geom.input[2]
                                    + c[2] as usize;
                                if best.is_none_or(|(b, _)| x[i] > b) {
                                    best = Some((x[i], i));
                                }
                            }
                        }
                    }
                    y.push(best.map_or(f64::MIN, |b| b.0));
                    arg.push(best.map(|b| b.1));
                }
            }
        }
    }
    (y, arg)
}

/// The max gradient the reference expects: each output's `g` added, in output order, at its
/// window's first maximum `arg` (from [`naive_max`]); zero elsewhere in an input of `len`.
fn to_first_max<T: PoolElement>(arg: &[Option<usize>], g: &[T], len: usize) -> Vec<T> {
    let mut dx = vec![T::ZERO; len];
    for (&at, &gv) in arg.iter().zip(g) {
        if let Some(i) = at {
            dx[i] += gv;
        }
    }
    dx
}

#[test]
fn max_matches_the_naive_reference_and_routes_gradients_to_the_first_max() {
    let cases = [
        geom_3d(3, [1, 6, 6], [1, 2, 2], [1, 2, 2], [0; 3], false),
        geom_3d(2, [1, 7, 5], [1, 3, 2], [1, 2, 1], [0, 1, 1], true),
        geom_3d(2, [3, 4, 5], [2, 2, 3], [1, 2, 2], [1, 0, 1], false),
        geom_3d(1, [1, 1, 9], [1, 1, 4], [1, 1, 3], [0, 0, 2], true),
        // Tiled windows (stride = kernel, no padding; `Tiles`), with an unused last column,
        // and the same with the last window clipped (`full`: the general path).
        geom_3d(4, [1, 8, 7], [1, 2, 2], [1, 2, 2], [0; 3], false),
        geom_3d(2, [1, 9, 8], [1, 3, 2], [1, 3, 2], [0; 3], false),
        geom_3d(2, [1, 8, 7], [1, 2, 2], [1, 2, 2], [0; 3], true),
    ];
    for geom in cases {
        // Rounded values so windows contain ties.
        let x: Vec<f64> = values(geom.input_len(), 7)
            .iter()
            .map(|v| (v * 3.0).round())
            .collect();
        let (want_y, want_arg) = naive_max(&geom, &x);
        let y = forward(&geom, PoolType::Max, &x);
        assert_eq!(y, want_y, "{geom:?}");
        let g = values(geom.output_len(), 8);
        let mut dx = vec![f64::NAN; x.len()];
        pool_backward(&geom, PoolType::Max, &g, &x, &y, &mut dx).unwrap();
        assert_eq!(dx, to_first_max(&want_arg, &g, x.len()), "{geom:?}");
    }
    // Ties: the whole window is equal; only the first element gets the gradient.
    let geom = PoolGeom::new_2d(1, [2, 2], [1, 1], [2, 2], [1, 1], [0, 0]);
    let mut dx = [0.0f32; 4];
    pool_backward(&geom, PoolType::Max, &[3.0], &[5.0; 4], &[5.0], &mut dx).unwrap();
    assert_eq!(dx, [3.0, 0.0, 0.0, 0.0]);
}

#[test]
fn avg_and_sum_backward_are_the_transposed_forward() {
    let cases = [
        geom_3d(2, [1, 5, 5], [1, 2, 2], [1, 2, 2], [0, 1, 1], false),
        geom_3d(1, [1, 7, 4], [1, 3, 3], [1, 2, 1], [0, 1, 1], true),
        geom_3d(1, [2, 3, 4], [2, 2, 2], [1, 1, 2], [1, 1, 0], true),
    ];
    let kinds = [
        PoolType::Avg {
            count_include_pad: true,
        },
        PoolType::Avg {
            count_include_pad: false,
        },
        PoolType::Sum,
    ];
    for geom in cases {
        for kind in kinds {
            // The forward is linear: dx[i] = Σ_o g[o] · forward(e_i)[o].
            let g = values(geom.output_len(), 3);
            let mut dx = vec![f64::NAN; geom.input_len()];
            let unused = vec![0.0; geom.input_len()];
            pool_backward(&geom, kind, &g, &unused, &[], &mut dx).unwrap();
            for i in 0..geom.input_len() {
                let mut e = vec![0.0; geom.input_len()];
                e[i] = 1.0;
                let col = forward(&geom, kind, &e);
                let want: f64 = col.iter().zip(&g).map(|(a, b)| a * b).sum();
                assert!(
                    (dx[i] - want).abs() < 1e-12,
                    "{geom:?} {kind:?} dx[{i}]: {} vs {want}",
                    dx[i]
                );
            }
        }
    }
}

#[test]
fn errors() {
    let geom = PoolGeom::new_2d(1, [4, 4], [2, 2], [2, 2], [2, 2], [0, 0]);
    let x = [0.0f32; 16];
    let mut y = [0.0f32; 4];
    pool_forward(&geom, PoolType::Max, &x, &mut y).unwrap();
    let err = pool_forward(&geom, PoolType::Max, &x[1..], &mut y).unwrap_err();
    assert_eq!(
        err,
        PoolError::Length {
            what: "input",
            len: 15,
            needed: 16
        }
    );
    let err = pool_forward(&geom, PoolType::Sum, &x, &mut y[1..]).unwrap_err();
    assert!(err.to_string().contains("output has 3 elements"), "{err}");
    let zero = PoolGeom {
        stride: [1, 0, 2],
        ..geom
    };
    let err = pool_forward(&zero, PoolType::Sum, &x, &mut y).unwrap_err();
    assert!(err.to_string().contains("positive"), "{err}");
    let mut dx = [0.0f32; 16];
    let err = pool_backward(&geom, PoolType::Max, &y, &x, &y[1..], &mut dx).unwrap_err();
    assert!(err.to_string().contains("output"), "{err}");
}

#[test]
fn many_planes_split_across_threads_match_plane_by_plane() {
    // LeNet's first pooling on 40 images: 20 channels of 24×24 → 12×12, 460,800 inputs.
    let planes = 800;
    let whole = PoolGeom::new_2d(planes, [24, 24], [12, 12], [2, 2], [2, 2], [0, 0]);
    let one = PoolGeom::new_2d(1, [24, 24], [12, 12], [2, 2], [2, 2], [0, 0]);
    if crate::cpu::parallel::num_threads() > 1 {
        assert!(super::plane_groups(planes, 576).is_some(), "split");
    }
    let x: Vec<f32> = (0..planes * 576)
        .map(|i| ((i * 7919) % 1009) as f32 / 1009.0 - 0.5)
        .collect();
    let g: Vec<f32> = (0..planes * 144)
        .map(|i| ((i * 104_729) % 997) as f32 / 997.0)
        .collect();
    for kind in [
        PoolType::Max,
        PoolType::Avg {
            count_include_pad: true,
        },
    ] {
        let mut y = vec![f32::NAN; planes * 144];
        pool_forward(&whole, kind, &x, &mut y).unwrap();
        let mut dx = vec![f32::NAN; planes * 576];
        pool_backward(&whole, kind, &g, &x, &y, &mut dx).unwrap();
        for p in 0..planes {
            let (xp, gp) = (&x[p * 576..(p + 1) * 576], &g[p * 144..(p + 1) * 144]);
            let mut yp = vec![0.0f32; 144];
            pool_forward(&one, kind, xp, &mut yp).unwrap();
            assert_eq!(&y[p * 144..(p + 1) * 144], &yp[..], "{kind:?} plane {p}");
            let mut dxp = vec![0.0f32; 576];
            pool_backward(&one, kind, gp, xp, &yp, &mut dxp).unwrap();
            assert_eq!(&dx[p * 576..(p + 1) * 576], &dxp[..], "{kind:?} plane {p}");
        }
    }
}

#[test]
fn tiled_windows_are_recognised() {
    let tiles = |g: PoolGeom| {
        let [wd, wh, ww] = g.windows().unwrap();
        Tiles::of(&wd, &wh, &ww).map(|t| [t.kh, t.kw, t.oh, t.ow])
    };
    assert_eq!(
        tiles(geom_3d(1, [1, 8, 7], [1, 2, 2], [1, 2, 2], [0; 3], false)),
        Some([2, 2, 4, 3])
    );
    assert_eq!(
        tiles(geom_3d(1, [1, 9, 8], [1, 3, 2], [1, 3, 2], [0; 3], false)),
        Some([3, 2, 3, 4])
    );
    // Clipped (`full`), overlapping, padded or 3-D windows take the general path.
    assert_eq!(
        tiles(geom_3d(1, [1, 8, 7], [1, 2, 2], [1, 2, 2], [0; 3], true)),
        None
    );
    assert_eq!(
        tiles(geom_3d(1, [1, 8, 8], [1, 3, 3], [1, 2, 2], [0; 3], false)),
        None
    );
    assert_eq!(
        tiles(geom_3d(
            1,
            [1, 8, 8],
            [1, 2, 2],
            [1, 2, 2],
            [0, 1, 1],
            false
        )),
        None
    );
    assert_eq!(
        tiles(geom_3d(1, [2, 8, 8], [2, 2, 2], [2, 2, 2], [0; 3], false)),
        None
    );
}

#[test]
fn f32_two_by_two_gradient_matches_the_reference_on_every_instruction_set() {
    // Rows of 1 to 32 windows and more: four at a time through the vectorised kernel where
    // the CPU has AVX2, the rest of a row (none in LeNet's 12 and 4) in scalar code; rounded
    // values so windows hold ties; odd last input columns and rows (not covered by a window:
    // zeroed), and one or several planes (bands of all planes as one stretch).
    for isa in Isa::available() {
        for (planes, ih) in [(1, 2), (3, 6), (2, 7), (4, 3)] {
            for iw in [2, 3, 8, 9, 16, 24, 25, 31, 32, 33, 41, 64, 65] {
                let geom = geom_3d(planes, [1, ih, iw], [1, 2, 2], [1, 2, 2], [0; 3], false);
                let (x64, x) = tied_input(&geom, 11);
                let (want_y, want_arg) = naive_max(&geom, &x64);
                let mut y = vec![f32::NAN; geom.output_len()];
                pool_forward(&geom, PoolType::Max, &x, &mut y).unwrap();
                assert_eq!(y.iter().map(|&v| f64::from(v)).collect::<Vec<_>>(), want_y);
                let g: Vec<f32> = (0..geom.output_len()).map(|i| i as f32 + 1.0).collect();
                let mut dx = vec![f32::NAN; x.len()];
                pool_backward_with(isa, &geom, PoolType::Max, &g, &x, &y, &mut dx).unwrap();
                let want_dx = to_first_max(&want_arg, &g, x.len());
                assert_eq!(dx, want_dx, "{isa} {planes} planes of {ih}×{iw}");
                // f64 (portable code) agrees.
                let g64: Vec<f64> = g.iter().map(|&v| f64::from(v)).collect();
                let y64: Vec<f64> = y.iter().map(|&v| f64::from(v)).collect();
                let mut dx64 = vec![f64::NAN; x.len()];
                pool_backward_with(isa, &geom, PoolType::Max, &g64, &x64, &y64, &mut dx64).unwrap();
                assert!(dx64.iter().zip(&dx).all(|(&a, &b)| a == f64::from(b)));
            }
        }
    }
}

#[test]
fn f32_two_by_two_gradient_of_unmatched_outputs_nans_and_signed_zeros() {
    // An output equal to no element of its window (as when `y` is not the forward's) sends
    // its gradient nowhere; NaN never matches (`==`); -0.0 matches 0.0 (the first of them
    // wins), and a -0.0 gradient is stored as is. Twelve windows a row: vector and scalar
    // code alike.
    let geom = PoolGeom::new_2d(2, [4, 26], [2, 13], [2, 2], [2, 2], [0, 0]);
    let mut x = vec![1.0f32; geom.input_len()];
    let mut y = vec![1.0f32; geom.output_len()];
    let mut g: Vec<f32> = (0..geom.output_len()).map(|i| i as f32 + 1.0).collect();
    // Window 0 of each plane: y unmatched. Window 1: NaN first, then the match at x1[3].
    // Window 2: x0 = [-0.0, 0.0], y = 0.0: the -0.0 gets it. Window 3: gradient -0.0.
    for p in 0..2 {
        let (xb, yb) = (p * 104, p * 26);
        y[yb] = 7.0;
        x[xb + 2] = f32::NAN;
        x[xb + 3] = 0.5;
        x[xb + 26 + 2] = 0.5;
        x[xb + 4] = -0.0;
        x[xb + 5] = 0.0;
        y[yb + 2] = 0.0;
        g[yb + 3] = -0.0;
    }
    for isa in Isa::available() {
        let mut dx = vec![f32::NAN; x.len()];
        pool_backward_with(isa, &geom, PoolType::Max, &g, &x, &y, &mut dx).unwrap();
        let mut want = vec![0.0f32; x.len()];
        for p in 0..2 {
            for oy in 0..2 {
                for ox in 0..13 {
                    let o = p * 26 + oy * 13 + ox;
                    let at = p * 104 + 2 * oy * 26 + 2 * ox;
                    let window = [at, at + 1, at + 26, at + 27];
                    if let Some(&i) = window.iter().find(|&&i| x[i] == y[o]) {
                        want[i] = g[o];
                    }
                }
            }
        }
        assert_eq!(want[3 + 26], 2.0, "window 1's gradient at its bottom right");
        assert_eq!(dx, want, "{isa}");
        assert_eq!(dx[4], 3.0, "{isa}");
        assert!(
            dx[6].is_sign_negative() && dx[6] == 0.0,
            "{isa}: -0.0 gradient kept"
        );
    }
}

/// The general path's max pooling of `geom`, plane by plane (no fast path).
fn general_max<T: PoolElement>(geom: &PoolGeom, x: &[T]) -> Vec<T> {
    let [wd, wh, ww] = geom.windows().unwrap();
    let (spatial, out_spatial) = (
        geom.input_len() / geom.planes,
        geom.output_len() / geom.planes,
    );
    let mut y = vec![T::ZERO; geom.output_len()];
    for (p, o) in x.chunks_exact(spatial).zip(y.chunks_exact_mut(out_spatial)) {
        let [_, ih, iw] = geom.input;
        forward_plane(PoolType::Max, &wd, &wh, &ww, ih, iw, p, o);
    }
    y
}

/// The general path's max-pool gradient of `geom`, plane by plane (no fast path).
fn general_max_backward<T: PoolElement>(geom: &PoolGeom, g: &[T], x: &[T], y: &[T]) -> Vec<T> {
    let [wd, wh, ww] = geom.windows().unwrap();
    let (spatial, out_spatial) = (
        geom.input_len() / geom.planes,
        geom.output_len() / geom.planes,
    );
    let [_, ih, iw] = geom.input;
    let mut dx = vec![T::ZERO; geom.input_len()];
    for (p, d) in dx.chunks_exact_mut(spatial).enumerate() {
        let (o, i) = (
            p * out_spatial..(p + 1) * out_spatial,
            p * spatial..(p + 1) * spatial,
        );
        let (gp, xp, yp) = (&g[o.clone()], &x[i], &y[o]);
        super::backward::backward_plane(PoolType::Max, &wd, &wh, &ww, ih, iw, gp, xp, yp, d);
    }
    dx
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|v| v.to_bits()).collect()
}

/// 3×3 windows at stride 2, padding 1, on `planes` planes of `ih × iw`.
fn r18_pool(planes: usize, ih: usize, iw: usize, full: bool) -> PoolGeom {
    geom_3d(planes, [1, ih, iw], [1, 3, 3], [1, 2, 2], [0, 1, 1], full)
}

#[test]
fn three_by_three_stride_two_windows_are_recognised() {
    let overlap = |geom: PoolGeom| {
        let [wd, wh, ww] = geom.windows().unwrap();
        Overlap3::of(&geom, &wd, &wh, &ww).is_some()
    };
    assert!(overlap(r18_pool(2, 56, 56, false)));
    assert!(overlap(r18_pool(1, 1, 1, true)));
    // Unpadded, stride 1, and a depth above 1: not the recognised windows.
    for (input, stride, pad) in [
        ([1, 8, 8], [1, 2, 2], [0, 0, 0]),
        ([1, 8, 8], [1, 1, 1], [0, 1, 1]),
        ([3, 8, 8], [1, 2, 2], [0, 1, 1]),
    ] {
        let geom = geom_3d(1, input, [1, 3, 3], stride, pad, false);
        assert!(!overlap(geom), "{geom:?}");
    }
}

#[test]
fn three_by_three_stride_two_matches_the_reference_on_every_instruction_set() {
    // Odd and even sizes (an odd size clips the last window to two rows or columns, the
    // `full` convention to one), tiny planes (every window clipped), and rounded values so
    // that overlapping windows share their maximum (the shared element gets both gradients,
    // added in output order).
    let sizes = [1, 2, 3, 4, 5, 6, 7, 8, 9, 16, 17, 33, 56];
    for isa in Isa::available() {
        for (i, &ih) in sizes.iter().enumerate() {
            for (j, &iw) in sizes.iter().enumerate() {
                let full = (i + j) % 3 == 0;
                let planes = 1 + (i + j) % 3;
                let geom = r18_pool(planes, ih, iw, full);
                let (x64, x) = tied_input(&geom, 7 + i as u64);
                let (want_y, want_arg) = naive_max(&geom, &x64);
                let mut y = vec![f32::NAN; geom.output_len()];
                pool_forward_with(isa, &geom, PoolType::Max, &x, &mut y).unwrap();
                let what = format!("{isa} {planes}×{ih}×{iw} full={full}");
                assert_eq!(
                    y.iter().map(|&v| f64::from(v)).collect::<Vec<_>>(),
                    want_y,
                    "{what}"
                );
                assert_eq!(bits(&y), bits(&general_max(&geom, &x)), "{what}");
                let g: Vec<f32> = (0..geom.output_len())
                    .map(|i| i as f32 * 0.37 + 1.0)
                    .collect();
                let mut dx = vec![f32::NAN; x.len()];
                pool_backward_with(isa, &geom, PoolType::Max, &g, &x, &y, &mut dx).unwrap();
                let want_dx = to_first_max(&want_arg, &g, x.len());
                assert_eq!(bits(&dx), bits(&want_dx), "{what}");
                // f64 agrees.
                let y64: Vec<f64> = y.iter().map(|&v| f64::from(v)).collect();
                assert_eq!(forward(&geom, PoolType::Max, &x64), y64, "{what}");
                let g64: Vec<f64> = g.iter().map(|&v| f64::from(v)).collect();
                let mut dx64 = vec![f64::NAN; x.len()];
                pool_backward_with(isa, &geom, PoolType::Max, &g64, &x64, &y64, &mut dx64).unwrap();
                assert_eq!(
                    dx64,
                    general_max_backward(&geom, &g64, &x64, &y64),
                    "{what}"
                );
            }
        }
    }
}

#[test]
fn three_by_three_stride_two_nans_signed_zeros_and_unmatched_outputs() {
    // Values drawn from NaN, ±0.0, ±1, -inf and the lowest finite value: bit for bit as the
    // general path (NaN never wins or matches, the first of 0.0 and -0.0 wins and takes the
    // gradient, all-NaN windows give the lowest value), with some outputs changed so that
    // they match nothing and gradients of -0.0.
    let pool = [f32::NAN, 0.0, -0.0, 1.0, -1.0, f32::NEG_INFINITY, f32::MIN];
    for isa in Isa::available() {
        for (ih, iw) in [(5, 5), (8, 9), (17, 16), (12, 40)] {
            let geom = r18_pool(3, ih, iw, false);
            let x: Vec<f32> = values(geom.input_len(), 3)
                .iter()
                .map(|v| pool[((v + 1.0) * 3.5) as usize % pool.len()])
                .collect();
            let mut y = vec![0.0f32; geom.output_len()];
            pool_forward_with(isa, &geom, PoolType::Max, &x, &mut y).unwrap();
            assert_eq!(bits(&y), bits(&general_max(&geom, &x)), "{isa} {ih}×{iw}");
            for (i, v) in y.iter_mut().enumerate() {
                if i % 7 == 3 {
                    *v = 0.5;
                }
            }
            let g: Vec<f32> = (0..geom.output_len())
                .map(|i| if i % 5 == 0 { -0.0 } else { i as f32 - 9.5 })
                .collect();
            let mut dx = vec![f32::NAN; x.len()];
            pool_backward_with(isa, &geom, PoolType::Max, &g, &x, &y, &mut dx).unwrap();
            let want = general_max_backward(&geom, &g, &x, &y);
            assert_eq!(bits(&dx), bits(&want), "{isa} {ih}×{iw}");
        }
    }
}
