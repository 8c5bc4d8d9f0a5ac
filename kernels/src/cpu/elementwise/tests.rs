use super::*;

/// Asserts `|a[i] − b[i]| ≤ tol·(1 + |b[i]|)` for every element (and equal lengths), in `T`.
fn close<T: Num + std::fmt::Display>(a: &[T], b: &[T], tol: T) {
    assert_eq!(a.len(), b.len());
    for (i, (&x, &y)) in a.iter().zip(b).enumerate() {
        assert!(
            x.minus(y).absolute() <= tol.times(T::ONE.plus(y.absolute())),
            "element {i}: {x} vs {y} (all: {a:?} vs {b:?})"
        );
    }
}

#[test]
fn binary_ops_on_floats_and_ints() {
    let a = [1.0f32, -2.0, 3.0, 4.0];
    let b = [2.0f32, 4.0, -1.0, 0.5];
    let mut out = [f32::NAN; 4];
    binary(BinaryOp::Add, &a, &b, &mut out);
    assert_eq!(out, [3.0, 2.0, 2.0, 4.5]);
    binary(BinaryOp::Sub, &a, &b, &mut out);
    assert_eq!(out, [-1.0, -6.0, 4.0, 3.5]);
    binary(BinaryOp::Mul, &a, &b, &mut out);
    assert_eq!(out, [2.0, -8.0, -3.0, 2.0]);
    binary(BinaryOp::Div, &a, &b, &mut out);
    assert_eq!(out, [0.5, -0.5, -3.0, 8.0]);

    // MXNet 1.9.1: int32 [1,2,3,0,-4] / [2,1,2,-3,3] = [0,2,1,0,-1] (truncating).
    let a = [1i32, 2, 3, 0, -4];
    let b = [2i32, 1, 2, -3, 3];
    let mut out = [0i32; 5];
    binary(BinaryOp::Div, &a, &b, &mut out);
    assert_eq!(out, [0, 2, 1, 0, -1]);
    binary(BinaryOp::Mul, &a, &b, &mut out);
    assert_eq!(out, [2, 2, 6, 0, -12]);
    // Division by zero and overflow do not panic.
    binary(BinaryOp::Div, &[5i32, i32::MIN], &[0, -1], &mut out[..2]);
    assert_eq!(&out[..2], &[0, i32::MIN]);
    binary(BinaryOp::Add, &[i32::MAX], &[1], &mut out[..1]);
    assert_eq!(out[0], i32::MIN);

    let mut acc = [1.0f64, 2.0];
    binary_inplace(BinaryOp::Sub, &mut acc, &[0.5, 4.0]);
    assert_eq!(acc, [0.5, -2.0]);
    binary_inplace(BinaryOp::Div, &mut acc, &[0.5, 4.0]);
    assert_eq!(acc, [1.0, -0.5]);
}

#[test]
fn binary_gradients() {
    let g = [1.0f64, 2.0];
    let l = [3.0f64, -4.0];
    let r = [2.0f64, 8.0];
    let (mut dl, mut dr) = ([0.0; 2], [0.0; 2]);
    binary_backward(BinaryOp::Add, &g, &[], &[], &mut dl, &mut dr);
    assert_eq!((dl, dr), ([1.0, 2.0], [1.0, 2.0]));
    binary_backward(BinaryOp::Sub, &g, &[], &[], &mut dl, &mut dr);
    assert_eq!((dl, dr), ([1.0, 2.0], [-1.0, -2.0]));
    binary_backward(BinaryOp::Mul, &g, &l, &r, &mut dl, &mut dr);
    assert_eq!((dl, dr), ([2.0, 16.0], [3.0, -8.0]));
    binary_backward(BinaryOp::Div, &g, &l, &r, &mut dl, &mut dr);
    // d/dl = g/r; d/dr = -g·l/r²
    assert_eq!((dl, dr), ([0.5, 0.25], [-0.75, 0.125]));
}

