use super::*;

/// Data (2, 2, 2) (N, C, W), the values used against MXNet 1.9.1 in the operator tests.
const X: [f64; 8] = [1.0, 2.0, 3.0, -1.0, 0.5, 0.0, 2.0, 4.0];
const G: [f64; 8] = [0.3, -0.2, 0.1, 0.5, -0.4, 0.25, 0.6, -0.1];

/// Asserts `|got[i] − want[i]| < tol` for every element (and equal lengths).
fn assert_near(got: &[f64], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len(), "{got:?} vs {want:?}");
    for (a, b) in got.iter().zip(want) {
        assert!((a - b).abs() < tol, "{got:?} vs {want:?} (tolerance {tol})");
    }
}

/// [`backward`] of the head gradient `G` at the data `X` (two channels): `(dx, dγ, dβ)`.
fn backward_of_x(
    ax: Axis,
    mean: &[f64],
    invstd: &[f64],
    gamma: &[f64],
    batch_stats: bool,
) -> ([f64; 8], [f64; 2], [f64; 2]) {
    let (mut dx, mut dg, mut db) = ([0.0; 8], [0.0; 2], [0.0; 2]);
    let inp = BackwardInputs {
        grad: &G,
        data: &X,
        mean,
        invstd,
        gamma: Some(gamma),
    };
    backward(inp, ax, batch_stats, &mut dx, &mut dg, &mut db);
    (dx, dg, db)
}

#[test]
fn stats_are_per_channel_and_biased() {
    let ax = Axis::new(2, 2, 2);
    let (mut mean, mut var) = ([0.0; 2], [0.0; 2]);
    batch_stats(&X, ax, &mut mean, &mut var);
    assert_eq!(mean, [0.875, 2.0]);
    assert_near(&var, &[0.546_875, 3.5], 1e-15);
    let mut invstd = [0.0; 2];
    inverse_std(&var, 1e-3, &mut invstd);
    // MXNet's hidden `var` output: [1.3510121, 0.5344462].
    assert_near(&invstd, &[1.351_012_1, 0.534_446_2], 1e-7);
    let mut moving = [1.5, 0.8];
    update_moving(&mut moving, &var, 0.9);
    assert_near(&moving, &[1.404_687_5, 1.07], 1e-12);
}

#[test]
fn normalize_and_training_backward_match_mxnet() {
    let ax = Axis::new(2, 2, 2);
    let (mut mean, mut var, mut invstd) = ([0.0; 2], [0.0; 2], [0.0; 2]);
    batch_stats(&X, ax, &mut mean, &mut var);
    inverse_std(&var, 1e-3, &mut invstd);
    let gamma = [1.5, -0.5];
    let mut y = [0.0; 8];
    normalize(&X, &mut y, ax, &mean, &invstd, Some(&gamma), &[0.1, 0.2]);
    let want = [
        0.353_314_8,
        2.379_832_7,
        -0.067_223_1,
        1.001_669_3,
        -0.659_944_3,
        -1.673_203_3,
        0.2,
        -0.334_446_2,
    ];
    assert_near(&y, &want, 1e-6);
    let (dx, dg, db) = backward_of_x(ax, &mean, &invstd, &gamma, true);
    let want_dx = [
        0.662_906_8,
        -0.113_393_5,
        0.016_233,
        0.031_468,
        -0.874_135_3,
        0.324_622,
        -0.086_847_5,
        0.039_146_5,
    ];
    assert_near(&dx, &want_dx, 1e-6);
    assert_near(&dg, &[-0.346_196_9, -0.855_113_9], 1e-6);
    assert_near(&db, &[-0.05, 1.1], 1e-12);
}

#[test]
fn fixed_statistics_backward_matches_mxnet() {
    // use_global_stats with moving_mean [0.2, 0.3], moving_var [1.5, 0.8], eps 1e-3.
    let ax = Axis::new(2, 2, 2);
    let mean = [0.2, 0.3];
    let mut invstd = [0.0; 2];
    inverse_std(&[1.5, 0.8], 1e-3, &mut invstd);
    let (dx, dg, _) = backward_of_x(ax, &mean, &invstd, &[1.5, -0.5], false);
    let want = [
        0.367_301,
        -0.244_867_4,
        -0.055_866_8,
        -0.279_334,
        -0.489_734_7,
        0.306_084_2,
        -0.335_200_8,
        0.055_866_8,
    ];
    assert_near(&dx, &want, 1e-6);
    assert_near(&dg, &[-0.236_705_1, 0.301_680_8], 1e-6);
}

#[test]
fn empty_views_do_not_panic() {
    let ax = Axis::new(0, 3, 0);
    let (mut m, mut v) = ([1.0f32; 3], [1.0f32; 3]);
    batch_stats(&[], ax, &mut m, &mut v);
    assert_eq!((m, v), ([0.0; 3], [0.0; 3]));
    normalize(&[], &mut [], ax, &m, &v, None, &m);
}

#[test]
fn backward_gives_the_same_bits_on_any_thread_count() {
    // 4 images × 24 channels × 1100 pixels: enough work for three threads.
    let ax = Axis::new(4, 24, 1100);
    let n = 4 * 24 * 1100;
    let wave = |i: usize, k: f32| ((i as f32) * k).sin();
    let x: Vec<f32> = (0..n).map(|i| wave(i, 0.37) * 2.0 + 0.5).collect();
    let g: Vec<f32> = (0..n).map(|i| wave(i, 0.11)).collect();
    let (mut mean, mut var, mut invstd) = ([0.0f32; 24], [0.0f32; 24], [0.0f32; 24]);
    batch_stats(&x, ax, &mut mean, &mut var);
    inverse_std(&var, 1e-3, &mut invstd);
    let gamma: Vec<f32> = (0..24).map(|c| 0.5 + c as f32 * 0.1).collect();
    let run = |threads: usize, stats: bool| {
        let (mut dx, mut dg, mut db) = (vec![f32::NAN; n], [f32::NAN; 24], [f32::NAN; 24]);
        let inp = BackwardInputs {
            grad: &g,
            data: &x,
            mean: &mean,
            invstd: &invstd,
            gamma: Some(&gamma),
        };
        backward_with(inp, ax, stats, &mut dx, &mut dg, &mut db, threads);
        (dx, dg, db)
    };
    for stats in [true, false] {
        let one = run(1, stats);
        assert!(one.0.iter().all(|v| v.is_finite()), "every dx written");
        // dβ is the plain sum of the head gradient per channel.
        let db0: f64 = (0..4)
            .flat_map(|i| (0..1100).map(move |p| (i * 24) * 1100 + p))
            .map(|i| f64::from(g[i]))
            .sum();
        assert!(
            (f64::from(one.2[0]) - db0).abs() < 1e-3,
            "{} vs {db0}",
            one.2[0]
        );
        for threads in [2, 3] {
            assert_eq!(
                run(threads, stats),
                one,
                "{threads} threads, batch stats {stats}"
            );
        }
    }
}
