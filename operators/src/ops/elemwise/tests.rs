use mxr_kernels::DType;

use crate::check::{GradCheck, HostTensor, check_gradient, infer_shapes, infer_types, run};
use crate::ops::test_util::{
    GPU_SHAPES, added, assert_create_err, backward_graph, gpu_values, input, make_op, ograd,
};
use crate::registry::{Shape, create, lookup};

fn f32s(shape: &[usize], v: &[f32]) -> HostTensor {
    HostTensor::from_f32(shape, v.to_vec())
}

fn f64s(shape: &[usize], v: &[f64]) -> HostTensor {
    HostTensor::from_vec(shape, v.to_vec())
}

#[test]
fn forward_hand_checked() {
    let a = f32s(&[2, 2], &[1.0, -2.0, 3.0, 4.0]);
    let b = f32s(&[2, 2], &[2.0, 4.0, -1.0, 0.5]);
    for (name, want) in [
        ("elemwise_add", [3.0, 2.0, 2.0, 4.5]),
        ("elemwise_sub", [-1.0, -6.0, 4.0, 3.5]),
        ("elemwise_mul", [2.0, -8.0, -3.0, 2.0]),
        ("elemwise_div", [0.5, -0.5, -3.0, 8.0]),
    ] {
        let op = make_op(name, &[]);
        assert_eq!(op.name(), name);
        let out = run(op.as_ref(), &mut [a.clone(), b.clone()], false).unwrap();
        assert_eq!(out[0].shape(), &[2, 2]);
        assert_eq!(out[0].dtype(), DType::F32);
        assert_eq!(out[0].to_f64(), want.to_vec(), "{name}");
    }
    // f64 too
    let op = make_op("elemwise_mul", &[]);
    let out = run(
        op.as_ref(),
        &mut [f64s(&[2], &[1.5, 2.0]), f64s(&[2], &[2.0, -0.25])],
        false,
    )
    .unwrap();
    assert_eq!(out[0].dtype(), DType::F64);
    assert_eq!(out[0].to_f64(), vec![3.0, -0.5]);
}

#[test]
fn aliases_find_the_canonical_ops() {
    for (alias, name) in [
        ("_plus", "elemwise_add"),
        ("_Plus", "elemwise_add"),
        ("_add", "elemwise_add"),
        ("_minus", "elemwise_sub"),
        ("_Minus", "elemwise_sub"),
        ("_sub", "elemwise_sub"),
        ("_mul", "elemwise_mul"),
        ("_Mul", "elemwise_mul"),
        ("_div", "elemwise_div"),
        ("_Div", "elemwise_div"),
    ] {
        assert_eq!(lookup(alias).unwrap().name, name);
        assert_eq!(make_op(alias, &[]).name(), name);
    }
    for name in [
        "_backward_add",
        "_backward_sub",
        "_backward_mul",
        "_backward_div",
        "where",
        "_backward_where",
    ] {
        assert_eq!(make_op(name, &[]).name(), name);
    }
}

#[test]
fn integers_truncate_and_do_not_trap() {
    // MXNet 1.9.1: int32 [1,2,3,0,-4] / [2,1,2,-3,3] = [0,2,1,0,-1].
    let a = HostTensor::from_vec(&[5], vec![1i32, 2, 3, 0, -4]);
    let b = HostTensor::from_vec(&[5], vec![2i32, 1, 2, -3, 3]);
    let div = make_op("elemwise_div", &[]);
    let out = run(div.as_ref(), &mut [a.clone(), b.clone()], false).unwrap();
    assert_eq!(out[0].dtype(), DType::I32);
    assert_eq!(out[0].to_f64(), vec![0.0, 2.0, 1.0, 0.0, -1.0]);
    let sub = make_op("elemwise_sub", &[]);
    let out = run(sub.as_ref(), &mut [a.clone(), b], false).unwrap();
    assert_eq!(out[0].to_f64(), vec![-1.0, 1.0, 1.0, 3.0, -7.0]);
    // Division by zero gives 0 rather than a crash.
    let zeros = HostTensor::from_vec(&[5], vec![0i64; 5]);
    let a64 = a.cast(DType::I64);
    let out = run(div.as_ref(), &mut [a64, zeros], false).unwrap();
    assert_eq!(out[0].to_f64(), vec![0.0; 5]);
}

