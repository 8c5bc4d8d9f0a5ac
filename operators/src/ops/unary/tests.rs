use mxr_kernels::DType;

use crate::check::{GradCheck, HostTensor, check_gradient, gradients, infer_shapes, run};
use crate::ops::test_util::{
    added, assert_close, assert_create_err, backward_graph, cpu_ctx, input, make_op, ograd, output,
};
use crate::registry::Shape;

const OPS: [&str; 9] = [
    "negative", "exp", "log", "sqrt", "square", "abs", "tanh", "sigmoid", "relu",
];

#[test]
fn forward_and_backward_match_mxnet() {
    // Printed by MXNet 1.9.1 (float32) for x = [0.25, 1, 2.5, 4], head gradient [1, 2, -1, 0.5].
    let x = HostTensor::from_f32(&[4], vec![0.25, 1.0, 2.5, 4.0]);
    let g = HostTensor::from_f32(&[4], vec![1.0, 2.0, -1.0, 0.5]);
    let cases: [(&str, [f64; 4], [f64; 4]); 6] = [
        (
            "exp",
            [1.284_025_4, 2.718_281_7, 12.182_494, 54.598_15],
            [1.284_025_4, 5.436_563_5, -12.182_494, 27.299_074],
        ),
        (
            "log",
            [-1.386_294_4, 0.0, 0.916_290_76, 1.386_294_4],
            [4.0, 2.0, -0.4, 0.125],
        ),
        (
            "sqrt",
            [0.5, 1.0, 1.581_138_8, 2.0],
            [1.0, 1.0, -0.316_227_76, 0.125],
        ),
        ("square", [0.0625, 1.0, 6.25, 16.0], [0.5, 4.0, -5.0, 4.0]),
        (
            "tanh",
            [0.244_918_66, 0.761_594_2, 0.986_614_3, 0.999_329_3],
            [0.940_014_84, 0.839_948_65, -0.026_592_255, 0.000_670_433],
        ),
        (
            "sigmoid",
            [0.562_176_5, 0.731_058_6, 0.924_141_8, 0.982_013_76],
            [0.246_134_07, 0.393_223_85, -0.070_103_71, 0.008_831_367],
        ),
    ];
    for (name, want_y, want_dx) in cases {
        let op = make_op(name, &[]);
        let out = run(op.as_ref(), &mut [x.clone()], false).unwrap();
        assert_eq!(out[0].dtype(), DType::F32);
        assert_close(&out[0].to_f64(), &want_y, 1e-6, 1e-7);
        let dx = gradients(
            &op,
            std::slice::from_ref(&x),
            std::slice::from_ref(&g),
            true,
            0,
        )
        .unwrap();
        // tanh's gradient near 1 loses digits to cancellation in float32.
        assert_close(&dx[0].as_ref().unwrap().to_f64(), &want_dx, 2e-4, 1e-7);
    }
}

#[test]
fn simple_functions_by_hand() {
    let x = HostTensor::from_f32(&[2, 3], vec![-2.0, -0.5, 0.0, 0.5, 2.0, f32::NAN]);
    let run1 = |name: &str| {
        let op = make_op(name, &[]);
        run(op.as_ref(), &mut [x.clone()], false).unwrap()[0].to_f64()
    };
    let negative = run1("negative");
    assert_eq!(&negative[..5], &[2.0, 0.5, -0.0, -0.5, -2.0]);
    let abs = run1("abs");
    assert_eq!(&abs[..5], &[2.0, 0.5, 0.0, 0.5, 2.0]);
    let relu = run1("relu");
    assert_eq!(&relu[..5], &[0.0, 0.0, 0.0, 0.5, 2.0]);
    assert!(relu[5].is_nan(), "relu passes NaN through, as MXNet does");
}

#[test]
fn integer_inputs_follow_mxnet() {
    // MXNet 1.9.1 on int32 [1, 2, 3, 0, -4].
    let x = HostTensor::from_vec(&[5], vec![1i32, 2, 3, 0, -4]);
    for (name, want) in [
        ("negative", [-1.0, -2.0, -3.0, 0.0, 4.0]),
        ("exp", [2.0, 7.0, 20.0, 1.0, 0.0]),
        ("square", [1.0, 4.0, 9.0, 0.0, 16.0]),
        ("abs", [1.0, 2.0, 3.0, 0.0, 4.0]),
        ("tanh", [0.0; 5]),
        ("sigmoid", [0.0; 5]),
        ("relu", [1.0, 2.0, 3.0, 0.0, 0.0]),
    ] {
        let op = make_op(name, &[]);
        let out = run(op.as_ref(), &mut [x.clone()], false).unwrap();
        assert_eq!(out[0].dtype(), DType::I32);
        assert_eq!(out[0].to_f64(), want.to_vec(), "{name}");
    }
}

