use crate::check::{GradCheck, HostTensor, check_gradient, infer_shapes, run};
use crate::ops::test_util::{iota, make_op, uniform_f64};
use crate::registry::{Shape, create, lookup};

fn reshape(attrs: &[(&str, &str)], input: Shape) -> crate::Result<Shape> {
    let op = create("Reshape", attrs, None)?;
    Ok(infer_shapes(op.as_ref(), &[input])?.1.remove(0))
}

/// The output dims of `Reshape` with `attrs` on `input`.
fn dims_of(attrs: &[(&str, &str)], input: &[usize]) -> Vec<usize> {
    reshape(attrs, Shape::known(input))
        .unwrap_or_else(|e| panic!("{attrs:?}: {e}"))
        .dims()
        .unwrap_or_else(|| panic!("{attrs:?}: not fully inferred"))
}

fn shape_of(code: &str, input: &[usize]) -> Vec<usize> {
    dims_of(&[("shape", code)], input)
}

#[test]
fn special_values_of_the_spec() {
    // shared/spec/operators.md §5.4, observed in MXNet 1.9.1.
    assert_eq!(shape_of("(0, -1)", &[2, 3, 4]), [2, 12]);
    assert_eq!(shape_of("(-2,)", &[2, 3, 4]), [2, 3, 4]);
    assert_eq!(shape_of("(-3, 4)", &[2, 3, 4]), [6, 4]);
    assert_eq!(shape_of("(-4, 1, 2, -2)", &[2, 3, 4]), [1, 2, 3, 4]);
    assert_eq!(shape_of("(-4, -1, 2, -2)", &[4, 3, 4]), [2, 2, 3, 4]);
    assert_eq!(shape_of("(2, 0, -1)", &[2, 3, 4]), [2, 3, 4]);
    assert_eq!(shape_of("(-1, 0)", &[10, 5, 4]), [40, 5]);
    assert_eq!(
        dims_of(&[("shape", "(-1, 0)"), ("reverse", "True")], &[10, 5, 4]),
        [50, 4]
    );
}

#[test]
fn special_values_of_the_mxnet_docs() {
    // The examples of MXNet 1.9.1's Reshape documentation.
    for (code, input, want) in [
        ("(4, 0, 2)", &[2, 3, 4][..], &[4, 3, 2][..]),
        ("(2, 0, 0)", &[2, 3, 4], &[2, 3, 4]),
        ("(6, 1, -1)", &[2, 3, 4], &[6, 1, 4]),
        ("(3, -1, 8)", &[2, 3, 4], &[3, 1, 8]),
        ("(-1,)", &[2, 3, 4], &[24]),
        ("(2, -2)", &[2, 3, 4], &[2, 3, 4]),
        ("(-2, 1, 1)", &[2, 3, 4], &[2, 3, 4, 1, 1]),
        ("(-3, -3)", &[2, 3, 4, 5], &[6, 20]),
        ("(0, -3)", &[2, 3, 4], &[2, 12]),
        ("(-3, -2)", &[2, 3, 4], &[6, 4]),
        ("(2, -4, -1, 3, -2)", &[2, 3, 4], &[2, 1, 3, 4]),
        ("[2,2]", &[4], &[2, 2]),
        ("24", &[2, 3, 4], &[24]),
    ] {
        assert_eq!(shape_of(code, input), want, "{code} on {input:?}");
    }
    // reverse=True on a merge: (2, 3, 4) with (0, -3) is processed as (-3, 0) on (4, 3, 2):
    // 4·3 then 2, reversed back to (2, 12) (MXNet 1.9.1 gives the same).
    assert_eq!(
        dims_of(&[("shape", "(0, -3)"), ("reverse", "1")], &[2, 3, 4]),
        [2, 12]
    );
    // ... and (-3, 0) is processed as (0, -3) on (4, 3, 2): (4, 6), reversed (6, 4) (MXNet too).
    assert_eq!(
        dims_of(&[("shape", "(-3, 0)"), ("reverse", "True")], &[2, 3, 4]),
        [6, 4]
    );
}

