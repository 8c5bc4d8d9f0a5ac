use super::*;

/// Asserts `|got[i] − want[i]| < 1e-6` for every element (and equal lengths).
fn assert_near(got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len());
    for (a, b) in got.iter().zip(want) {
        assert!((a - b).abs() < 1e-6, "{got:?} vs {want:?}");
    }
}

fn close(a: &[f64], b: &[f64], tol: f64) {
    assert_eq!(a.len(), b.len());
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(
            (x - y).abs() <= tol,
            "element {i}: {x} vs {y}\n{a:?}\n{b:?}"
        );
    }
}

/// Reference: softmax of one lane, in f64.
fn lane_softmax(x: &[f64], t: f64) -> Vec<f64> {
    let m = x.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = x.iter().map(|v| ((v - m) / t).exp()).collect();
    let s: f64 = e.iter().sum();
    e.iter().map(|v| v / s).collect()
}

#[test]
fn softmax_rows_match_mxnet() {
    // mx.nd.softmax([[1,2,3],[0.5,-1,2]])
    let x = [1.0f32, 2.0, 3.0, 0.5, -1.0, 2.0];
    let mut y = [0.0f32; 6];
    softmax(&x, &mut y, Axis::new(2, 3, 1), 1.0, None);
    let want = [
        0.090_030_6,
        0.244_728_5,
        0.665_240_9,
        0.175_290_4,
        0.039_112_6,
        0.785_597,
    ];
    assert_near(&y, &want);
}

#[test]
fn softmax_is_stable_for_large_inputs() {
    let x = [1000.0f32, 1001.0, -1000.0];
    let mut y = [0.0f32; 3];
    softmax(&x, &mut y, Axis::new(1, 3, 1), 1.0, None);
    assert!(y.iter().all(|v| v.is_finite()));
    assert!((y[1] - 0.731_058_6).abs() < 1e-6 && y[2] == 0.0, "{y:?}");
    let mut l = [0.0f32; 3];
    log_softmax(&x, &mut l, Axis::new(1, 3, 1), 1.0);
    assert!((l[0] - (-1.313_261_7)).abs() < 1e-5 && (l[2] + 2_001.313_2).abs() < 1e-2);
}

#[test]
fn strided_axis_matches_the_lane_reference() {
    // Shape (2, 3, 4), softmax over axis 1, with a temperature.
    let x: Vec<f64> = (0..24).map(|i| ((i * 7 % 11) as f64 - 5.0) / 3.0).collect();
    let ax = Axis::of(&[2, 3, 4], 1).unwrap();
    assert_eq!(ax, Axis::new(2, 3, 4));
    let mut y = vec![0.0; 24];
    softmax(&x, &mut y, ax, 2.0, None);
    let mut ly = vec![0.0; 24];
    log_softmax(&x, &mut ly, ax, 2.0);
    for o in 0..2 {
        for i in 0..4 {
            let lane: Vec<f64> = (0..3).map(|j| x[(o * 3 + j) * 4 + i]).collect();
            let want = lane_softmax(&lane, 2.0);
            for (j, w) in want.iter().enumerate() {
                let k = (o * 3 + j) * 4 + i;
                assert!((y[k] - w).abs() < 1e-12);
                assert!((ly[k] - w.ln()).abs() < 1e-12);
            }
        }
    }
}

#[test]
fn lengths_mask_the_tail() {
    // mx.nd.softmax(x, length=[2,3], use_length=True) on [[1,2,3,4],[0.5,-1,2,0]].
    let x = [1.0f32, 2.0, 3.0, 4.0, 0.5, -1.0, 2.0, 0.0];
    let mut y = [9.0f32; 8];
    softmax(&x, &mut y, Axis::new(2, 4, 1), 1.0, Some(&[2, 3]));
    let want = [
        0.268_941_4,
        0.731_058_6,
        0.0,
        0.0,
        0.175_290_4,
        0.039_112_6,
        0.785_597,
        0.0,
    ];
    assert_near(&y, &want);
    // The same along a strided axis: (4, 2) over axis 0, lengths per column.
    let xt: Vec<f32> = (0..8).map(|k| x[(k % 2) * 4 + k / 2]).collect();
    let mut yt = [9.0f32; 8];
    softmax(&xt, &mut yt, Axis::new(1, 4, 2), 1.0, Some(&[2, 3]));
    for k in 0..8 {
        assert!((yt[k] - want[(k % 2) * 4 + k / 2]).abs() < 1e-6, "{yt:?}");
    }
    // Backward: masked positions get 0 (y is 0 there). MXNet: [[-0.1966119, 0.1966119, 0, 0],
    // [0.2822713, 0.0238707, -0.3061419, 0]] for g = [[1,2,3,4],[4,3,2,1]].
    let g = [1.0f32, 2.0, 3.0, 4.0, 4.0, 3.0, 2.0, 1.0];
    let mut dx = [9.0f32; 8];
    softmax_backward(&g, &y, &mut dx, Axis::new(2, 4, 1), 1.0);
    let want = [
        -0.196_611_9,
        0.196_611_9,
        0.0,
        0.0,
        0.282_271_3,
        0.023_870_7,
        -0.306_141_9,
        0.0,
    ];
    assert_near(&dx, &want);
}

