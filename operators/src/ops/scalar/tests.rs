use mxr_kernels::DType;

use super::ScalarParam;
use crate::check::{GradCheck, HostTensor, check_gradient, infer_shapes, run};
use crate::ops::test_util::{
    added, assert_create_err, backward_graph, cpu_ctx, input, make_op, ograd,
};
use crate::registry::{Shape, create, lookup};

const OPS: [&str; 7] = [
    "_plus_scalar",
    "_minus_scalar",
    "_rminus_scalar",
    "_mul_scalar",
    "_div_scalar",
    "_rdiv_scalar",
    "_power_scalar",
];

#[test]
fn forward_hand_checked_with_scalar_from_attrs() {
    let x = HostTensor::from_f32(&[2, 2], vec![1.0, -2.0, 4.0, 0.5]);
    for (name, want) in [
        ("_plus_scalar", [3.5, 0.5, 6.5, 3.0]),
        ("_minus_scalar", [-1.5, -4.5, 1.5, -2.0]),
        ("_rminus_scalar", [1.5, 4.5, -1.5, 2.0]),
        ("_mul_scalar", [2.5, -5.0, 10.0, 1.25]),
        ("_div_scalar", [0.4, -0.8, 1.6, 0.2]),
        ("_rdiv_scalar", [2.5, -1.25, 0.625, 5.0]),
        ("_power_scalar", [1.0, f32::NAN, 32.0, 0.176_776_7]),
    ] {
        let op = make_op(name, &[("scalar", "2.5")]);
        assert_eq!(op.name(), name);
        let out = run(op.as_ref(), &mut [x.clone()], false).unwrap();
        assert_eq!(out[0].shape(), &[2, 2]);
        let got = out[0].to_f32();
        for (g, w) in got.iter().zip(want) {
            assert!(
                (g - w).abs() <= 1e-6 * w.abs() || (g.is_nan() && w.is_nan()),
                "{name}: {got:?} vs {want:?}"
            );
        }
    }
}

#[test]
fn defaults_aliases_and_attrs() {
    for (alias, name) in [
        ("_PlusScalar", "_plus_scalar"),
        ("_MinusScalar", "_minus_scalar"),
        ("_RMinusScalar", "_rminus_scalar"),
        ("_MulScalar", "_mul_scalar"),
        ("_DivScalar", "_div_scalar"),
        ("_RDivScalar", "_rdiv_scalar"),
        ("_PowerScalar", "_power_scalar"),
    ] {
        assert_eq!(lookup(alias).unwrap().name, name);
    }
    // scalar defaults to 1, is_int to True.
    let op = make_op("_plus_scalar", &[]);
    let out = run(
        op.as_ref(),
        &mut [HostTensor::from_f32(&[1], vec![2.0])],
        false,
    )
    .unwrap();
    assert_eq!(out[0].to_f64(), vec![3.0]);
    assert!(op.attrs().is_empty());
    let op = make_op("_mul_scalar", &[("scalar", "5"), ("is_int", "False")]);
    assert_eq!(
        op.attrs(),
        vec![
            ("scalar".to_string(), "5.0".to_string()),
            ("is_int".to_string(), "False".to_string())
        ]
    );
    let specs = lookup("_div_scalar").unwrap().params();
    let names: Vec<&str> = specs.iter().map(|s| s.name).collect();
    assert_eq!(names, ["scalar", "is_int"]);
    assert_eq!(
        ScalarParam::parse_for("_div_scalar", &[("scalar", "-1.5")]).unwrap(),
        ScalarParam {
            scalar: -1.5,
            is_int: true
        }
    );
}

#[test]
fn bad_parameters_name_the_operator() {
    assert_create_err(
        "_mul_scalar",
        &[("scalar", "abc")],
        &["_mul_scalar", "scalar", "abc"],
    );
    assert_create_err(
        "_rdiv_scalar",
        &[("alpha", "1")],
        &["_rdiv_scalar", "alpha", "is_int"],
    );
    let err = create("_backward_power_scalar", &[("is_int", "maybe")], None).unwrap_err();
    assert!(err.to_string().contains("_backward_power_scalar"), "{err}");
}