#[test]
fn forward_keeps_the_element_order() {
    let op = make_op("reshape", &[("shape", "(-1, 2)")]);
    let x = iota(&[2, 3, 2]);
    let out = run(op.as_ref(), &mut [x.clone()], false).unwrap();
    assert_eq!(out[0].shape(), &[6, 2]);
    assert_eq!(out[0].to_f64(), x.to_f64());
    // Any dtype: the kernel copies bytes.
    let ints = HostTensor::from_vec(&[2, 2], vec![1i32, -2, 3, 4]);
    let out = run(op.as_ref(), &mut [ints], false).unwrap();
    assert_eq!(out[0].dtype(), mxr_kernels::DType::I32);
    assert_eq!(out[0].to_f64(), vec![1.0, -2.0, 3.0, 4.0]);
    assert_eq!(out[0].shape(), &[2, 2]);
}

#[test]
fn bad_shapes_name_the_problem() {
    let check = |code: &str, input: &[usize], needle: &str| {
        let err = reshape(&[("shape", code)], Shape::known(input))
            .expect_err(code)
            .to_string();
        assert!(
            err.contains("Reshape") && err.contains(needle),
            "{code}: {err}"
        );
    };
    check("(0, 0, 0, 0)", &[2, 3, 4], "0 (copy)");
    check("(-3, -3)", &[2, 3, 4], "-3 (merge)");
    check("(-4, 2, 2)", &[2, 3, 4], "cannot split");
    // MXNet 1.9.1 accepts these and reads past the input; here they are errors.
    check("(6, 5)", &[2, 3, 4], "30 elements");
    check("(-1, 5)", &[2, 3, 4], "do not divide");
    check("(1, -2)", &[2, 3, 4], "12 elements");
    // Decoded at creation: named as a bad `shape` parameter.
    for code in [
        "(-1, -1)",
        "(-5, 4)",
        "(-4, -1, -1)",
        "(-4, 2)",
        "(-4, 0, 2)",
    ] {
        let err = create("Reshape", &[("shape", code)], None)
            .expect_err(code)
            .to_string();
        assert!(
            err.contains("Reshape") && err.contains("`shape`"),
            "{code}: {err}"
        );
    }
    let err = create("Reshape", &[("target_shape", "(0, 0)")], None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("target_shape"), "{err}");
    let err = create("Reshape", &[("shape", "(2, 3)"), ("scale", "2")], None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("scale"), "{err}");
}

#[test]
fn partial_shapes_both_ways() {
    // Unknown batch: the copied dimension stays unknown, so does the inferred one.
    let out = reshape(&[("shape", "(0, -1)")], Shape::from_legacy(&[0, 3, 4])).unwrap();
    assert_eq!(out, Shape::from_legacy(&[0, 0]));
    let out = reshape(&[("shape", "(-3, 0)")], Shape::from_legacy(&[2, 0, 4])).unwrap();
    assert_eq!(out, Shape::from_legacy(&[0, 4]));
    // Rank unknown: nothing to say, and no error.
    let out = reshape(&[("shape", "(0, -1)")], Shape::unknown()).unwrap();
    assert_eq!(out, Shape::unknown());
    // Backward: a known output fills the one unknown input dimension.
    let op = make_op("Reshape", &[("shape", "(0, -1)")]);
    let names = op.input_names();
    let mut ins = vec![Shape::from_legacy(&[0, 3, 4])];
    let mut outs = vec![Shape::known(&[5, 12])];
    op.infer_shape(&mut crate::registry::ShapeCtx::new(
        op.name(),
        &names,
        &mut ins,
        &mut outs,
    ))
    .unwrap();
    assert_eq!(ins[0], Shape::known(&[5, 3, 4]));
    // A known output that disagrees is an error naming both.
    let mut ins = vec![Shape::known(&[2, 3, 4])];
    let mut outs = vec![Shape::known(&[2, 11])];
    let err = op
        .infer_shape(&mut crate::registry::ShapeCtx::new(
            op.name(),
            &names,
            &mut ins,
            &mut outs,
        ))
        .unwrap_err()
        .to_string();
    assert!(err.contains("(2, 12)") && err.contains("(2, 11)"), "{err}");
}

#[test]
fn deprecated_target_shape() {
    // MXNet 1.9.1: target_shape=(0, 4) on (2, 3, 4) gives (6, 4); keep_highest with (3, 0)
    // gives (2, 12).
    assert_eq!(dims_of(&[("target_shape", "(0, 4)")], &[2, 3, 4]), [6, 4]);
    assert_eq!(
        dims_of(
            &[("target_shape", "(3, 0)"), ("keep_highest", "True")],
            &[2, 3, 4]
        ),
        [2, 12]
    );
}

