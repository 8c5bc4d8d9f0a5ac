use mxr_kernels::DType;

use crate::Error;
use crate::check::{GradCheck, HostTensor, check_gradient, gradients, infer_shapes, run};
use crate::ops::test_util::make_op;
use crate::registry::{OpRef, Shape, create, lookup};

fn conv(attrs: &[(&str, &str)]) -> OpRef {
    make_op("Convolution", attrs)
}

fn arange(shape: &[usize]) -> HostTensor {
    let n: usize = shape.iter().product();
    HostTensor::from_f32(shape, (0..n).map(|v| v as f32).collect())
}

fn t64(shape: &[usize], seed: u64) -> HostTensor {
    let n: usize = shape.iter().product();
    let v: Vec<f64> = (0..n)
        .map(|i| ((((i as u64 + 3) * (seed * 2 + 104_729)) % 997) as f64) / 498.5 - 1.0)
        .collect();
    HostTensor::from_f64_as(shape, &v, DType::F64)
}

fn weight() -> HostTensor {
    #[rustfmt::skip]
    let w = vec![1.0, 0.0, 0.0, -1.0,  0.5, 0.5, 0.5, 0.5,  0.0, 1.0, 2.0, 0.0,  -1.0, 0.0, 0.0, 1.0];
    HostTensor::from_f32(&[2, 2, 2, 2], w)
}

#[test]
fn mxnet_values_forward_and_backward() {
    // Values printed by MXNet 1.9.1: kernel 2×2, stride 2, pad 1, two filters with bias.
    let op = conv(&[
        ("kernel", "(2, 2)"),
        ("stride", "(2, 2)"),
        ("pad", "(1, 1)"),
        ("num_filter", "2"),
    ]);
    let bias = HostTensor::from_f32(&[2], vec![1.0, -1.0]);
    let mut ins = [arange(&[1, 2, 3, 3]), weight(), bias];
    let out = run(op.as_ref(), &mut ins, false).unwrap();
    assert_eq!(out[0].shape(), &[1, 2, 2, 2]);
    assert_eq!(
        out[0].to_f64(),
        vec![5.5, 9.5, 8.5, 27.0, 8.0, 12.0, 17.0, 22.0]
    );

    let ones = HostTensor::from_f32(&[1, 2, 2, 2], vec![1.0; 8]);
    let grads = gradients(&op, &ins, &[ones], true, 0).unwrap();
    let got = |i: usize| grads[i].as_ref().unwrap().to_f64();
    assert_eq!(
        got(0),
        vec![
            -1.0, 2.0, -1.0, 1.0, 1.0, 1.0, -1.0, 2.0, -1.0, 1.5, 0.5, 1.5, 0.5, -0.5, 0.5, 1.5,
            0.5, 1.5
        ]
    );
    assert_eq!(
        got(1),
        vec![
            4.0, 8.0, 8.0, 16.0, 13.0, 26.0, 26.0, 52.0, 4.0, 8.0, 8.0, 16.0, 13.0, 26.0, 26.0,
            52.0
        ]
    );
    assert_eq!(got(2), vec![4.0, 4.0]);
}

#[test]
fn mxnet_values_groups_1d_3d() {
    // num_group=2: filter 0 sees channels 0-1, filter 1 channels 2-3.
    let op = conv(&[
        ("kernel", "(2, 2)"),
        ("num_filter", "2"),
        ("num_group", "2"),
        ("no_bias", "True"),
    ]);
    let out = run(op.as_ref(), &mut [arange(&[1, 4, 3, 3]), weight()], false).unwrap();
    assert_eq!(
        out[0].to_f64(),
        vec![18.0, 20.0, 24.0, 26.0, 65.0, 68.0, 74.0, 77.0]
    );

    // 1-D with dilation 2.
    let op = conv(&[("kernel", "(3,)"), ("dilate", "(2,)"), ("num_filter", "1")]);
    let w = HostTensor::from_f32(&[1, 2, 3], vec![1.0, 2.0, 3.0, -1.0, 0.0, 1.0]);
    let b = HostTensor::from_f32(&[1], vec![0.5]);
    let out = run(op.as_ref(), &mut [arange(&[1, 2, 5]), w, b], false).unwrap();
    assert_eq!(
        (out[0].shape(), out[0].to_f64()),
        (&[1, 1, 1][..], vec![20.5])
    );

    // 3-D.
    let op = conv(&[
        ("kernel", "(2, 2, 2)"),
        ("num_filter", "1"),
        ("no_bias", "True"),
    ]);
    let mut w = vec![0.0f32; 8];
    (w[0], w[7]) = (1.0, -1.0);
    let w = HostTensor::from_f32(&[1, 1, 2, 2, 2], w);
    let out = run(op.as_ref(), &mut [arange(&[1, 1, 3, 3, 3]), w], false).unwrap();
    assert_eq!(
        (out[0].shape(), out[0].to_f64()),
        (&[1, 1, 2, 2, 2][..], vec![-13.0; 8])
    );
}