#[test]
fn unsupported_dtype_is_an_error() {
    let op = make_op("elemwise_add", &[]);
    let h = HostTensor::zeros(&[2], DType::F16);
    let err = run(op.as_ref(), &mut [h.clone(), h], false).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("elemwise_add") && msg.contains("float16"),
        "{msg}"
    );
}

#[test]
fn shapes_must_be_identical() {
    let op = make_op("elemwise_add", &[]);
    let (ins, outs) = infer_shapes(
        op.as_ref(),
        &[Shape::from_legacy(&[0, 3]), Shape::from_legacy(&[2, 0])],
    )
    .unwrap();
    assert_eq!(ins, vec![Shape::known(&[2, 3]), Shape::known(&[2, 3])]);
    assert_eq!(outs, vec![Shape::known(&[2, 3])]);
    // Unknown inputs are left unknown.
    let (ins, outs) = infer_shapes(op.as_ref(), &[Shape::unknown(), Shape::unknown()]).unwrap();
    assert_eq!((ins[0].ndim(), outs[0].ndim()), (None, None));
    // One known input fills the other.
    let (ins, _) = infer_shapes(op.as_ref(), &[Shape::unknown(), Shape::known(&[4])]).unwrap();
    assert_eq!(ins[0], Shape::known(&[4]));

    let err =
        infer_shapes(op.as_ref(), &[Shape::known(&[2, 3]), Shape::known(&[3, 2])]).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("elemwise_add") && msg.contains("(2, 3)") && msg.contains("(3, 2)"),
        "{msg}"
    );
    let err = infer_shapes(op.as_ref(), &[Shape::known(&[6]), Shape::known(&[2, 3])]).unwrap_err();
    assert!(err.to_string().contains("(6,)"), "{err}");
}