#[test]
fn integer_arrays_cast_the_scalar() {
    // MXNet 1.9.1: int32 [1,2,3] + 1.5 → [2,3,4]; × 0.5 → [0,0,0]; int32 stays int32.
    let x = HostTensor::from_vec(&[3], vec![1i32, 2, 3]);
    let plus = make_op("_plus_scalar", &[("scalar", "1.5")]);
    let out = run(plus.as_ref(), &mut [x.clone()], false).unwrap();
    assert_eq!(out[0].dtype(), DType::I32);
    assert_eq!(out[0].to_f64(), vec![2.0, 3.0, 4.0]);
    let half = make_op("_mul_scalar", &[("scalar", "0.5")]);
    let out = run(half.as_ref(), &mut [x.clone()], false).unwrap();
    assert_eq!(out[0].to_f64(), vec![0.0, 0.0, 0.0]);
    // int64, uint8 and int8 work too.
    let x64 = HostTensor::from_vec(&[3], vec![10i64, -7, 9]);
    let div = make_op("_div_scalar", &[("scalar", "2")]);
    let out = run(div.as_ref(), &mut [x64], false).unwrap();
    assert_eq!(out[0].to_f64(), vec![5.0, -3.0, 4.0]);
    let u8s = HostTensor::from_vec(&[2], vec![250u8, 3]);
    let out = run(plus.as_ref(), &mut [u8s], false).unwrap();
    assert_eq!(out[0].to_f64(), vec![251.0, 4.0]);
    // Integer division by a scalar cast to 0 gives 0 (MXNet traps on SIGFPE).
    let div0 = make_op("_div_scalar", &[("scalar", "0.5")]);
    let out = run(div0.as_ref(), &mut [x], false).unwrap();
    assert_eq!(out[0].to_f64(), vec![0.0; 3]);
    // float16 is refused with the op's name.
    let h = HostTensor::zeros(&[2], DType::F16);
    let err = run(plus.as_ref(), &mut [h], false).unwrap_err();
    assert!(err.to_string().contains("_plus_scalar"), "{err}");
}

#[test]
fn in_place_equals_out_of_place() {
    let values = [0.5, -1.5, 2.0, 3.25, 4.0, 0.75, -2.5, 1.0];
    for name in OPS {
        for dtype in [DType::F32, DType::F64, DType::I32, DType::I64] {
            let op = make_op(name, &[("scalar", "3")]);
            let x = HostTensor::from_f64_as(&[2, 4], &values, dtype);
            let want = run(op.as_ref(), &mut [x.clone()], false).unwrap();
            let mut y = x.clone();
            op.forward_inplace(&mut cpu_ctx(), &mut y.view_mut())
                .expect("scalar ops compute in place")
                .unwrap();
            let (a, b) = (y.to_f64(), want[0].to_f64());
            assert!(
                a.iter()
                    .zip(&b)
                    .all(|(p, q)| p == q || (p.is_nan() && q.is_nan())),
                "{name} {dtype}: {a:?} vs {b:?}"
            );
        }
        assert_eq!(make_op(name, &[]).inplace_option(), vec![(0, 0)]);
        assert!(make_op(name, &[]).is_inplace_unary());
    }
    // The W1 shape: 16 elements of f32, incremented in place.
    let op = make_op("_plus_scalar", &[("scalar", "1")]);
    let mut x = HostTensor::from_f32(&[16], (0..16).map(|i| i as f32).collect());
    for _ in 0..3 {
        op.forward_inplace(&mut cpu_ctx(), &mut x.view_mut())
            .unwrap()
            .unwrap();
    }
    assert_eq!(
        x.to_f32(),
        (0..16).map(|i| i as f32 + 3.0).collect::<Vec<_>>()
    );
}

#[test]
fn shapes_pass_through() {
    let op = make_op("_rdiv_scalar", &[("scalar", "2")]);
    let (_, outs) = infer_shapes(op.as_ref(), &[Shape::from_legacy(&[0, 5])]).unwrap();
    assert_eq!(outs[0], Shape::from_legacy(&[0, 5]));
    let (_, outs) = infer_shapes(op.as_ref(), &[Shape::known(&[3])]).unwrap();
    assert_eq!(outs[0], Shape::known(&[3]));
}

