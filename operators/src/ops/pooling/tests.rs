use mxr_kernels::DType;

use crate::Error;
use crate::check::{GradCheck, HostTensor, check_gradient, gradients, infer_shapes, run};
use crate::ops::test_util::make_op;
use crate::registry::{OpRef, Shape, create, lookup};

fn pool(attrs: &[(&str, &str)]) -> OpRef {
    make_op("Pooling", attrs)
}

fn forward(op: &OpRef, x: HostTensor) -> HostTensor {
    run(op.as_ref(), &mut [x], false).unwrap().remove(0)
}

fn seq(shape: &[usize], from: f32) -> HostTensor {
    let n: usize = shape.iter().product();
    HostTensor::from_f32(shape, (0..n).map(|v| v as f32 + from).collect())
}

/// Distinct values (no ties in any window), shuffled.
fn distinct(shape: &[usize], seed: u64) -> HostTensor {
    let n: usize = shape.iter().product();
    let mut v: Vec<f64> = (0..n).map(|i| i as f64 / n as f64 - 0.5).collect();
    let mut s = seed | 1;
    for i in (1..n).rev() {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        v.swap(i, (s >> 33) as usize % (i + 1));
    }
    HostTensor::from_f64_as(shape, &v, DType::F64)
}

#[test]
fn mxnet_values() {
    // Values printed by MXNet 1.9.1 (also shared/spec/operators.md).
    let ones = HostTensor::from_f32(&[1, 1, 3, 3], vec![1.0; 9]);
    let base = [
        ("kernel", "(2, 2)"),
        ("stride", "(2, 2)"),
        ("pad", "(1, 1)"),
    ];
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut a = base.to_vec();
        a.extend_from_slice(extra);
        pool(&a)
    };
    let avg = forward(&with(&[("pool_type", "avg")]), ones.clone());
    assert_eq!(
        (avg.shape(), avg.to_f64()),
        (&[1, 1, 2, 2][..], vec![0.25, 0.5, 0.5, 1.0])
    );
    let excl = forward(
        &with(&[("pool_type", "avg"), ("count_include_pad", "False")]),
        ones.clone(),
    );
    assert_eq!(excl.to_f64(), vec![1.0; 4]);
    let sum = forward(&with(&[("pool_type", "sum")]), ones);
    assert_eq!(sum.to_f64(), vec![1.0, 2.0, 2.0, 4.0]);

    let x = seq(&[1, 1, 3, 3], 1.0);
    let full = [
        ("kernel", "(2, 2)"),
        ("stride", "(2, 2)"),
        ("pooling_convention", "full"),
    ];
    let max = forward(&pool(&full), x.clone());
    assert_eq!(
        (max.shape(), max.to_f64()),
        (&[1, 1, 2, 2][..], vec![5.0, 6.0, 8.0, 9.0])
    );
    let mut a = full.to_vec();
    a.push(("pool_type", "avg"));
    assert_eq!(
        forward(&pool(&a), x.clone()).to_f64(),
        vec![3.0, 4.5, 7.5, 9.0]
    );
    // The default convention floors: 3×3 with kernel 2, stride 2 → 1×1.
    let valid = forward(&pool(&[("kernel", "(2, 2)"), ("stride", "(2, 2)")]), x);
    assert_eq!(
        (valid.shape(), valid.to_f64()),
        (&[1, 1, 1, 1][..], vec![5.0])
    );

    // Global pooling on 4-D and 3-D data; the kernel is ignored.
    let g = forward(
        &pool(&[
            ("global_pool", "True"),
            ("kernel", "(1, 1)"),
            ("pool_type", "avg"),
        ]),
        seq(&[1, 2, 3, 4], 1.0),
    );
    assert_eq!(
        (g.shape(), g.to_f64()),
        (&[1, 2, 1, 1][..], vec![6.5, 18.5])
    );
    let g = forward(&pool(&[("global_pool", "True")]), seq(&[1, 2, 12], 1.0));
    assert_eq!((g.shape(), g.to_f64()), (&[1, 2, 1][..], vec![12.0, 24.0]));

    // 1-D (full convention) and 3-D.
    let one_d = forward(
        &pool(&[
            ("kernel", "(3,)"),
            ("stride", "(2,)"),
            ("pool_type", "avg"),
            ("pooling_convention", "full"),
        ]),
        seq(&[1, 1, 7], 1.0),
    );
    assert_eq!(
        (one_d.shape(), one_d.to_f64()),
        (&[1, 1, 3][..], vec![2.0, 4.0, 6.0])
    );
    let three_d = forward(
        &pool(&[("kernel", "(2, 2, 2)"), ("pool_type", "sum")]),
        seq(&[1, 1, 2, 3, 4], 1.0),
    );
    assert_eq!(three_d.shape(), &[1, 1, 1, 2, 3]);
    assert_eq!(
        three_d.to_f64(),
        vec![76.0, 84.0, 92.0, 108.0, 116.0, 124.0]
    );

    // Max with padding: padding never wins, even against negative values.
    let neg = HostTensor::from_f32(&[1, 1, 2, 2], vec![-1.0, -2.0, -3.0, -4.0]);
    let m = forward(&pool(&[("kernel", "(2, 2)"), ("pad", "(1, 1)")]), neg);
    assert_eq!(
        m.to_f64(),
        vec![-1.0, -1.0, -2.0, -1.0, -1.0, -2.0, -3.0, -3.0, -4.0]
    );
}