#[test]
fn gradients_match_finite_differences() {
    let a = f64s(&[2, 3], &[0.5, -1.2, 2.0, 3.1, -0.7, 1.4]);
    let b = f64s(&[2, 3], &[1.5, 2.2, -0.8, 0.9, -2.5, 1.1]);
    for name in [
        "elemwise_add",
        "elemwise_sub",
        "elemwise_mul",
        "elemwise_div",
        "_maximum",
        "_minimum",
    ] {
        let op = make_op(name, &[]);
        check_gradient(&op, &[a.clone(), b.clone()], &GradCheck::default())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[test]
fn gradient_graphs_follow_mxnet() {
    for (name, back, reads) in [
        ("elemwise_add", "_backward_add", false),
        ("elemwise_sub", "_backward_sub", false),
        ("elemwise_mul", "_backward_mul", true),
        ("elemwise_div", "_backward_div", true),
        ("_maximum", "_backward_maximum", true),
        ("_minimum", "_backward_minimum", true),
    ] {
        let op = make_op(name, &[]);
        let (nodes, grads) = backward_graph(&op);
        assert_eq!(nodes.len(), 1);
        assert_eq!(nodes[0].op, back);
        assert_eq!(nodes[0].name, "fwd_backward");
        let want = if reads {
            vec![ograd(0), input(0), input(1)]
        } else {
            vec![ograd(0)]
        };
        assert_eq!(nodes[0].inputs, want);
        assert_eq!(grads, vec![Some(added(0, 0)), Some(added(0, 1))]);
    }
}

#[test]
fn backward_ops_run_by_name() {
    let g = f32s(&[3], &[1.0, 2.0, 3.0]);
    let l = f32s(&[3], &[4.0, 5.0, 6.0]);
    let r = f32s(&[3], &[2.0, -1.0, 0.5]);
    let back = make_op("_backward_div", &[]);
    assert_eq!(back.input_names(), ["ograd", "lhs", "rhs"]);
    let out = run(back.as_ref(), &mut [g.clone(), l, r], false).unwrap();
    assert_eq!(out[0].to_f64(), vec![0.5, -2.0, 6.0]);
    // -g·l/r² = [-1·4/4, -2·5/1, -3·6/0.25]
    assert_eq!(out[1].to_f64(), vec![-1.0, -10.0, -72.0]);
    let back = make_op("_backward_sub", &[]);
    let out = run(back.as_ref(), &mut [g], false).unwrap();
    assert_eq!(out[0].to_f64(), vec![1.0, 2.0, 3.0]);
    assert_eq!(out[1].to_f64(), vec![-1.0, -2.0, -3.0]);
}

/// `_maximum`, `_minimum` and their gradients against MXNet 1.9.1 (`mx.nd._internal._maximum`
/// and autograd): a NaN on either side wins, ties send the gradient to lhs.
#[test]
fn maximum_and_minimum_match_mxnet() {
    let nan = f32::NAN;
    let a = f32s(&[2, 4], &[1.0, nan, 3.0, 2.0, 0.0, 5.0, nan, -1.0]);
    let b = f32s(&[2, 4], &[2.0, 1.0, nan, 2.0, 0.0, nan, 0.0, 0.0]);
    let same = |got: Vec<f64>, want: &[f64], what: &str| {
        let eq = |g: f64, w: f64| g == w || (g.is_nan() && w.is_nan());
        assert!(
            got.len() == want.len() && got.iter().zip(want).all(|(&g, &w)| eq(g, w)),
            "{what}: {got:?} vs {want:?}"
        );
    };
    for (name, want) in [
        ("_maximum", [2.0, nan, nan, 2.0, 0.0, nan, nan, 0.0]),
        ("_Minimum", [1.0, nan, nan, 2.0, 0.0, nan, nan, -1.0]),
    ] {
        let out = run(
            make_op(name, &[]).as_ref(),
            &mut [a.clone(), b.clone()],
            false,
        )
        .unwrap();
        same(out[0].to_f64(), &want.map(f64::from), name);
    }
    let x = f32s(&[2, 4], &[1.0, 2.0, 3.0, 2.0, 0.0, 5.0, 2.0, -1.0]);
    let y = f32s(&[2, 4], &[2.0, 1.0, 2.0, 2.0, 0.0, 6.0, 1.0, -1.0]);
    let g = f32s(&[2, 4], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]);
    for (name, dx, dy) in [
        (
            "_backward_maximum",
            [0.0, 2.0, 3.0, 4.0, 5.0, 0.0, 7.0, 8.0],
            [1.0, 0.0, 0.0, 0.0, 0.0, 6.0, 0.0, 0.0],
        ),
        (
            "_backward_minimum",
            [1.0, 0.0, 0.0, 4.0, 5.0, 6.0, 0.0, 8.0],
            [0.0, 2.0, 3.0, 0.0, 0.0, 0.0, 7.0, 0.0],
        ),
    ] {
        let back = make_op(name, &[]);
        let out = run(back.as_ref(), &mut [g.clone(), x.clone(), y.clone()], false).unwrap();
        same(out[0].to_f64(), &dx.map(f64::from), name);
        same(out[1].to_f64(), &dy.map(f64::from), name);
    }
}

#[test]
fn parameters_are_rejected() {
    assert_create_err(
        "elemwise_add",
        &[("scalar", "1")],
        &["elemwise_add", "scalar"],
    );
    // User attributes pass.
    make_op("_Plus", &[("__ctx_group__", "dev1")]);
}

#[test]
fn where_selects_by_element_and_by_row() {
    // MXNet 1.9.1: where([[1,0],[0,2]], [[1,2],[3,4]], [[10,20],[30,40]]) = [[1,20],[30,4]]
    let op = make_op("where", &[]);
    assert_eq!(op.input_names(), ["condition", "x", "y"]);
    let x = f32s(&[2, 2], &[1.0, 2.0, 3.0, 4.0]);
    let y = f32s(&[2, 2], &[10.0, 20.0, 30.0, 40.0]);
    let c = f32s(&[2, 2], &[1.0, 0.0, 0.0, 2.0]);
    let out = run(op.as_ref(), &mut [c, x.clone(), y.clone()], false).unwrap();
    assert_eq!(out[0].to_f64(), vec![1.0, 20.0, 30.0, 4.0]);
    // A 1-D int32 condition picks rows: where([1, 0], x, y) = [[1,2],[30,40]].
    let c = HostTensor::from_vec(&[2], vec![1i32, 0]);
    let out = run(op.as_ref(), &mut [c, x.clone(), y.clone()], false).unwrap();
    assert_eq!(out[0].dtype(), DType::F32);
    assert_eq!(out[0].to_f64(), vec![1.0, 2.0, 30.0, 40.0]);
    // A float64 condition with float32 data.
    let c = f64s(&[2, 2], &[0.0, -1.0, 0.5, 0.0]);
    let out = run(op.as_ref(), &mut [c, x, y], false).unwrap();
    assert_eq!(out[0].to_f64(), vec![10.0, 2.0, 3.0, 40.0]);
}

#[test]
fn where_shapes_and_types() {
    let op = make_op("where", &[]);
    let s = |d: &[usize]| Shape::from_legacy(d);
    // Same-shape condition fills x, y and the output, and the other way round.
    let (ins, outs) =
        infer_shapes(op.as_ref(), &[s(&[2, 3]), Shape::unknown(), s(&[0, 3])]).unwrap();
    assert_eq!(ins[1], Shape::known(&[2, 3]));
    assert_eq!(ins[2], Shape::known(&[2, 3]));
    assert_eq!(outs[0], Shape::known(&[2, 3]));
    let (ins, _) = infer_shapes(op.as_ref(), &[Shape::unknown(), s(&[2, 3]), s(&[2, 3])]).unwrap();
    assert!(ins[0].ndim().is_none(), "1-D or (2, 3): not decidable");
    // A 1-D condition gives x's first dimension.
    let (ins, outs) = infer_shapes(op.as_ref(), &[s(&[4]), s(&[0, 3]), Shape::unknown()]).unwrap();
    assert_eq!(ins[1], Shape::known(&[4, 3]));
    assert_eq!(outs[0], Shape::known(&[4, 3]));
    // Mismatches are errors naming the condition.
    let err = infer_shapes(op.as_ref(), &[s(&[3]), s(&[2, 3]), s(&[2, 3])]).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("where") && msg.contains("condition (3,)"),
        "{msg}"
    );
    let err = infer_shapes(op.as_ref(), &[s(&[2, 3, 1]), s(&[2, 3]), s(&[2, 3])]).unwrap_err();
    assert!(err.to_string().contains("condition"), "{err}");
    let err = infer_shapes(op.as_ref(), &[s(&[2, 3]), s(&[2, 3]), s(&[3, 2])]).unwrap_err();
    assert!(err.to_string().contains("x and y"), "{err}");
    // The condition keeps its own dtype.
    let (ins, outs) =
        infer_types(op.as_ref(), &[Some(DType::I32), Some(DType::F64), None]).unwrap();
    assert_eq!(
        ins,
        vec![Some(DType::I32), Some(DType::F64), Some(DType::F64)]
    );
    assert_eq!(outs, vec![Some(DType::F64)]);
    let err = infer_types(op.as_ref(), &[None, Some(DType::F64), Some(DType::F32)]).unwrap_err();
    assert!(err.to_string().contains("where"), "{err}");
}