#[test]
fn scalar_ops_match_mxnet_on_ints() {
    // Values printed by MXNet 1.9.1 for int32 [1, 2, 3, 0, -4] (the scalar is cast first).
    let x = [1i32, 2, 3, 0, -4];
    let cases: [(ScalarOp, f64, [i32; 5]); 9] = [
        (ScalarOp::Plus, 1.5, [2, 3, 4, 1, -3]),
        (ScalarOp::Plus, -0.5, [1, 2, 3, 0, -4]),
        (ScalarOp::Minus, 2.0, [-1, 0, 1, -2, -6]),
        (ScalarOp::RMinus, 1.5, [0, -1, -2, 1, 5]),
        (ScalarOp::Mul, 2.0, [2, 4, 6, 0, -8]),
        (ScalarOp::Mul, -0.5, [0, 0, 0, 0, 0]),
        (ScalarOp::Div, 2.0, [0, 1, 1, 0, -2]),
        (ScalarOp::Power, 2.0, [1, 4, 9, 0, 16]),
        (ScalarOp::Power, -0.5, [1, 1, 1, 1, 1]),
    ];
    for (op, s, want) in cases {
        let mut out = [99i32; 5];
        scalar(op, &x, i32::from_f64(s), &mut out);
        assert_eq!(out, want, "{op:?} {s}");
        let mut inplace = x;
        scalar_inplace(op, &mut inplace, i32::from_f64(s));
        assert_eq!(inplace, want, "{op:?} {s} in place");
    }
    // rdiv: MXNet gives [2, 1, 0, 0, 0] for 2 / [1, 2, 3, 5, -4]; 2 / 0 is 0 here (MXNet traps).
    let mut out = [0i32; 5];
    scalar(ScalarOp::RDiv, &[1, 2, 3, 5, -4], 2, &mut out);
    assert_eq!(out, [2, 1, 0, 0, 0]);
    scalar(ScalarOp::RDiv, &[0, 1, 0, 0, 0], 2, &mut out);
    assert_eq!(out, [0, 2, 0, 0, 0]);
    let mut i64s = [3i64, -7];
    scalar_inplace(ScalarOp::Div, &mut i64s, 0);
    assert_eq!(i64s, [0, 0]);
    let mut bytes = [250u8, 3];
    scalar_inplace(ScalarOp::Plus, &mut bytes, 10);
    assert_eq!(bytes, [4, 13]);
}

#[test]
fn scalar_ops_on_floats() {
    let x = [1.0f32, -2.0, 4.0];
    let mut out = [0.0f32; 3];
    for (op, want) in [
        (ScalarOp::Plus, [3.5, 0.5, 6.5]),
        (ScalarOp::Minus, [-1.5, -4.5, 1.5]),
        (ScalarOp::RMinus, [1.5, 4.5, -1.5]),
        (ScalarOp::Mul, [2.5, -5.0, 10.0]),
        (ScalarOp::Div, [0.4, -0.8, 1.6]),
        (ScalarOp::RDiv, [2.5, -1.25, 0.625]),
    ] {
        scalar(op, &x, 2.5, &mut out);
        close(&out, &want, 1e-7);
    }
    scalar(ScalarOp::Power, &[4.0f64, 9.0, 2.0], 0.5, &mut [0.0; 3]);
    let mut p = [4.0f64, 9.0, 2.0];
    scalar_inplace(ScalarOp::Power, &mut p, 0.5);
    close(&p, &[2.0, 3.0, std::f64::consts::SQRT_2], 1e-15);
    let mut p = [2.0f64, -3.0];
    scalar_inplace(ScalarOp::Power, &mut p, 3.0);
    assert_eq!(p, [8.0, -27.0]);
}

#[test]
fn scalar_gradients() {
    let g = [1.0f64, -2.0];
    let x = [2.0f64, 4.0];
    let mut out = [0.0; 2];
    for (op, want) in [
        (ScalarOp::Plus, [1.0, -2.0]),
        (ScalarOp::Minus, [1.0, -2.0]),
        (ScalarOp::RMinus, [-1.0, 2.0]),
        (ScalarOp::Mul, [3.0, -6.0]),
        (ScalarOp::Div, [1.0 / 3.0, -2.0 / 3.0]),
        // -s/x²·g
        (ScalarOp::RDiv, [-0.75, 0.375]),
        // s·x^(s-1)·g = 3x²g
        (ScalarOp::Power, [12.0, -96.0]),
    ] {
        scalar_backward(op, &g, &x, 3.0, &mut out);
        close(&out, &want, 1e-15);
    }
}