#[test]
fn max_gradient_goes_to_the_first_maximum() {
    let op = pool(&[("kernel", "(2, 2)")]);
    let x = HostTensor::from_f32(&[1, 1, 2, 3], vec![5.0, 5.0, 1.0, 5.0, 5.0, 5.0]);
    let g = HostTensor::from_f32(&[1, 1, 1, 2], vec![1.0, 10.0]);
    let dx = gradients(&op, &[x], &[g], true, 0)
        .unwrap()
        .remove(0)
        .unwrap();
    // Window 0 ties over its four 5s: the first gets 1. Window 1 ties at (0,1), (1,1), (1,2).
    assert_eq!(dx.to_f64(), vec![1.0, 10.0, 0.0, 0.0, 0.0, 0.0]);

    // The backward op by name, with MXNet's inputs [ograd, data, output].
    let back = make_op("_backward_Pooling", &[("kernel", "(2, 2)")]);
    assert_eq!(back.input_names(), ["ograd", "data", "output"]);
    let out = run(
        back.as_ref(),
        &mut [
            HostTensor::from_f32(&[1, 1, 1, 1], vec![3.0]),
            HostTensor::from_f32(&[1, 1, 2, 2], vec![5.0; 4]),
            HostTensor::from_f32(&[1, 1, 1, 1], vec![5.0]),
        ],
        false,
    )
    .unwrap();
    assert_eq!(out[0].to_f64(), vec![3.0, 0.0, 0.0, 0.0]);
}

#[test]
fn gradients_match_finite_differences() {
    let opts = GradCheck::default();
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a [usize]);
    let cases: [Case<'_>; 9] = [
        (&[("kernel", "(2, 2)"), ("stride", "(2, 2)")], &[2, 2, 4, 4]),
        (
            &[
                ("kernel", "(3, 3)"),
                ("stride", "(2, 2)"),
                ("pad", "(1, 1)"),
            ],
            &[1, 2, 5, 5],
        ),
        (
            &[
                ("kernel", "(2, 2)"),
                ("stride", "(2, 2)"),
                ("pool_type", "avg"),
            ],
            &[2, 2, 5, 5],
        ),
        (
            &[
                ("kernel", "(3, 3)"),
                ("stride", "(2, 1)"),
                ("pad", "(1, 1)"),
                ("pool_type", "avg"),
                ("count_include_pad", "False"),
            ],
            &[1, 2, 5, 4],
        ),
        (
            &[
                ("kernel", "(2, 3)"),
                ("pad", "(1, 0)"),
                ("pool_type", "sum"),
                ("pooling_convention", "full"),
            ],
            &[1, 1, 4, 5],
        ),
        (
            &[("global_pool", "True"), ("pool_type", "avg")],
            &[2, 3, 3, 2],
        ),
        (&[("global_pool", "True")], &[2, 3, 3, 2]),
        (
            &[
                ("kernel", "(3,)"),
                ("stride", "(2,)"),
                ("pooling_convention", "full"),
            ],
            &[2, 2, 8],
        ),
        (
            &[
                ("kernel", "(2, 2, 2)"),
                ("pool_type", "avg"),
                ("pad", "(1, 0, 1)"),
            ],
            &[1, 2, 3, 3, 3],
        ),
    ];
    for (i, (attrs, shape)) in cases.into_iter().enumerate() {
        check_gradient(&pool(attrs), &[distinct(shape, i as u64 + 1)], &opts)
            .unwrap_or_else(|e| panic!("{attrs:?}: {e}"));
    }
}