#[test]
fn gradients_match_finite_differences() {
    let opts = GradCheck::default();
    type Case<'a> = (Vec<(&'a str, &'a str)>, Vec<HostTensor>);
    let cases: Vec<Case<'_>> = vec![
        (
            vec![("kernel", "(3, 3)"), ("pad", "(1, 1)"), ("num_filter", "3")],
            vec![t64(&[2, 2, 4, 4], 1), t64(&[3, 2, 3, 3], 2), t64(&[3], 3)],
        ),
        (
            vec![
                ("kernel", "(3, 2)"),
                ("stride", "(2, 1)"),
                ("dilate", "(1, 2)"),
                ("num_filter", "4"),
                ("num_group", "2"),
                ("no_bias", "True"),
            ],
            vec![t64(&[1, 4, 5, 5], 4), t64(&[4, 2, 3, 2], 5)],
        ),
        (
            vec![("kernel", "(1, 1)"), ("num_filter", "2")],
            vec![t64(&[2, 3, 2, 3], 6), t64(&[2, 3, 1, 1], 7), t64(&[2], 8)],
        ),
        (
            vec![
                ("kernel", "(3,)"),
                ("pad", "(2,)"),
                ("stride", "(2,)"),
                ("num_filter", "2"),
            ],
            vec![t64(&[2, 2, 6], 9), t64(&[2, 2, 3], 10), t64(&[2], 11)],
        ),
        (
            vec![
                ("kernel", "(2, 2, 2)"),
                ("pad", "(1, 0, 0)"),
                ("num_filter", "2"),
            ],
            vec![
                t64(&[1, 2, 2, 3, 3], 12),
                t64(&[2, 2, 2, 2, 2], 13),
                t64(&[2], 14),
            ],
        ),
    ];
    for (attrs, inputs) in cases {
        check_gradient(&conv(&attrs), &inputs, &opts).unwrap_or_else(|e| panic!("{attrs:?}: {e}"));
    }
}

#[test]
fn shape_inference() {
    let op = conv(&[
        ("kernel", "(3, 3)"),
        ("stride", "(2, 2)"),
        ("pad", "(1, 1)"),
        ("dilate", "(2, 2)"),
        ("num_filter", "8"),
        ("num_group", "2"),
    ]);
    // MXNet: data (2,4,11,11), k3 s2 p1 d2 g2 f8 → output (2,8,5,5), weight (8,2,3,3).
    let (ins, outs) = infer_shapes(
        op.as_ref(),
        &[
            Shape::known(&[2, 4, 11, 11]),
            Shape::unknown(),
            Shape::unknown(),
        ],
    )
    .unwrap();
    assert_eq!(ins[1], Shape::known(&[8, 2, 3, 3]));
    assert_eq!(ins[2], Shape::known(&[8]));
    assert_eq!(outs[0], Shape::known(&[2, 8, 5, 5]));
    // Partial data: unknown batch and height.
    let (ins, outs) = infer_shapes(
        op.as_ref(),
        &[
            Shape::from_legacy(&[0, 4, 0, 11]),
            Shape::unknown(),
            Shape::unknown(),
        ],
    )
    .unwrap();
    assert_eq!(ins[1], Shape::known(&[8, 2, 3, 3]));
    assert_eq!(outs[0], Shape::from_legacy(&[0, 8, 0, 5]));
    // Unknown channels come from the weight.
    let (ins, _) = infer_shapes(
        op.as_ref(),
        &[
            Shape::from_legacy(&[2, 0, 11, 11]),
            Shape::known(&[8, 2, 3, 3]),
            Shape::unknown(),
        ],
    )
    .unwrap();
    assert_eq!(ins[0], Shape::known(&[2, 4, 11, 11]));
    // Unknown data rank: nothing yet.
    let (ins, outs) = infer_shapes(
        op.as_ref(),
        &[Shape::unknown(), Shape::unknown(), Shape::unknown()],
    )
    .unwrap();
    assert_eq!(
        (ins[1].clone(), outs[0].clone()),
        (Shape::unknown(), Shape::unknown())
    );
}