#[test]
fn unary_ops_floats() {
    let x = [-2.0f64, -0.5, 0.0, 0.5, 2.0];
    let mut out = [0.0; 5];
    let expect = |op: UnaryOp, f: &dyn Fn(f64) -> f64| {
        let mut out = [0.0; 5];
        unary(op, &x, &mut out);
        let want: Vec<f64> = x.iter().map(|&v| f(v)).collect();
        close(&out, &want, 1e-15);
        let mut inplace = x;
        unary_inplace(op, &mut inplace);
        assert_eq!(inplace, out, "{op:?} in place");
    };
    expect(UnaryOp::Negative, &|v| -v);
    expect(UnaryOp::Exp, &f64::exp);
    expect(UnaryOp::Square, &|v| v * v);
    expect(UnaryOp::Abs, &f64::abs);
    expect(UnaryOp::Tanh, &f64::tanh);
    expect(UnaryOp::Sigmoid, &|v| 1.0 / (1.0 + (-v).exp()));
    expect(UnaryOp::Relu, &|v| v.max(0.0));
    expect(UnaryOp::SoftSign, &|v| v / (1.0 + v.abs()));
    expect(UnaryOp::SoftRelu, &|v| (1.0 + v.exp()).ln());
    unary(
        UnaryOp::Log,
        &[1.0, std::f64::consts::E, 0.0, -1.0, 4.0],
        &mut out,
    );
    assert_eq!(&out[..3], &[0.0, 1.0, f64::NEG_INFINITY]);
    assert!(out[3].is_nan());
    unary(UnaryOp::Sqrt, &[4.0, 0.25, 0.0, 2.0, 9.0], &mut out);
    assert_eq!(out, [2.0, 0.5, 0.0, std::f64::consts::SQRT_2, 3.0]);

    // Values printed by MXNet 1.9.1 (float32) for [-2, -0.5, 0, 0.5, 2].
    let x32 = [-2.0f32, -0.5, 0.0, 0.5, 2.0];
    let mut o32 = [0.0f32; 5];
    unary(UnaryOp::SoftRelu, &x32, &mut o32);
    close(
        &o32,
        &[
            0.126_928_09,
            0.474_077,
            0.693_147_24,
            0.974_077,
            2.126_927_9,
        ],
        1e-6,
    );
    unary(UnaryOp::Sigmoid, &x32, &mut o32);
    close(
        &o32,
        &[0.119_202_92, 0.377_540_65, 0.5, 0.622_459_35, 0.880_797_1],
        1e-6,
    );
    // softrelu passes large inputs through unchanged (no overflow).
    unary(
        UnaryOp::SoftRelu,
        &[21.0f32, 100.0, 1000.0, -30.0, 20.0],
        &mut o32,
    );
    assert_eq!(&o32[..3], &[21.0, 100.0, 1000.0]);
    assert!(o32[3] > 0.0 && o32[3] < 1e-12);
    close(&o32[4..], &[20.0], 1e-7);
}

#[test]
fn relu_keeps_nan_and_unary_on_ints_follows_mxnet() {
    let mut out = [0.0f32; 3];
    unary(UnaryOp::Relu, &[f32::NAN, -1.0, 1.0], &mut out);
    assert!(out[0].is_nan());
    assert_eq!(&out[1..], &[0.0, 1.0]);
    // MXNet 1.9.1 on int32 [1, 2, 3, 0, -4].
    let x = [1i32, 2, 3, 0, -4];
    let mut o = [0i32; 5];
    for (op, want) in [
        (UnaryOp::Negative, [-1, -2, -3, 0, 4]),
        (UnaryOp::Exp, [2, 7, 20, 1, 0]),
        (UnaryOp::Square, [1, 4, 9, 0, 16]),
        (UnaryOp::Abs, [1, 2, 3, 0, 4]),
        (UnaryOp::Tanh, [0, 0, 0, 0, 0]),
        (UnaryOp::Sigmoid, [0, 0, 0, 0, 0]),
        (UnaryOp::Relu, [1, 2, 3, 0, 0]),
    ] {
        unary(op, &x, &mut o);
        assert_eq!(o, want, "{op:?}");
    }
    unary(UnaryOp::Log, &x, &mut o);
    assert_eq!(&o[..4], &[0, 0, 1, i32::MIN]);
    unary(UnaryOp::Abs, &[i32::MIN], &mut o[..1]);
    assert_eq!(o[0], i32::MIN);
}