#[test]
fn shape_inference() {
    // 6×6 with kernel 3, stride 2: valid 2×2, full 3×3.
    for (conv, side) in [("valid", 2), ("full", 3)] {
        let op = pool(&[
            ("kernel", "(3, 3)"),
            ("stride", "(2, 2)"),
            ("pooling_convention", conv),
        ]);
        let (_, outs) = infer_shapes(op.as_ref(), &[Shape::known(&[2, 3, 6, 6])]).unwrap();
        assert_eq!(outs[0], Shape::known(&[2, 3, side, side]), "{conv}");
    }
    let op = pool(&[("kernel", "(2, 2)"), ("stride", "(2, 2)")]);
    let (_, outs) = infer_shapes(op.as_ref(), &[Shape::from_legacy(&[0, 3, 0, 7])]).unwrap();
    assert_eq!(outs[0], Shape::from_legacy(&[0, 3, 0, 3]));
    let (_, outs) = infer_shapes(op.as_ref(), &[Shape::unknown()]).unwrap();
    assert_eq!(outs[0], Shape::unknown());
    let (_, outs) = infer_shapes(
        pool(&[("global_pool", "True")]).as_ref(),
        &[Shape::from_legacy(&[0, 3, 5, 0, 2])],
    )
    .unwrap();
    assert_eq!(outs[0], Shape::from_legacy(&[0, 3, 1, 1, 1]));

    // Batch and channels come back from the output.
    use crate::registry::{Operator, ShapeCtx};
    let names = op.input_names();
    let mut ins = vec![Shape::from_legacy(&[0, 0, 6, 6])];
    let mut outs = vec![Shape::from_legacy(&[4, 5, 0, 0])];
    Operator::infer_shape(
        op.as_ref(),
        &mut ShapeCtx::new("Pooling", &names, &mut ins, &mut outs),
    )
    .unwrap();
    assert_eq!(ins[0], Shape::known(&[4, 5, 6, 6]));
    assert_eq!(outs[0], Shape::known(&[4, 5, 3, 3]));
}

#[test]
fn shape_errors() {
    let op = pool(&[("kernel", "(4, 4)")]);
    let err = infer_shapes(op.as_ref(), &[Shape::known(&[1, 1, 3, 3])]).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::Shape { .. }), "{msg}");
    assert!(
        msg.contains("Pooling") && msg.contains("kernel size (4) exceeds input (3 padded to 3)"),
        "{msg}"
    );
    let err = infer_shapes(op.as_ref(), &[Shape::known(&[1, 3, 3])])
        .unwrap_err()
        .to_string();
    assert!(err.contains("must be 4-D"), "{err}");
    let err = infer_shapes(
        pool(&[("global_pool", "True")]).as_ref(),
        &[Shape::known(&[2, 3])],
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("global pooling"), "{err}");
}