#[test]
fn data_comes_back_from_the_output_where_the_stride_is_one() {
    use crate::registry::{Operator, ShapeCtx};
    let op = conv(&[
        ("kernel", "(3, 3)"),
        ("stride", "(1, 2)"),
        ("pad", "(1, 0)"),
        ("num_filter", "2"),
    ]);
    let names = op.input_names();
    let mut ins = vec![
        Shape::from_legacy(&[0, 3, 0, 0]),
        Shape::unknown(),
        Shape::unknown(),
    ];
    let mut outs = vec![Shape::known(&[5, 2, 7, 4])];
    Operator::infer_shape(
        op.as_ref(),
        &mut ShapeCtx::new("Convolution", &names, &mut ins, &mut outs),
    )
    .unwrap();
    // Batch and height (stride 1: 7 + 3 - 1 - 2) come back; the width (stride 2) cannot.
    assert_eq!(ins[0], Shape::from_legacy(&[5, 3, 7, 0]));
}

#[test]
fn shape_errors() {
    let op = conv(&[
        ("kernel", "(3, 3)"),
        ("num_filter", "4"),
        ("num_group", "2"),
    ]);
    let err = infer_shapes(
        op.as_ref(),
        &[
            Shape::known(&[1, 3, 5, 5]),
            Shape::unknown(),
            Shape::unknown(),
        ],
    )
    .unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(err, Error::Shape { .. })
            && msg.contains("Convolution")
            && msg.contains("num_group = 2"),
        "{msg}"
    );
    let err = infer_shapes(
        op.as_ref(),
        &[
            Shape::known(&[1, 4, 2, 5]),
            Shape::unknown(),
            Shape::unknown(),
        ],
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("exceeds the padded input size 2"), "{err}");
    let err = infer_shapes(
        op.as_ref(),
        &[Shape::known(&[4, 5, 5]), Shape::unknown(), Shape::unknown()],
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("must be 4-D"), "{err}");
    let err = infer_shapes(
        op.as_ref(),
        &[
            Shape::known(&[1, 4, 5, 5]),
            Shape::known(&[4, 2, 2, 2]),
            Shape::unknown(),
        ],
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("weight") && err.contains("(4, 2, 2, 2)"),
        "{err}"
    );
}

#[test]
fn parameters() {
    let bad = |attrs: &[(&str, &str)], words: &[&str]| {
        let err = create("Convolution", attrs, None).unwrap_err().to_string();
        for w in words {
            assert!(err.contains(w), "{attrs:?}: {err}");
        }
    };
    bad(&[("num_filter", "2")], &["kernel", "missing"]);
    bad(&[("kernel", "(3, 3)")], &["num_filter", "missing"]);
    bad(
        &[("kernel", "(3, 3, 3, 3)"), ("num_filter", "2")],
        &["kernel", "1, 2 or 3"],
    );
    bad(
        &[("kernel", "(3, 0)"), ("num_filter", "2")],
        &["kernel", "positive"],
    );
    bad(
        &[
            ("kernel", "(3, 3)"),
            ("stride", "(2,)"),
            ("num_filter", "2"),
        ],
        &["stride", "as many dimensions"],
    );
    bad(
        &[
            ("kernel", "(3, 3)"),
            ("dilate", "(0, 1)"),
            ("num_filter", "2"),
        ],
        &["dilate", "positive"],
    );
    bad(
        &[("kernel", "(3, 3)"), ("num_filter", "0")],
        &["num_filter", "at least 1"],
    );
    bad(
        &[
            ("kernel", "(3, 3)"),
            ("num_filter", "3"),
            ("num_group", "2"),
        ],
        &["num_filter", "divisible"],
    );
    bad(
        &[
            ("kernel", "(3, 3)"),
            ("num_filter", "2"),
            ("layout", "NHWC"),
        ],
        &["Convolution", "NHWC", "not supported"],
    );
    bad(
        &[("kernel", "(3, 3)"), ("num_filter", "2"), ("layout", "NCW")],
        &["layout", "NCHW"],
    );
    bad(
        &[
            ("kernel", "(3, 3)"),
            ("num_filter", "2"),
            ("cudnn_tune", "best"),
        ],
        &["cudnn_tune"],
    );
    // Accepted and ignored: workspace, cudnn_tune, cudnn_off, a matching layout.
    let op = conv(&[
        ("kernel", "(3, 3)"),
        ("num_filter", "2"),
        ("workspace", "512"),
        ("cudnn_tune", "fastest"),
        ("cudnn_off", "True"),
        ("layout", "NCHW"),
    ]);
    assert_eq!(op.attrs().len(), 6);
    assert_eq!(op.attrs()[0], ("kernel".to_string(), "(3, 3)".to_string()));
    assert_eq!(lookup("_npx_convolution").unwrap().name, "Convolution");
    let back = make_op(
        "_backward_Convolution",
        &[
            ("kernel", "(3, 3)"),
            ("num_filter", "2"),
            ("no_bias", "True"),
        ],
    );
    assert_eq!(back.input_names(), ["ograd", "data", "weight"]);
    assert_eq!(back.num_outputs(), 2);
}