#[test]
fn attributes_round_trip() {
    let op = make_op("reshape", &[("shape", "(0,-1)"), ("reverse", "True")]);
    assert_eq!(op.name(), "Reshape");
    assert_eq!(
        op.attrs(),
        vec![
            ("shape".to_string(), "(0, -1)".to_string()),
            ("reverse".to_string(), "True".to_string())
        ]
    );
    assert_eq!(op.inplace_option(), vec![(0, 0)]);
    assert!(op.inplace_identity());
    assert_eq!(lookup("reshape").unwrap().name, "Reshape");
    assert_eq!(lookup("flatten").unwrap().name, "Flatten");
}

#[test]
fn gradients_reshape_back() {
    for (name, attrs, shape) in [
        ("Reshape", vec![("shape", "(-3, -1)")], vec![2, 3, 4]),
        ("Reshape", vec![("shape", "(-4, 1, -1, 0)")], vec![2, 3]),
        ("Flatten", vec![], vec![2, 3, 2]),
        ("Flatten", vec![], vec![4]),
        ("expand_dims", vec![("axis", "-1")], vec![2, 3]),
        ("squeeze", vec![], vec![1, 3, 1, 2]),
        ("squeeze", vec![("axis", "(-1,)")], vec![2, 1]),
    ] {
        let op = make_op(name, &attrs);
        check_gradient(
            &op,
            &[uniform_f64(&shape, 3, -1.0, 1.0)],
            &GradCheck::default(),
        )
        .unwrap_or_else(|e| panic!("{name} {attrs:?}: {e}"));
    }
}

#[test]
fn backward_reshape_is_registered_and_takes_the_data_shape() {
    let op = make_op("_backward_reshape", &[]);
    assert_eq!(op.input_names(), vec!["ograd", "data"]);
    assert_eq!(op.ignore_inputs(), vec![1]);
    let g = iota(&[6]);
    let data = HostTensor::zeros(&[2, 3], mxr_kernels::DType::F32);
    let out = run(op.as_ref(), &mut [g.clone(), data], false).unwrap();
    assert_eq!(out[0].shape(), &[2, 3]);
    assert_eq!(out[0].to_f64(), g.to_f64());
    let err = run(
        op.as_ref(),
        &mut [
            iota(&[5]),
            HostTensor::zeros(&[2, 3], mxr_kernels::DType::F32),
        ],
        false,
    )
    .unwrap_err();
    assert!(err.to_string().contains("_backward_reshape"), "{err}");
}

#[test]
fn flatten_shapes() {
    let op = make_op("Flatten", &[]);
    let infer = |s: Shape| infer_shapes(op.as_ref(), &[s]);
    assert_eq!(
        infer(Shape::known(&[5])).unwrap().1[0],
        Shape::known(&[5, 1])
    );
    assert_eq!(
        infer(Shape::known(&[2, 3, 4])).unwrap().1[0],
        Shape::known(&[2, 12])
    );
    assert_eq!(
        infer(Shape::from_legacy(&[0, 3, 4])).unwrap().1[0],
        Shape::from_legacy(&[0, 12])
    );
    assert_eq!(
        infer(Shape::from_legacy(&[2, 0, 4])).unwrap().1[0],
        Shape::from_legacy(&[2, 0])
    );
    // Backward: batch and the one unknown dimension from a known output.
    let names = op.input_names();
    let mut ins = vec![Shape::from_legacy(&[0, 3, 0])];
    let mut outs = vec![Shape::known(&[2, 12])];
    op.infer_shape(&mut crate::registry::ShapeCtx::new(
        "Flatten", &names, &mut ins, &mut outs,
    ))
    .unwrap();
    assert_eq!(ins[0], Shape::known(&[2, 3, 4]));
    let out = run(op.as_ref(), &mut [iota(&[2, 3, 2])], false).unwrap();
    assert_eq!(out[0].shape(), &[2, 6]);
    assert_eq!(out[0].to_f64(), iota(&[12]).to_f64());
    let err = infer(Shape::known(&[])).unwrap_err().to_string();
    assert!(err.contains("Flatten") && err.contains("0-D"), "{err}");
}