#[test]
fn parameters() {
    let err = |attrs: &[(&str, &str)]| create("Pooling", attrs, None).unwrap_err();
    let e = err(&[("kernel", "(2, 2)"), ("pool_type", "lp"), ("p_value", "2")]);
    assert!(
        matches!(&e, Error::Unsupported { .. }) && e.to_string().contains("lp"),
        "{e}"
    );
    let e = err(&[("kernel", "(2,)"), ("pooling_convention", "same")]);
    assert!(
        matches!(&e, Error::Unsupported { .. }) && e.to_string().contains("same"),
        "{e}"
    );
    let e = err(&[("kernel", "(2, 2)"), ("layout", "NHWC")]);
    assert!(
        matches!(&e, Error::Unsupported { .. }) && e.to_string().contains("NHWC"),
        "{e}"
    );
    let e = err(&[("kernel", "(2, 2)"), ("layout", "NCW")]).to_string();
    assert!(e.contains("layout") && e.contains("NCHW"), "{e}");
    let e = err(&[]).to_string();
    assert!(e.contains("kernel") && e.contains("global_pool"), "{e}");
    let e = err(&[("kernel", "(2, 2)"), ("stride", "(2,)")]).to_string();
    assert!(
        e.contains("stride") && e.contains("as many dimensions"),
        "{e}"
    );
    let e = err(&[("kernel", "(2, 2)"), ("pad", "(1, 1, 1)")]).to_string();
    assert!(e.contains("pad"), "{e}");
    let e = err(&[("kernel", "(2, 2)"), ("stride", "(0, 1)")]).to_string();
    assert!(e.contains("stride") && e.contains("positive"), "{e}");
    let e = err(&[("kernel", "(2, 2)"), ("pool_type", "Max")]).to_string();
    assert!(e.contains("pool_type") && e.contains("'max'"), "{e}");

    let op = pool(&[
        ("kernel", "(2, 2)"),
        ("pool_type", "avg"),
        ("cudnn_off", "True"),
        ("count_include_pad", "False"),
        ("layout", "NCHW"),
    ]);
    assert_eq!(
        op.attrs(),
        [
            ("kernel", "(2, 2)"),
            ("pool_type", "avg"),
            ("cudnn_off", "True"),
            ("count_include_pad", "False"),
            ("layout", "NCHW")
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()))
    );
    assert_eq!(lookup("_npx_pooling").unwrap().name, "Pooling");
    // f32 works as well as f64.
    let y = forward(
        &pool(&[("kernel", "(2, 2)"), ("pool_type", "avg")]),
        seq(&[1, 1, 2, 2], 0.0),
    );
    assert_eq!((y.dtype(), y.to_f64()), (DType::F32, vec![1.5]));
}

/// Values with ties (so max pooling's first-maximum rule matters) and negatives.
fn tied(shape: &[usize], salt: usize) -> HostTensor {
    let n: usize = shape.iter().product();
    let v = (0..n)
        .map(|i| ((i * 5 + i / 3 + salt) % 4) as f32 * 0.75 - 1.0)
        .collect();
    HostTensor::from_f32(shape, v)
}

#[test]
fn gpu_matches_cpu() {
    use crate::ops::test_util::GpuCheck;
    let gpu = GpuCheck::new(1e-5, 1e-6);
    // (shape, attrs other than pool_type)
    type Case<'a> = (&'a [usize], &'a [(&'a str, &'a str)]);
    let cases: &[Case<'_>] = &[
        (&[2, 3, 7, 6], &[("kernel", "(3, 2)")]),
        (
            &[2, 3, 7, 6],
            &[
                ("kernel", "(3, 3)"),
                ("stride", "(2, 2)"),
                ("pad", "(1, 1)"),
            ],
        ),
        (
            &[1, 2, 8, 7],
            &[
                ("kernel", "(3, 2)"),
                ("stride", "(2, 3)"),
                ("pad", "(1, 1)"),
                ("pooling_convention", "full"),
            ],
        ),
        (
            &[2, 2, 5, 5],
            &[
                ("kernel", "(2, 2)"),
                ("stride", "(2, 2)"),
                ("pad", "(1, 1)"),
                ("count_include_pad", "false"),
            ],
        ),
        (
            &[2, 3, 5, 4],
            &[("kernel", "(1, 1)"), ("global_pool", "true")],
        ),
        (
            &[3, 2, 9],
            &[("kernel", "(3,)"), ("stride", "(2,)"), ("pad", "(1,)")],
        ),
        (
            &[1, 2, 4, 5, 3],
            &[
                ("kernel", "(2, 3, 2)"),
                ("stride", "(1, 2, 1)"),
                ("pad", "(0, 1, 1)"),
            ],
        ),
        (&[1, 1, 1, 1], &[("kernel", "(1, 1)")]),
        (&[0, 3, 4, 4], &[("kernel", "(2, 2)")]),
    ];
    for (shape, attrs) in cases {
        for ty in ["max", "avg", "sum"] {
            let mut all = attrs.to_vec();
            all.push(("pool_type", ty));
            let op = make_op("Pooling", &all);
            let x = tied(shape, 3);
            // Summation order: the CPU adds window rows in order, the GPU the same per output
            // element; the backward's atomic adds may run in any order on a real device.
            let y = gpu.forward(op.as_ref(), &x, &format!("{ty} {attrs:?}"));
            let back = make_op("_backward_Pooling", &all);
            let g = tied(y.shape(), 5);
            let what = format!("backward {ty} {attrs:?}");
            gpu.check(back.as_ref(), &[g, x, y], &what);
        }
    }
}