#[test]
fn in_place_equals_out_of_place() {
    let x = HostTensor::from_f64_as(&[4], &[0.3, 1.7, 2.2, 9.0], DType::F32);
    for name in OPS {
        let op = make_op(name, &[]);
        let want = run(op.as_ref(), &mut [x.clone()], false).unwrap();
        let mut y = x.clone();
        op.forward_inplace(&mut cpu_ctx(), &mut y.view_mut())
            .expect("unary ops compute in place")
            .unwrap();
        assert_eq!(y, want[0], "{name}");
        assert_eq!(op.inplace_option(), vec![(0, 0)]);
        assert!(op.is_inplace_unary());
    }
    let clip = make_op("clip", &[("a_min", "0.5"), ("a_max", "2")]);
    let mut y = x.clone();
    clip.forward_inplace(&mut cpu_ctx(), &mut y.view_mut())
        .unwrap()
        .unwrap();
    assert_eq!(y.to_f32(), vec![0.5, 1.7, 2.0, 2.0]);
    assert_eq!(y, run(clip.as_ref(), &mut [x], false).unwrap()[0]);
}

#[test]
fn gradients_match_finite_differences() {
    // Positive, away from 0 (log, sqrt) and from the kinks of abs and relu.
    let pos = HostTensor::from_vec(&[2, 3], vec![0.3f64, 0.8, 1.5, 2.2, 0.6, 1.1]);
    let mixed = HostTensor::from_vec(&[2, 3], vec![-1.3f64, 0.8, -0.4, 2.2, -0.6, 1.1]);
    for name in OPS {
        let op = make_op(name, &[]);
        let x = if matches!(name, "log" | "sqrt") {
            &pos
        } else {
            &mixed
        };
        check_gradient(&op, std::slice::from_ref(x), &GradCheck::default())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    let clip = make_op("clip", &[("a_min", "-0.5"), ("a_max", "1")]);
    check_gradient(&clip, &[mixed], &GradCheck::default()).unwrap();
}

#[test]
fn gradient_graphs_follow_mxnet() {
    for (name, back, second) in [
        ("negative", "negative", None),
        ("exp", "elemwise_mul", Some(output(0))),
        ("log", "_backward_log", Some(input(0))),
        ("sqrt", "_backward_sqrt", Some(output(0))),
        ("square", "_backward_square", Some(input(0))),
        ("abs", "_backward_abs", Some(input(0))),
        ("tanh", "_backward_tanh", Some(output(0))),
        ("sigmoid", "_backward_sigmoid", Some(output(0))),
        ("relu", "_backward_relu", Some(output(0))),
    ] {
        let op = make_op(name, &[]);
        let (nodes, grads) = backward_graph(&op);
        assert_eq!(nodes.len(), 1, "{name}");
        assert_eq!(nodes[0].op, back, "{name}");
        let mut want = vec![ograd(0)];
        want.extend(second);
        assert_eq!(nodes[0].inputs, want, "{name}");
        assert_eq!(grads, vec![Some(added(0, 0))]);
        if back.starts_with("_backward") {
            let b = make_op(back, &[]);
            assert_eq!(b.num_inputs(), 2, "{back}");
        }
    }
    let clip = make_op("clip", &[("a_min", "0"), ("a_max", "1")]);
    let (nodes, _) = backward_graph(&clip);
    assert_eq!(nodes[0].op, "_backward_clip");
    assert_eq!(nodes[0].inputs, vec![ograd(0), input(0)]);
}

#[test]
fn backward_ops_run_by_name() {
    let g = HostTensor::from_f32(&[3], vec![1.0, 2.0, -3.0]);
    let v = HostTensor::from_f32(&[3], vec![0.5, -1.0, 2.0]);
    let run2 = |name: &str| {
        let op = make_op(name, &[]);
        run(op.as_ref(), &mut [g.clone(), v.clone()], false).unwrap()[0].to_f64()
    };
    assert_eq!(run2("_backward_log"), vec![2.0, -2.0, -1.5]);
    assert_eq!(run2("_backward_square"), vec![1.0, -4.0, -12.0]);
    assert_eq!(run2("_backward_abs"), vec![1.0, -2.0, -3.0]);
    assert_eq!(run2("_backward_relu"), vec![1.0, 0.0, -3.0]);
    assert_eq!(run2("_backward_sqrt"), vec![1.0, -1.0, -0.75]);
    assert_eq!(run2("_backward_tanh"), vec![0.75, 0.0, 9.0]);
    assert_eq!(run2("_backward_sigmoid"), vec![0.25, -4.0, 6.0]);
}

#[test]
fn clip_bounds_and_gradient_on_the_closed_interval() {
    let op = make_op("clip", &[("a_min", "-0.5"), ("a_max", "0.5")]);
    assert_eq!(
        op.attrs(),
        vec![
            ("a_min".to_string(), "-0.5".to_string()),
            ("a_max".to_string(), "0.5".to_string())
        ]
    );
    let x = HostTensor::from_f32(&[5], vec![-1.0, -0.5, 0.0, 0.5, 1.0]);
    let out = run(op.as_ref(), &mut [x.clone()], false).unwrap();
    assert_eq!(out[0].to_f64(), vec![-0.5, -0.5, 0.0, 0.5, 0.5]);
    // MXNet 1.9.1: grad of clip(a_min=-0.5, a_max=0.5) at [-1,-0.5,0,0.5,1] is [0,1,1,1,0].
    let ones = HostTensor::from_f32(&[5], vec![1.0; 5]);
    let dx = gradients(&op, &[x], &[ones], true, 0).unwrap();
    assert_eq!(
        dx[0].as_ref().unwrap().to_f64(),
        vec![0.0, 1.0, 1.0, 1.0, 0.0]
    );
    // On int32 the bounds are cast: clip([1,2,3,0,-4], -1.5, 2.5) = [1,2,2,0,-1].
    let op = make_op("clip", &[("a_min", "-1.5"), ("a_max", "2.5")]);
    let xi = HostTensor::from_vec(&[5], vec![1i32, 2, 3, 0, -4]);
    let out = run(op.as_ref(), &mut [xi], false).unwrap();
    assert_eq!(out[0].to_f64(), vec![1.0, 2.0, 2.0, 0.0, -1.0]);
}

#[test]
fn clip_parameters_are_required_and_checked() {
    assert_create_err("clip", &[("a_max", "1")], &["clip", "a_min"]);
    assert_create_err("clip", &[("a_min", "x"), ("a_max", "1")], &["a_min"]);
    assert_create_err(
        "_backward_clip",
        &[("a_min", "0")],
        &["_backward_clip", "a_max"],
    );
    assert_create_err("relu", &[("slope", "0.1")], &["slope"]);
}

#[test]
fn shapes_pass_through_both_ways() {
    let op = make_op("sigmoid", &[]);
    let (_, outs) = infer_shapes(op.as_ref(), &[Shape::from_legacy(&[0, 7])]).unwrap();
    assert_eq!(outs[0], Shape::from_legacy(&[0, 7]));
    let (ins, _) = infer_shapes(op.as_ref(), &[Shape::unknown()]).unwrap();
    assert!(ins[0].ndim().is_none());
    // The backward op's output takes the head gradient's shape.
    let b = make_op("_backward_sigmoid", &[]);
    let (ins, outs) = infer_shapes(b.as_ref(), &[Shape::known(&[2, 3]), Shape::unknown()]).unwrap();
    assert_eq!(ins[1], Shape::known(&[2, 3]));
    assert_eq!(outs[0], Shape::known(&[2, 3]));
    let err = infer_shapes(b.as_ref(), &[Shape::known(&[2, 3]), Shape::known(&[3])]).unwrap_err();
    assert!(err.to_string().contains("_backward_sigmoid"), "{err}");
}

#[test]
fn gpu_matches_cpu() {
    use crate::check::gpu::{compare_with_cpu, test_device};
    use crate::ops::test_util::{GPU_SHAPES, gpu_tensor, gpu_values};
    let dev = test_device().unwrap();
    let backs = [
        "_backward_log",
        "_backward_sqrt",
        "_backward_square",
        "_backward_abs",
        "_backward_tanh",
        "_backward_sigmoid",
        "_backward_relu",
    ];
    for (k, shape) in GPU_SHAPES.iter().enumerate() {
        let n: usize = shape.iter().product();
        // Mixed signs with exact zeros (log and sqrt of negatives and zero: NaN and inf on both;
        // relu and abs at 0), large magnitudes (softrelu's cut at 20, tanh's saturation), a NaN.
        let mut wide = gpu_values(n, k as u64 + 3, -30.0, 30.0, true);
        if let Some(v) = wide.get_mut(2) {
            *v = f32::NAN;
        }
        let inputs = [
            gpu_tensor(shape, k as u64, -3.0, 3.0, true),
            HostTensor::from_f32(shape, wide),
        ];
        let g = gpu_tensor(shape, k as u64 + 9, -2.0, 2.0, false);
        for x in &inputs {
            for name in OPS {
                let op = make_op(name, &[]);
                compare_with_cpu(op.as_ref(), &dev, std::slice::from_ref(x), true, 1e-5, 1e-7)
                    .unwrap_or_else(|e| panic!("{name} {shape:?}: {e}"));
            }
            for name in backs {
                let op = make_op(name, &[]);
                compare_with_cpu(op.as_ref(), &dev, &[g.clone(), x.clone()], true, 1e-5, 1e-7)
                    .unwrap_or_else(|e| panic!("{name} {shape:?}: {e}"));
            }
            // The variants only Activation's graphs or direct construction reach.
            for op in [
                mxr_kernels::cpu::elementwise::UnaryOp::SoftRelu,
                mxr_kernels::cpu::elementwise::UnaryOp::SoftSign,
            ] {
                let op = super::Unary { op };
                compare_with_cpu(&op, &dev, std::slice::from_ref(x), true, 1e-5, 1e-7)
                    .unwrap_or_else(|e| panic!("{op:?} {shape:?}: {e}"));
            }
            for op in [
                mxr_kernels::cpu::elementwise::UnaryGrad::Negative,
                mxr_kernels::cpu::elementwise::UnaryGrad::Exp,
                mxr_kernels::cpu::elementwise::UnaryGrad::SoftRelu,
                mxr_kernels::cpu::elementwise::UnaryGrad::SoftSign,
            ] {
                let op = super::Backward(op);
                compare_with_cpu(&op, &dev, &[g.clone(), x.clone()], true, 1e-5, 1e-7)
                    .unwrap_or_else(|e| panic!("{op:?} {shape:?}: {e}"));
            }
            for (lo, hi) in [("-1", "1.5"), ("0", "0"), ("2", "-2"), ("-0.25", "1e9")] {
                let attrs = [("a_min", lo), ("a_max", hi)];
                let clip = make_op("clip", &attrs);
                compare_with_cpu(clip.as_ref(), &dev, std::slice::from_ref(x), true, 0.0, 0.0)
                    .unwrap_or_else(|e| panic!("clip {lo} {hi} {shape:?}: {e}"));
                let back = make_op("_backward_clip", &attrs);
                compare_with_cpu(back.as_ref(), &dev, &[g.clone(), x.clone()], true, 0.0, 0.0)
                    .unwrap_or_else(|e| panic!("_backward_clip {lo} {hi} {shape:?}: {e}"));
            }
        }
    }
}

/// Inputs and head gradient of the hard_sigmoid references below (the points -2.5 and 2.5 put
/// `alpha·x + beta` exactly on 0 and 1 with the defaults).
const HS_X: [f64; 8] = [-4.0, -2.5, -1.0, 0.0, 0.3, 1.7, 2.5, 3.0];
const HS_G: [f64; 8] = [1.0, 2.0, -1.0, 0.5, -3.0, 0.25, 4.0, -2.0];

/// `hard_sigmoid` with `attrs` on `HS_X` as `dtype`: its output and input gradient for `HS_G`.
fn hard_sigmoid_run(attrs: &[(&str, &str)], dtype: DType) -> (Vec<f64>, Vec<f64>) {
    let op = make_op("hard_sigmoid", attrs);
    let x = HostTensor::from_f64_as(&[8], &HS_X, dtype);
    let g = HostTensor::from_f64_as(&[8], &HS_G, dtype);
    let y = run(op.as_ref(), &mut [x.clone()], false).unwrap();
    assert_eq!(y[0].dtype(), dtype);
    let dx = gradients(&op, &[x], &[g], true, 0).unwrap();
    let dx = dx[0].as_ref().unwrap();
    assert_eq!(dx.dtype(), dtype);
    (y[0].to_f64(), dx.to_f64())
}

#[test]
fn hard_sigmoid_matches_mxnet() {
    // MXNet 1.9.1 (.venv), for each dtype and parameter set:
    //   x = mx.nd.array(HS_X, dtype=dtype); x.attach_grad()
    //   with mx.autograd.record(): y = mx.nd.hard_sigmoid(x, **params)
    //   y.backward(mx.nd.array(HS_G, dtype=dtype)); print(y, x.grad)
    // alpha and beta are float32 parameters: in float64 they enter as 0.2f32, 0.5f32, ...
    type Case<'a> = (&'a [(&'a str, &'a str)], DType, [f64; 8], [f64; 8]);
    let cases: [Case<'_>; 5] = [
        (
            &[],
            DType::F32,
            [
                0.0,
                0.0,
                0.300_000_011_920_928_96,
                0.5,
                0.560_000_002_384_185_8,
                0.840_000_033_378_601_1,
                1.0,
                1.0,
            ],
            [
                0.0,
                0.0,
                -0.200_000_002_980_232_24,
                0.100_000_001_490_116_12,
                -0.600_000_023_841_857_9,
                0.050_000_000_745_058_06,
                0.0,
                0.0,
            ],
        ),
        (
            &[("alpha", "0.7"), ("beta", "0.1")],
            DType::F32,
            [
                0.0,
                0.0,
                0.0,
                0.100_000_001_490_116_12,
                0.310_000_002_384_185_8,
                1.0,
                1.0,
                1.0,
            ],
            [
                0.0,
                0.0,
                0.0,
                0.349_999_994_039_535_5,
                -2.099_999_904_632_568_4,
                0.0,
                0.0,
                0.0,
            ],
        ),
        (
            &[("alpha", "-0.5"), ("beta", "0.25")],
            DType::F32,
            [
                1.0,
                1.0,
                0.75,
                0.25,
                0.099_999_994_039_535_52,
                0.0,
                0.0,
                0.0,
            ],
            [0.0, 0.0, 0.5, -0.25, 1.5, 0.0, 0.0, 0.0],
        ),
        (
            &[],
            DType::F64,
            [
                0.0,
                0.0,
                0.299_999_997_019_767_76,
                0.5,
                0.560_000_000_894_069_6,
                0.840_000_005_066_394_7,
                1.0,
                1.0,
            ],
            [
                0.0,
                0.0,
                -0.200_000_002_980_232_24,
                0.100_000_001_490_116_12,
                -0.600_000_008_940_696_7,
                0.050_000_000_745_058_06,
                0.0,
                0.0,
            ],
        ),
        (
            &[("alpha", "0.7"), ("beta", "0.1")],
            DType::F64,
            [
                0.0,
                0.0,
                0.0,
                0.100_000_001_490_116_12,
                0.309_999_997_913_837_4,
                1.0,
                1.0,
                1.0,
            ],
            [
                0.0,
                0.0,
                0.0,
                0.349_999_994_039_535_5,
                -2.099_999_964_237_213,
                0.0,
                0.0,
                0.0,
            ],
        ),
    ];
    for (attrs, dtype, want_y, want_dx) in cases {
        let (y, dx) = hard_sigmoid_run(attrs, dtype);
        assert_eq!(y, want_y, "{attrs:?} {dtype}");
        assert_eq!(dx, want_dx, "{attrs:?} {dtype}");
    }
}