#[test]
fn expand_dims_axes() {
    let shape = |axis: &str, input: Shape| {
        let op = make_op("expand_dims", &[("axis", axis)]);
        infer_shapes(op.as_ref(), &[input]).map(|(i, o)| (i[0].clone(), o[0].clone()))
    };
    // MXNet 1.9.1 on (2, 3, 4).
    let x = Shape::known(&[2, 3, 4]);
    assert_eq!(
        shape("-1", x.clone()).unwrap().1,
        Shape::known(&[2, 3, 4, 1])
    );
    assert_eq!(
        shape("3", x.clone()).unwrap().1,
        Shape::known(&[2, 3, 4, 1])
    );
    assert_eq!(
        shape("-4", x.clone()).unwrap().1,
        Shape::known(&[1, 2, 3, 4])
    );
    assert_eq!(
        shape("1", x.clone()).unwrap().1,
        Shape::known(&[2, 1, 3, 4])
    );
    for bad in ["4", "-5"] {
        let err = shape(bad, x.clone()).unwrap_err().to_string();
        assert!(
            err.contains("expand_dims") && err.contains("axis") && err.contains("[-4, 3]"),
            "{err}"
        );
    }
    // Backward: the input from the output.
    let op = make_op("expand_dims", &[("axis", "1")]);
    let names = op.input_names();
    let mut ins = vec![Shape::unknown()];
    let mut outs = vec![Shape::known(&[2, 1, 3])];
    op.infer_shape(&mut crate::registry::ShapeCtx::new(
        "expand_dims",
        &names,
        &mut ins,
        &mut outs,
    ))
    .unwrap();
    assert_eq!(ins[0], Shape::known(&[2, 3]));
    // Values unchanged.
    let out = run(op.as_ref(), &mut [iota(&[2, 3])], false).unwrap();
    assert_eq!(out[0].shape(), &[2, 1, 3]);
    assert_eq!(out[0].to_f64(), iota(&[6]).to_f64());
    let err = create("expand_dims", &[], None).unwrap_err().to_string();
    assert!(err.contains("axis"), "{err}");
}

#[test]
fn squeeze_axes() {
    let shape = |attrs: &[(&str, &str)], input: Shape| {
        let op = make_op("squeeze", attrs);
        infer_shapes(op.as_ref(), &[input]).map(|(_, o)| o[0].clone())
    };
    // MXNet 1.9.1: mx.nd.squeeze(mx.nd.ones(s), axis=a).shape
    let x = Shape::known(&[1, 3, 1]);
    assert_eq!(shape(&[], x.clone()).unwrap(), Shape::known(&[3]));
    assert_eq!(
        shape(&[("axis", "-1")], x.clone()).unwrap(),
        Shape::known(&[1, 3])
    );
    assert_eq!(
        shape(&[("axis", "(0,)")], x.clone()).unwrap(),
        Shape::known(&[3, 1])
    );
    assert_eq!(
        shape(&[("axis", "(0, 1)")], Shape::known(&[1, 1])).unwrap(),
        Shape::known(&[1])
    );
    assert_eq!(
        shape(&[], Shape::known(&[1, 1, 1])).unwrap(),
        Shape::known(&[1])
    );
    // An unknown axis that is selected is removed; the other size follows from the output.
    assert_eq!(
        shape(&[("axis", "(0,)")], Shape::from_legacy(&[0, 3])).unwrap(),
        Shape::known(&[3])
    );
    // Errors name the op, the axis and the shape.
    let err = shape(&[("axis", "(1,)")], x.clone())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("squeeze") && err.contains("axis 1") && err.contains("size 3"),
        "{err}"
    );
    let err = shape(&[("axis", "(0, -3)")], x.clone())
        .unwrap_err()
        .to_string();
    assert!(err.contains("squeeze") && err.contains("twice"), "{err}");
    let err = shape(&[("axis", "(3,)")], x).unwrap_err().to_string();
    assert!(
        err.contains("squeeze") && err.contains("out of range"),
        "{err}"
    );
    // Values unchanged; the gradient is the reshape back (MXNet's `_backward_squeeze`).
    let op = make_op("squeeze", &[]);
    let out = run(op.as_ref(), &mut [iota(&[1, 3, 1, 2])], false).unwrap();
    assert_eq!(out[0].shape(), &[3, 2]);
    assert_eq!(out[0].to_f64(), iota(&[6]).to_f64());
    assert_eq!(
        lookup("_backward_squeeze").unwrap().name,
        "_backward_reshape"
    );
    let err = create("squeeze", &[("axis", "x")], None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("squeeze") && err.contains("axis"), "{err}");
}