#[test]
fn unary_gradients_match_derivatives() {
    let x = [-1.5f64, -0.3, 0.4, 1.2];
    let g = [0.5f64, -1.0, 2.0, 0.25];
    let h = 1e-6;
    let check = |fwd: UnaryOp, grad: UnaryGrad| {
        let mut y = [0.0; 4];
        unary(fwd, &x, &mut y);
        let v = if grad.uses_output() { y } else { x };
        let mut out = [0.0; 4];
        unary_backward(grad, &g, &v, &mut out);
        let mut plus = [0.0; 4];
        let mut minus = [0.0; 4];
        unary(fwd, &x.map(|v| v + h), &mut plus);
        unary(fwd, &x.map(|v| v - h), &mut minus);
        let want: Vec<f64> = (0..4)
            .map(|i| g[i] * (plus[i] - minus[i]) / (2.0 * h))
            .collect();
        close(&out, &want, 1e-7);
    };
    check(UnaryOp::Negative, UnaryGrad::Negative);
    check(UnaryOp::Exp, UnaryGrad::Exp);
    check(UnaryOp::Square, UnaryGrad::Square);
    check(UnaryOp::Abs, UnaryGrad::Abs);
    check(UnaryOp::Tanh, UnaryGrad::Tanh);
    check(UnaryOp::Sigmoid, UnaryGrad::Sigmoid);
    check(UnaryOp::Relu, UnaryGrad::Relu);
    check(UnaryOp::SoftRelu, UnaryGrad::SoftRelu);
    check(UnaryOp::SoftSign, UnaryGrad::SoftSign);
    let xp = [0.5f64, 2.0];
    let mut out = [0.0; 2];
    unary_backward(UnaryGrad::Log, &[1.0, 3.0], &xp, &mut out);
    assert_eq!(out, [2.0, 1.5]);
    unary_backward(UnaryGrad::Sqrt, &[1.0, 3.0], &[0.5, 3.0], &mut out);
    assert_eq!(out, [1.0, 0.5]);
    // abs'(0) = 0, relu'(0) = 0 (from the output).
    unary_backward(UnaryGrad::Abs, &[1.0, 1.0], &[0.0, -0.0], &mut out);
    assert_eq!(out, [0.0, 0.0]);
    unary_backward(UnaryGrad::Relu, &[1.0, 1.0], &[0.0, f64::NAN], &mut out);
    assert_eq!(out, [0.0, 0.0]);
}

#[test]
fn clip_and_its_gradient() {
    let x = [-1.0f32, -0.5, 0.0, 0.5, 1.0, f32::NAN];
    let mut out = [0.0f32; 6];
    clip(&x, -0.5, 0.5, &mut out);
    assert_eq!(&out[..5], &[-0.5, -0.5, 0.0, 0.5, 0.5]);
    assert!(out[5].is_nan());
    let mut d = x;
    clip_inplace(&mut d, -0.5, 0.5);
    assert_eq!(&d[..5], &out[..5]);
    // MXNet 1.9.1: the gradient passes on the closed interval [a_min, a_max].
    let mut g = [0.0f32; 6];
    clip_backward(&[1.0; 6], &x, -0.5, 0.5, &mut g);
    assert_eq!(&g[..5], &[0.0, 1.0, 1.0, 1.0, 0.0]);
    // int32 [1, 2, 3, 0, -4] clipped to (-1.5, 2.5) → bounds cast to -1, 2 → [1, 2, 2, 0, -1].
    let mut o = [0i32; 5];
    clip(
        &[1, 2, 3, 0, -4],
        i32::from_f64(-1.5),
        i32::from_f64(2.5),
        &mut o,
    );
    assert_eq!(o, [1, 2, 2, 0, -1]);
}

#[test]
fn select_by_element_and_by_row() {
    let x = [1.0f32, 2.0, 3.0, 4.0];
    let y = [10.0f32, 20.0, 30.0, 40.0];
    let mut out = [0.0f32; 4];
    select(&[1.0f32, 0.0, 0.0, 2.0], &x, &y, 1, &mut out);
    assert_eq!(out, [1.0, 20.0, 30.0, 4.0]);
    select(&[0i32, 1], &x, &y, 2, &mut out);
    assert_eq!(out, [10.0, 20.0, 3.0, 4.0]);
    let g = [1.0f64, 2.0, 3.0, 4.0];
    let (mut dx, mut dy) = ([9.0; 4], [9.0; 4]);
    select_backward(&g, &[1u8, 0, 0, 7], 1, &mut dx, &mut dy);
    assert_eq!((dx, dy), ([1.0, 0.0, 0.0, 4.0], [0.0, 2.0, 3.0, 0.0]));
    select_backward(&g, &[0.0f64, -1.0], 2, &mut dx, &mut dy);
    assert_eq!((dx, dy), ([0.0, 0.0, 3.0, 4.0], [1.0, 2.0, 0.0, 0.0]));
}