#[test]
fn hard_sigmoid_gradient_matches_finite_differences() {
    // Away from the kinks at alpha·x + beta ∈ {0, 1}, on both sides of them.
    let x = HostTensor::from_vec(&[2, 4], vec![-3.1f64, -2.2, -0.7, 0.0, 0.4, 1.9, 2.8, 7.0]);
    for attrs in [
        &[][..],
        &[("alpha", "0.7"), ("beta", "0.1")][..],
        &[("alpha", "-1.5"), ("beta", "0.5")][..],
    ] {
        let op = make_op("hard_sigmoid", attrs);
        check_gradient(&op, std::slice::from_ref(&x), &GradCheck::default())
            .unwrap_or_else(|e| panic!("{attrs:?}: {e}"));
    }
}

#[test]
fn hard_sigmoid_graph_params_and_dtypes_follow_mxnet() {
    let op = make_op("hard_sigmoid", &[("alpha", "0.3")]);
    // Symbol JSON keeps what differs from the defaults (MXNet writes {"alpha": "0.3"}).
    assert_eq!(op.attrs(), vec![("alpha".to_string(), "0.3".to_string())]);
    // ElemwiseGradUseInOut: _backward_hard_sigmoid(g, x, y), with the forward's parameters.
    let (nodes, grads) = backward_graph(&op);
    assert_eq!(nodes.len(), 1);
    assert_eq!(nodes[0].op, "_backward_hard_sigmoid");
    assert_eq!(nodes[0].inputs, vec![ograd(0), input(0), output(0)]);
    assert_eq!(grads, vec![Some(added(0, 0))]);
    let back = make_op("_backward_hard_sigmoid", &[("alpha", "0.3")]);
    assert_eq!(back.num_inputs(), 3);
    assert_eq!(back.attrs(), op.attrs());
    // In place equals out of place; NaN passes through.
    let x = HostTensor::from_f32(&[4], vec![-3.0, 0.5, 3.0, f32::NAN]);
    let want = run(op.as_ref(), &mut [x.clone()], false).unwrap();
    let mut y = x.clone();
    op.forward_inplace(&mut cpu_ctx(), &mut y.view_mut())
        .expect("hard_sigmoid computes in place")
        .unwrap();
    assert_eq!(y.to_f32()[..3], want[0].to_f32()[..3]);
    assert_eq!(&y.to_f32()[..3], &[0.0, 0.65, 1.0]);
    assert!(y.to_f32()[3].is_nan() && want[0].to_f32()[3].is_nan());
    // MXNet: "This operation only support floating point types, not int32".
    let xi = HostTensor::from_vec(&[2], vec![1i32, 2]);
    let err = run(op.as_ref(), &mut [xi], false).unwrap_err().to_string();
    assert!(
        err.contains("hard_sigmoid") && err.contains("int32"),
        "{err}"
    );
}