/// The GPU kernels (a device copy) agree with the CPU for every reshape-like op, float32 and
/// another dtype, and an empty array.
#[test]
fn gpu_matches_cpu() {
    use crate::check::gpu::{compare_with_cpu, test_device};
    use crate::ops::test_util::GpuCheck;
    let dev = test_device().unwrap();
    let gpu = GpuCheck::new(0.0, 0.0);
    let x = HostTensor::from_f32(&[2, 3, 4], (0..24).map(|i| i as f32 - 5.5).collect());
    let xi = HostTensor::from_vec(&[2, 3, 4], (0..24).collect::<Vec<i32>>());
    let cases: [(&str, Vec<(&str, &str)>); 5] = [
        ("Reshape", vec![("shape", "(-1,)")]),
        ("Reshape", vec![("shape", "(4, 0, -1)")]),
        ("Flatten", vec![]),
        ("expand_dims", vec![("axis", "1")]),
        ("expand_dims", vec![("axis", "-1")]),
    ];
    for (name, attrs) in cases {
        let op = make_op(name, &attrs);
        for input in [&x, &xi] {
            gpu.check(
                op.as_ref(),
                std::slice::from_ref(input),
                &format!("{name} {attrs:?}"),
            );
        }
    }
    let g = HostTensor::from_f32(&[6, 4], (0..24).map(|i| i as f32 * 0.25).collect());
    let back = make_op("_backward_reshape", &[]);
    compare_with_cpu(back.as_ref(), &dev, &[g, x], true, 0.0, 0.0).unwrap();
    let op = make_op("squeeze", &[("axis", "(0, 2)")]);
    let x = HostTensor::from_f32(&[1, 3, 1], vec![1.0, -2.0, 3.5]);
    compare_with_cpu(op.as_ref(), &dev, &[x], true, 0.0, 0.0).unwrap();
    let empty = HostTensor::from_f32(&[0, 3], vec![]);
    let op = make_op("Flatten", &[]);
    compare_with_cpu(op.as_ref(), &dev, &[empty], true, 0.0, 0.0).unwrap();
}

/// `reshape_like`'s output shape for `lhs`, `rhs` with `attrs`.
fn like(attrs: &[(&str, &str)], lhs: &[usize], rhs: &[usize]) -> crate::Result<Shape> {
    let op = create("reshape_like", attrs, None)?;
    let ins = [Shape::known(lhs), Shape::known(rhs)];
    Ok(infer_shapes(op.as_ref(), &ins)?.1.remove(0))
}

/// Attributes, lhs's shape, rhs's shape, the output's shape.
type LikeCase = (
    &'static [(&'static str, &'static str)],
    &'static [usize],
    &'static [usize],
    &'static [usize],
);

#[test]
fn reshape_like_shapes_match_mxnet() {
    // mx.sym.reshape_like(l, r, ..).infer_shape(l=.., r=..)
    let cases: [LikeCase; 5] = [
        (&[], &[3, 4], &[2, 6], &[2, 6]),
        (
            &[
                ("lhs_begin", "0"),
                ("lhs_end", "1"),
                ("rhs_begin", "0"),
                ("rhs_end", "2"),
            ],
            &[30, 7],
            &[15, 2, 4],
            &[15, 2, 7],
        ),
        (
            &[("lhs_begin", "-1"), ("rhs_begin", "1")],
            &[30, 12],
            &[4, 2, 2, 3],
            &[30, 2, 2, 3],
        ),
        (
            &[
                ("lhs_begin", "0"),
                ("lhs_end", "2"),
                ("rhs_begin", "1"),
                ("rhs_end", "2"),
            ],
            &[3, 5],
            &[1, 15, 4],
            &[15],
        ),
        (
            &[("lhs_end", "-1"), ("rhs_end", "1")],
            &[2, 3, 4],
            &[6, 2],
            &[6, 4],
        ),
    ];
    for (attrs, lhs, rhs, want) in cases {
        let got = like(attrs, lhs, rhs).unwrap_or_else(|e| panic!("{attrs:?}: {e}"));
        assert_eq!(got, Shape::known(want), "{attrs:?}");
    }
    // Back from the output: lhs's kept axes and rhs's taken ones.
    let op = make_op("reshape_like", &[("lhs_begin", "1"), ("rhs_begin", "1")]);
    let lhs = Shape::partial(vec![None, Some(12)]);
    let rhs = Shape::partial(vec![Some(9), None, None]);
    let (mut ins, out) = infer_shapes(op.as_ref(), &[lhs, rhs]).unwrap();
    assert_eq!(out[0], Shape::partial(vec![None, None, None]));
    let (names, mut outs) = (op.input_names(), [Shape::known(&[5, 3, 4])]);
    let mut ctx = crate::registry::ShapeCtx::new(op.name(), &names, &mut ins, &mut outs);
    op.infer_shape(&mut ctx).unwrap();
    assert_eq!(ins[0], Shape::known(&[5, 12]));
    assert_eq!(ins[1], Shape::known(&[9, 3, 4]));
}