#[test]
fn leaky_family_matches_mxnet() {
    // Printed by MXNet 1.9.1: LeakyReLU(x, act_type, slope=0.3) and its gradient for ones.
    let x = [-2.0f32, -0.5, 0.0, 0.5, 2.0];
    let cases: [(LeakyAct, [f32; 5], [f32; 5]); 4] = [
        (
            LeakyAct::Elu { slope: 0.3 },
            [-0.259_399_44, -0.118_040_82, 0.0, 0.5, 2.0],
            [0.040_600_587, 0.181_959_18, 0.3, 1.0, 1.0],
        ),
        (
            LeakyAct::Selu,
            [-1.520_166_5, -0.691_758_2, 0.0, 0.525_350_5, 2.101_402],
            [0.160_858_84, 1.031_268_2, 1.758_099_3, 1.050_701, 1.050_701],
        ),
        (
            LeakyAct::Gelu,
            [-0.045_500_096, -0.154_268_77, 0.0, 0.345_731_2, 1.954_499_8],
            [-0.085_231_87, 0.132_504_91, 0.5, 0.867_495_06, 1.085_231_9],
        ),
        (
            LeakyAct::Leaky { slope: 0.3 },
            [-0.6, -0.15, 0.0, 0.5, 2.0],
            [0.3, 0.3, 0.3, 1.0, 1.0],
        ),
    ];
    for (act, want_y, want_g) in cases {
        let mut y = [0.0f32; 5];
        leaky(act, &x, &mut y);
        close(&y, &want_y, 2e-6);
        let mut inplace = x;
        leaky_inplace(act, &mut inplace);
        assert_eq!(inplace, y);
        let mut g = [0.0f32; 5];
        leaky_backward(act, &[1.0; 5], &x, &y, &mut g);
        close(&g, &want_g, 2e-6);
    }
}

#[test]
fn prelu_and_rrelu() {
    // MXNet 1.9.1: data (2, 3), gamma (0.1, 0.2, 0.3), head gradient [[1,2,3],[4,5,6]].
    let x = [-1.0f32, 2.0, -3.0, 4.0, -5.0, 6.0];
    let gamma = [0.1f32, 0.2, 0.3];
    let mut y = [0.0f32; 6];
    prelu(&x, &gamma, 1, &mut y);
    close(&y, &[-0.1, 2.0, -0.9, 4.0, -1.0, 6.0], 1e-7);
    let (mut dx, mut dg) = ([0.0f32; 6], [9.0f32; 3]);
    prelu_backward(
        &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
        &x,
        &gamma,
        1,
        &mut dx,
        &mut dg,
    );
    close(&dx, &[0.1, 2.0, 0.9, 4.0, 1.0, 6.0], 1e-7);
    assert_eq!(dg, [-1.0, -25.0, -9.0]);
    // One gamma for everything: dgamma = -35.
    let (mut dx, mut dg) = ([0.0f32; 6], [0.0f32; 1]);
    prelu_backward(
        &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
        &x,
        &[0.5],
        6,
        &mut dx,
        &mut dg,
    );
    assert_eq!(dg, [-35.0]);
    // 4-D: (2, 3, 2, 2) values -12..12 → dgamma = (-42, -26, -10) for ones.
    let x4: Vec<f64> = (-12..12).map(f64::from).collect();
    let (mut dx, mut dg) = (vec![0.0; 24], [0.0; 3]);
    prelu_backward(&[1.0; 24], &x4, &[0.1, 0.2, 0.3], 4, &mut dx, &mut dg);
    assert_eq!(dg, [-42.0, -26.0, -10.0]);
    assert_eq!(dx[12], 0.1, "x = 0 takes the slope");

    let mut out = [0.0f32; 3];
    rrelu(&[-2.0, 3.0, -1.0], &[0.25, 0.5, 0.125], &mut out);
    assert_eq!(out, [-0.5, 3.0, -0.125]);
    let mut d = [0.0f32; 3];
    rrelu_backward(&[1.0, 1.0, 2.0], &out, &[0.25, 0.5, 0.125], &mut d);
    assert_eq!(d, [0.25, 1.0, 0.25]);
}