#[test]
fn f32_matches_f64() {
    let op = conv(&[
        ("kernel", "(3, 3)"),
        ("pad", "(1, 1)"),
        ("stride", "(2, 2)"),
        ("num_filter", "5"),
    ]);
    let ins = [t64(&[2, 3, 7, 6], 1), t64(&[5, 3, 3, 3], 2), t64(&[5], 3)];
    let want = run(op.as_ref(), &mut ins.clone(), false).unwrap();
    let mut ins32: Vec<HostTensor> = ins.iter().map(|t| t.cast(DType::F32)).collect();
    let got = run(op.as_ref(), &mut ins32, false).unwrap();
    assert_eq!(got[0].dtype(), DType::F32);
    for (a, b) in got[0].to_f64().iter().zip(want[0].to_f64()) {
        assert!((a - b).abs() < 1e-5, "{a} vs {b}");
    }
}

fn wave(shape: &[usize], salt: f32) -> HostTensor {
    let n: usize = shape.iter().product();
    let v = (0..n).map(|i| (i as f32 * 0.61 + salt).sin()).collect();
    HostTensor::from_f32(shape, v)
}

#[test]
fn gpu_matches_cpu() {
    use crate::ops::test_util::GpuCheck;
    let gpu = GpuCheck::new(1e-4, 1e-5);
    // (data shape, filters, groups, kernel, extra attributes)
    type Case<'a> = (
        &'a [usize],
        usize,
        usize,
        &'a [usize],
        &'a [(&'a str, &'a str)],
    );
    let cases: &[Case<'_>] = &[
        (&[2, 3, 7, 6], 4, 1, &[3, 3], &[]),
        (
            &[2, 4, 9, 8],
            6,
            2,
            &[3, 2],
            &[
                ("stride", "(2, 3)"),
                ("pad", "(1, 2)"),
                ("dilate", "(2, 1)"),
            ],
        ),
        (
            &[3, 2, 11],
            5,
            1,
            &[3],
            &[("stride", "(2,)"), ("pad", "(1,)")],
        ),
        (&[1, 2, 5, 6], 3, 1, &[1, 1], &[("no_bias", "true")]),
        (&[2, 4, 4, 5, 3], 2, 2, &[2, 3, 2], &[("pad", "(1, 1, 0)")]),
        (&[1, 1, 1, 1], 1, 1, &[1, 1], &[]),
    ];
    for (shape, f, g, kernel, extra) in cases {
        let ks = format!("{kernel:?}")
            .replace('[', "(")
            .replace(']', if kernel.len() == 1 { ",)" } else { ")" });
        let (fs, gs) = (f.to_string(), g.to_string());
        let mut attrs = vec![
            ("kernel", ks.as_str()),
            ("num_filter", fs.as_str()),
            ("num_group", gs.as_str()),
        ];
        attrs.extend_from_slice(extra);
        let no_bias = extra.contains(&("no_bias", "true"));
        let mut wshape = vec![*f, shape[1] / g];
        wshape.extend_from_slice(kernel);
        let mut ins = vec![wave(shape, 0.0), wave(&wshape, 1.0)];
        if !no_bias {
            ins.push(wave(&[*f], 2.0));
        }
        let fwd = make_op("Convolution", &attrs);
        // GEMM summation order differs from the CPU's: 1e-4 relative.
        gpu.check(fwd.as_ref(), &ins, &format!("{attrs:?}"));
        let y = run(fwd.as_ref(), &mut ins.clone(), true).unwrap().remove(0);
        let back = make_op("_backward_Convolution", &attrs);
        let mut bins = vec![wave(y.shape(), 3.0)];
        bins.extend(ins.iter().cloned());
        gpu.check(back.as_ref(), &bins, &format!("backward {attrs:?}"));
    }
}