#[test]
fn reshape_like_errors_follow_mxnet() {
    // Each is an MXNet error too (infer_shape with l=(3, 4), r=(2, 6)).
    for (attrs, needle) in [
        (&[("lhs_begin", "3")][..], "lhs_begin=3"),
        (&[("lhs_end", "5")], "lhs_end=5"),
        (&[("lhs_begin", "1"), ("lhs_end", "0")], "empty"),
        (&[("lhs_begin", "1"), ("lhs_end", "1")], "empty"),
        (&[("rhs_begin", "-5")], "rhs_begin=-5"),
        (&[("lhs_begin", "-3")], "before the first axis"),
    ] {
        let err = like(attrs, &[3, 4], &[2, 6]).unwrap_err().to_string();
        assert!(
            err.contains("reshape_like") && err.contains(needle),
            "{attrs:?}: {err}"
        );
    }
    // mx.nd.reshape_like(mx.nd.ones((3, 4)), mx.nd.ones((5, 2))): different sizes.
    let err = like(&[], &[3, 4], &[5, 2]).unwrap_err().to_string();
    assert!(
        err.contains("reshape_like") && err.contains("(5, 2)"),
        "{err}"
    );
    let err = create("reshape_like", &[("lhs_begin", "x")], None)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("reshape_like") && err.contains("lhs_begin"),
        "{err}"
    );
}

#[test]
fn reshape_like_copies_and_reshapes_the_gradient_back() {
    // a = arange(24).reshape(2, 3, 4); y = mx.nd.reshape_like(a, ones((6, 2)), lhs_end=-1,
    // rhs_end=1): shape (6, 4), the same elements; a.grad = the head gradient reshaped;
    // b.grad = zeros.
    let op = make_op("reshape_like", &[("lhs_end", "-1"), ("rhs_end", "1")]);
    let rhs = HostTensor::zeros(&[6, 2], mxr_kernels::DType::I32);
    let y = run(op.as_ref(), &mut [iota(&[2, 3, 4]), rhs.clone()], false)
        .unwrap()
        .remove(0);
    assert_eq!((y.shape(), y.to_f64()), (&[6, 4][..], iota(&[24]).to_f64()));
    let head = HostTensor::from_f32(&[6, 4], (0..24).map(|v| -(v as f32)).collect());
    let g = crate::check::gradients(
        &op,
        &[iota(&[2, 3, 4]), rhs],
        std::slice::from_ref(&head),
        true,
        1,
    )
    .unwrap();
    let ga = g[0].as_ref().unwrap();
    assert_eq!((ga.shape(), ga.to_f64()), (&[2, 3, 4][..], head.to_f64()));
    assert!(g[1].is_none(), "rhs gets no gradient");
    let rhs = uniform_f64(&[4, 3], 5, -1.0, 1.0);
    let opts = GradCheck {
        skip: vec![1],
        ..GradCheck::default()
    };
    check_gradient(
        &make_op("reshape_like", &[]),
        &[uniform_f64(&[2, 6], 4, -1.0, 1.0), rhs],
        &opts,
    )
    .unwrap();
}

#[test]
fn reshape_like_gpu_matches_cpu() {
    use crate::check::gpu::{compare_with_cpu, test_device};
    let dev = test_device().unwrap();
    let op = make_op("reshape_like", &[("lhs_begin", "1"), ("rhs_begin", "1")]);
    let ins = [
        iota(&[2, 6]),
        HostTensor::zeros(&[7, 3, 2], mxr_kernels::DType::F32),
    ];
    compare_with_cpu(op.as_ref(), &dev, &ins, true, 0.0, 0.0).unwrap();
}