#[test]
fn gradients_match_finite_differences() {
    let x = HostTensor::from_vec(&[2, 3], vec![0.5f64, 1.2, 2.0, 3.1, 0.7, 1.4]);
    for name in OPS {
        for scalar in ["2.5", "-1.5"] {
            let op = make_op(name, &[("scalar", scalar)]);
            check_gradient(&op, std::slice::from_ref(&x), &GradCheck::default())
                .unwrap_or_else(|e| panic!("{name} {scalar}: {e}"));
        }
    }
}

#[test]
fn gradient_graphs_follow_mxnet() {
    for (name, back, reads_x) in [
        ("_plus_scalar", "_copy", false),
        ("_minus_scalar", "_copy", false),
        ("_rminus_scalar", "negative", false),
        ("_mul_scalar", "_backward_mul_scalar", false),
        ("_div_scalar", "_backward_div_scalar", false),
        ("_rdiv_scalar", "_backward_rdiv_scalar", true),
        ("_power_scalar", "_backward_power_scalar", true),
    ] {
        let op = make_op(name, &[("scalar", "2")]);
        let (nodes, grads) = backward_graph(&op);
        assert_eq!(nodes.len(), 1, "{name}");
        assert_eq!(nodes[0].op, back, "{name}");
        let want = if reads_x {
            vec![ograd(0), input(0)]
        } else {
            vec![ograd(0)]
        };
        assert_eq!(nodes[0].inputs, want, "{name}");
        assert_eq!(grads, vec![Some(added(0, 0))]);
    }
}

#[test]
fn backward_ops_run_by_name() {
    let g = HostTensor::from_f32(&[2], vec![1.0, -2.0]);
    let x = HostTensor::from_f32(&[2], vec![2.0, 4.0]);
    let s = [("scalar", "3")];
    let run1 = |name: &str, inputs: &mut [HostTensor]| {
        let op = make_op(name, &s);
        assert_eq!(op.attrs(), vec![("scalar".to_string(), "3.0".to_string())]);
        run(op.as_ref(), inputs, false).unwrap()[0].to_f64()
    };
    assert_eq!(
        run1("_backward_mul_scalar", &mut [g.clone()]),
        vec![3.0, -6.0]
    );
    let d = run1("_backward_div_scalar", &mut [g.clone()]);
    assert!((d[0] - 1.0 / 3.0).abs() < 1e-7 && (d[1] + 2.0 / 3.0).abs() < 1e-7);
    // −g·s/x²
    assert_eq!(
        run1("_backward_rdiv_scalar", &mut [g.clone(), x.clone()]),
        vec![-0.75, 0.375]
    );
    // g·s·x²
    assert_eq!(
        run1("_backward_power_scalar", &mut [g, x]),
        vec![12.0, -96.0]
    );
}

#[test]
fn gpu_matches_cpu() {
    use crate::ops::test_util::{GPU_SHAPES, GpuCheck, gpu_values};
    let gpu = GpuCheck::new(1e-5, 0.0);
    let backs = [
        "_backward_mul_scalar",
        "_backward_div_scalar",
        "_backward_rdiv_scalar",
        "_backward_power_scalar",
    ];
    for (k, shape) in GPU_SHAPES.iter().enumerate() {
        let n: usize = shape.iter().product();
        let t = |seed, lo, zeros| HostTensor::from_f32(shape, gpu_values(n, seed, lo, 3.0, zeros));
        // Mixed signs with zeros (division by zero, powers of negatives: inf and NaN on both),
        // and positive values.
        let inputs = [t(k as u64, -3.0, true), t(k as u64 + 5, 0.1, false)];
        let g = t(k as u64 + 9, -3.0, false);
        for scalar in ["2.5", "-1.5", "0", "3", "1e-3"] {
            let attrs = [("scalar", scalar)];
            for x in &inputs {
                for name in OPS.iter().chain(&backs) {
                    let op = make_op(name, &attrs);
                    let ins = if op.num_inputs() == 1 {
                        vec![if name.starts_with("_backward") {
                            g.clone()
                        } else {
                            x.clone()
                        }]
                    } else {
                        vec![g.clone(), x.clone()]
                    };
                    let what = format!("{name} scalar {scalar} {shape:?}");
                    gpu.check(op.as_ref(), &ins, &what);
                }
            }
        }
    }
}