#[test]
fn hard_sigmoid_bad_parameters_name_the_operator_and_argument() {
    // MXNet: "Invalid Parameter format for alpha expect float but value='abc', in operator
    // hard_sigmoid(...)".
    assert_create_err(
        "hard_sigmoid",
        &[("alpha", "abc")],
        &["hard_sigmoid", "`alpha`", "abc"],
    );
    assert_create_err(
        "hard_sigmoid",
        &[("gamma", "1")],
        &["hard_sigmoid", "`gamma`", "alpha, beta"],
    );
    assert_create_err(
        "_backward_hard_sigmoid",
        &[("beta", "x")],
        &["_backward_hard_sigmoid", "`beta`"],
    );
}

#[test]
fn hard_sigmoid_gpu_matches_cpu() {
    use crate::ops::test_util::{GPU_SHAPES, GpuCheck, gpu_tensor, gpu_values};
    let gpu = GpuCheck::new(1e-6, 1e-7);
    for (k, shape) in GPU_SHAPES.iter().enumerate() {
        let n: usize = shape.iter().product();
        // Both clamps, the linear part, exact zeros and a NaN.
        let mut wide = gpu_values(n, k as u64 + 5, -6.0, 6.0, true);
        if let Some(v) = wide.get_mut(2) {
            *v = f32::NAN;
        }
        let x = HostTensor::from_f32(shape, wide);
        let g = gpu_tensor(shape, k as u64 + 11, -2.0, 2.0, false);
        for attrs in [&[][..], &[("alpha", "-0.7"), ("beta", "0.1")][..]] {
            let op = make_op("hard_sigmoid", attrs);
            gpu.check(
                op.as_ref(),
                std::slice::from_ref(&x),
                &format!("hard_sigmoid {attrs:?} {shape:?}"),
            );
            let back = make_op("_backward_hard_sigmoid", attrs);
            let y = run(op.as_ref(), &mut [x.clone()], false).unwrap().remove(0);
            gpu.check(
                back.as_ref(),
                &[g.clone(), x.clone(), y],
                &format!("_backward_hard_sigmoid {attrs:?} {shape:?}"),
            );
        }
    }
}