#[test]
fn erf_is_accurate() {
    // Reference values (Abramowitz & Stegun table / high-precision).
    for (x, want) in [
        (0.0, 0.0),
        (1e-10, 1.128_379_167_095_512_6e-10),
        (0.1, 0.112_462_916_018_284_9),
        (0.5, 0.520_499_877_813_046_5),
        (1.0, 0.842_700_792_949_714_9),
        (2.0, 0.995_322_265_018_952_7),
        (2.9, 0.999_958_902_121_900_6),
        (3.0, 0.999_977_909_503_001_4),
        (3.5, 0.999_999_256_901_627_7),
        (5.0, 0.999_999_999_998_462_5),
    ] {
        assert!(
            (erf(x) - want).abs() < 2e-16 + 4e-15 * want,
            "erf({x}) = {}",
            erf(x)
        );
        assert!((erf(-x) + want).abs() < 2e-16 + 4e-15 * want);
    }
    assert!(erf(f64::NAN).is_nan());
    assert_eq!(erf(f64::INFINITY), 1.0);
    assert_eq!(erf(f64::NEG_INFINITY), -1.0);
    // The two branches meet smoothly at 3.
    let below = erf(3.0 - 1e-12);
    let above = erf(3.0);
    assert!((above - below).abs() < 1e-15);
}

#[test]
fn long_arrays_split_across_threads_give_each_elements_own_result() {
    let n = 3 * PARALLEL_MIN_LEN + 17;
    if crate::cpu::parallel::num_threads() > 1 {
        assert!(parallel_chunk(n).is_some(), "split");
    }
    assert!(parallel_chunk(1000).is_none());
    let x: Vec<f32> = (0..n).map(|i| (i % 1000) as f32 / 250.0 - 2.0).collect();
    let y: Vec<f32> = (0..n).map(|i| (i % 77) as f32 / 7.0).collect();
    let mut out = vec![f32::NAN; n];
    unary(UnaryOp::Tanh, &x, &mut out);
    assert!(out.iter().zip(&x).all(|(o, &v)| *o == Num::tanh(v)));
    binary(BinaryOp::Mul, &x, &y, &mut out);
    assert!(
        out.iter()
            .zip(x.iter().zip(&y))
            .all(|(o, (a, b))| *o == a * b)
    );
    let mut inplace = x.clone();
    unary_inplace(UnaryOp::Relu, &mut inplace);
    assert!(inplace.iter().zip(&x).all(|(o, &v)| *o == v.max(0.0)));
}

mod tanh_tests {
    use super::tanh_f32;

    #[test]
    fn vectorised_loops_give_the_scalar_bits() {
        // `unary` runs its loop compiled for AVX-512 or AVX2 where the CPU has them; every
        // element must equal the scalar function's (odd length: a vector tail too).
        let x: Vec<f32> = (0..1001).map(|i| (i as f32 - 500.0) * 0.0173).collect();
        let mut y = vec![f32::NAN; x.len()];
        super::unary(super::UnaryOp::Tanh, &x, &mut y);
        for (a, &v) in y.iter().zip(&x) {
            assert_eq!(a.to_bits(), tanh_f32(v).to_bits(), "tanh({v})");
        }
    }

    #[test]
    fn fast_tanh_is_within_a_few_ulp() {
        let mut worst = 0f64;
        let mut x = -12.0f32;
        while x <= 12.0 {
            let exact = f64::from(x).tanh();
            let got = f64::from(tanh_f32(x));
            let err = (got - exact).abs()
                / f64::from(f32::EPSILON).max(exact.abs() * f64::from(f32::EPSILON));
            worst = worst.max(err);
            x += 0.000_37;
        }
        assert!(worst < 8.0, "worst error {worst} ulp");
        assert_eq!(tanh_f32(0.0), 0.0);
        assert_eq!(tanh_f32(20.0), 1.0);
        assert_eq!(tanh_f32(-20.0), -1.0);
        assert!(tanh_f32(f32::NAN).is_nan());
    }
}