#[test]
fn where_gradient() {
    let op = make_op("where", &[]);
    let (nodes, grads) = backward_graph(&op);
    assert_eq!(nodes.len(), 1);
    assert_eq!(nodes[0].op, "_backward_where");
    assert_eq!(nodes[0].inputs, vec![ograd(0), input(0)]);
    assert_eq!(grads, vec![None, Some(added(0, 0)), Some(added(0, 1))]);
    let skip_cond = GradCheck {
        skip: vec![0],
        ..GradCheck::default()
    };
    let c = f64s(&[2, 3], &[1.0, 0.0, 1.0, 0.0, 0.0, 3.0]);
    let x = f64s(&[2, 3], &[0.1, 0.2, 0.3, 0.4, 0.5, 0.6]);
    let y = f64s(&[2, 3], &[-0.1, -0.2, -0.3, -0.4, -0.5, -0.6]);
    check_gradient(&op, &[c, x.clone(), y.clone()], &skip_cond).unwrap();
    let rows = HostTensor::from_vec(&[2], vec![0u8, 1]);
    check_gradient(&op, &[rows.clone(), x, y], &skip_cond).unwrap();
    // The backward op by name, on a row condition.
    let back = make_op("_backward_where", &[]);
    let g = f32s(&[2, 2], &[1.0, 2.0, 3.0, 4.0]);
    let out = run(back.as_ref(), &mut [g, rows], false).unwrap();
    assert_eq!(out[0].to_f64(), vec![0.0, 0.0, 3.0, 4.0]);
    assert_eq!(out[1].to_f64(), vec![1.0, 2.0, 0.0, 0.0]);
}