#[test]
fn backward_matches_finite_differences() {
    let shape = [2, 3, 2];
    let ax = Axis::of(&shape, 1).unwrap();
    let x: Vec<f64> = (0..12).map(|i| ((i * 5 % 7) as f64 - 3.0) / 2.0).collect();
    let g: Vec<f64> = (0..12).map(|i| ((i * 3 % 5) as f64 - 2.0) / 3.0).collect();
    for (log, t) in [(false, 1.0), (false, 0.7), (true, 1.0), (true, 1.5)] {
        let f = |x: &[f64]| -> f64 {
            let mut y = vec![0.0; 12];
            if log {
                log_softmax(x, &mut y, ax, t);
            } else {
                softmax(x, &mut y, ax, t, None);
            }
            y.iter().zip(&g).map(|(a, b)| a * b).sum()
        };
        let mut y = vec![0.0; 12];
        let mut dx = vec![0.0; 12];
        if log {
            log_softmax(&x, &mut y, ax, t);
            log_softmax_backward(&g, &y, &mut dx, ax, t);
        } else {
            softmax(&x, &mut y, ax, t, None);
            softmax_backward(&g, &y, &mut dx, ax, t);
        }
        let eps = 1e-6;
        let numeric: Vec<f64> = (0..12)
            .map(|k| {
                let mut p = x.clone();
                p[k] += eps;
                let mut m = x.clone();
                m[k] -= eps;
                (f(&p) - f(&m)) / (2.0 * eps)
            })
            .collect();
        close(&dx, &numeric, 1e-8);
    }
}

#[test]
fn softmax_output_gradients_match_mxnet() {
    let x = [1.0f32, 2.0, 3.0, 0.5, -1.0, 2.0];
    let ax = Axis::new(2, 3, 1);
    let mut y = [0.0f32; 6];
    softmax(&x, &mut y, ax, 1.0, None);
    let plain = SoftmaxOutputGrad {
        ignore_label: None,
        smooth_alpha: 0.0,
        scale: 1.0,
        times_output: false,
    };
    let mut dx = [9.0f32; 6];
    let check = |dx: &[f32], want: [f32; 6]| assert_near(dx, &want);
    softmax_output_backward(&y, &[2.0, 0.0], &mut dx, ax, &plain);
    check(
        &dx,
        [
            0.090_030_6,
            0.244_728_5,
            -0.334_759_1,
            -0.824_709_6,
            0.039_112_6,
            0.785_597,
        ],
    );
    // Fractional labels truncate (1.7 → 1, −0.5 → 0); out-of-range ones subtract nothing.
    softmax_output_backward(&y, &[1.7, -0.5], &mut dx, ax, &plain);
    check(
        &dx,
        [
            0.090_030_6,
            -0.755_271_6,
            0.665_240_9,
            -0.824_709_6,
            0.039_112_6,
            0.785_597,
        ],
    );
    softmax_output_backward(&y, &[5.0, -3.0], &mut dx, ax, &plain);
    check(&dx, y);
    // Smoothing α = 0.3, with row 1 ignored (label 0 = ignore_label).
    let smooth = SoftmaxOutputGrad {
        ignore_label: Some(0),
        smooth_alpha: 0.3,
        ..plain
    };
    softmax_output_backward(&y, &[2.0, 0.0], &mut dx, ax, &smooth);
    check(&dx, [-0.059_969_4, 0.094_728_5, -0.034_759, 0.0, 0.0, 0.0]);
    // out_grad (times the output).
    let times = SoftmaxOutputGrad {
        times_output: true,
        ..plain
    };
    softmax_output_backward(&y, &[2.0, 0.0], &mut dx, ax, &times);
    check(
        &dx,
        [
            0.008_105_5,
            0.059_892,
            -0.222_695_4,
            -0.144_563_7,
            0.001_529_8,
            0.617_162_7,
        ],
    );
}

#[test]
fn softmax_output_gradient_along_a_strided_class_axis() {
    // multi_output on (2, 3, 2): classes along axis 1, one label per (n, position).
    let x: Vec<f32> = (0..12).map(|i| i as f32 / 5.0).collect();
    let ax = Axis::new(2, 3, 2);
    let mut y = vec![0.0f32; 12];
    softmax(&x, &mut y, ax, 1.0, None);
    let opts = SoftmaxOutputGrad {
        ignore_label: Some(1),
        smooth_alpha: 0.0,
        scale: 0.5,
        times_output: false,
    };
    let mut dx = vec![9.0f32; 12];
    softmax_output_backward(&y, &[1.0, 0.0, 2.0, 1.0], &mut dx, ax, &opts);
    // MXNet: normalization='valid', use_ignore, ignore_label=1 → two valid labels.
    let want = [
        0.0,
        -0.394_008_6,
        0.0,
        0.158_120_5,
        0.0,
        0.235_888_1,
        0.105_991_4,
        0.0,
        0.158_120_5,
        0.0,
        -0.264_111_9,
        0.0,
    ];
    assert_near(&dx, &want);
}