#[test]
fn gpu_matches_cpu() {
    use crate::check::gpu::{compare_with_cpu, test_device};
    use crate::ops::test_util::GpuCheck;
    let dev = test_device().unwrap();
    let gpu = GpuCheck::new(1e-6, 0.0);
    for (k, shape) in GPU_SHAPES.iter().enumerate() {
        let n = shape.iter().product();
        let t = |seed, zeros| f32s(shape, &gpu_values(n, seed, -3.0, 3.0, zeros));
        let (a, b, g) = (
            t(k as u64, false),
            t(k as u64 + 50, false),
            t(k as u64 + 99, false),
        );
        for op in ["add", "sub", "mul", "div", "maximum", "minimum"] {
            let fwd_name = match op {
                "maximum" | "minimum" => format!("_{op}"),
                _ => format!("elemwise_{op}"),
            };
            let fwd = create(&fwd_name, &[], None).unwrap();
            compare_with_cpu(fwd.as_ref(), &dev, &[a.clone(), b.clone()], true, 1e-6, 0.0)
                .unwrap_or_else(|e| panic!("{op} {shape:?}: {e}"));
            let back = create(&format!("_backward_{op}"), &[], None).unwrap();
            let ins = if op == "add" || op == "sub" {
                vec![g.clone()]
            } else {
                vec![g.clone(), a.clone(), b.clone()]
            };
            gpu.check(back.as_ref(), &ins, &format!("backward {op} {shape:?}"));
        }
        // Division by zero: infinities and NaNs on both.
        let z = f32s(shape, &gpu_values(n, 3, -3.0, 3.0, true));
        let div = make_op("elemwise_div", &[]);
        compare_with_cpu(div.as_ref(), &dev, &[a.clone(), z.clone()], true, 1e-6, 0.0).unwrap();
        let back = make_op("_backward_div", &[]);
        compare_with_cpu(
            back.as_ref(),
            &dev,
            &[g.clone(), a.clone(), z],
            true,
            1e-6,
            0.0,
        )
        .unwrap();
    }
}

#[test]
fn gpu_where_matches_cpu() {
    use crate::check::gpu::{compare_with_cpu, test_device};
    use crate::ops::test_util::GpuCheck;
    let dev = test_device().unwrap();
    let gpu = GpuCheck::new(0.0, 0.0);
    let fwd = make_op("where", &[]);
    let back = make_op("_backward_where", &[]);
    for (k, shape) in GPU_SHAPES.iter().enumerate() {
        let n: usize = shape.iter().product();
        let t = |seed, zeros| f32s(shape, &gpu_values(n, seed, -3.0, 3.0, zeros));
        let (x, y, g) = (
            t(k as u64, false),
            t(k as u64 + 50, false),
            t(k as u64 + 9, false),
        );
        // A condition of x's shape (with zeros and a NaN, which counts as true), and a 1-D one
        // with one value per row.
        let mut c = gpu_values(n, 77, -1.0, 1.0, true);
        if let Some(v) = c.get_mut(1) {
            *v = f32::NAN;
        }
        let mut conds = vec![f32s(shape, &c)];
        // Conditions of the other dtypes where takes.
        let ints: Vec<f64> = (0..n).map(|i| [0.0, 1.0, -2.0, 0.0, 3.0][i % 5]).collect();
        for dtype in [DType::F64, DType::I32, DType::I64, DType::U8, DType::I8] {
            let v: Vec<f64> = if dtype == DType::U8 {
                ints.iter().map(|v| v.abs()).collect()
            } else {
                ints.clone()
            };
            conds.push(HostTensor::from_f64_as(shape, &v, dtype));
        }
        if let (Some(&rows), true) = (shape.first(), shape.len() > 1) {
            let r: Vec<f32> = (0..rows).map(|i| (i % 2) as f32).collect();
            conds.push(f32s(&[rows], &r));
        }
        for cond in conds {
            let cs = cond.shape().to_vec();
            gpu.check(
                fwd.as_ref(),
                &[cond.clone(), x.clone(), y.clone()],
                &format!("where {shape:?} cond {cs:?}"),
            );
            compare_with_cpu(back.as_ref(), &dev, &[g.clone(), cond], true, 0.0, 0.0)
                .unwrap_or_else(|e| panic!("_backward_where {shape:?} cond {cs:?}: {e}"));
        }
    }
}
