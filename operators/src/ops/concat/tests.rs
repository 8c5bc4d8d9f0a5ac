use crate::check::{GradCheck, HostTensor, check_gradient, infer_shapes, run};
use crate::ops::test_util::{iota, make_op, uniform_f64};
use crate::registry::{Shape, ShapeCtx, create, lookup};

fn t(shape: &[usize], v: &[f32]) -> HostTensor {
    HostTensor::from_f32(shape, v.to_vec())
}

/// Runs shape inference with some outputs known too.
fn infer_both(
    op: &dyn crate::registry::Operator,
    ins: &[Shape],
    outs: &[Shape],
) -> crate::Result<(Vec<Shape>, Vec<Shape>)> {
    let names = op.input_names();
    let mut ins = ins.to_vec();
    let mut outs = outs.to_vec();
    for _ in 0..2 {
        op.infer_shape(&mut ShapeCtx::new(op.name(), &names, &mut ins, &mut outs))?;
    }
    Ok((ins, outs))
}

#[test]
fn concat_by_hand() {
    let a = t(&[2, 2], &[1.0, 2.0, 3.0, 4.0]);
    let b = t(&[2, 1], &[5.0, 6.0]);
    let op = make_op("Concat", &[("num_args", "2")]);
    assert_eq!(op.input_names(), vec!["arg0", "arg1"]);
    let out = run(op.as_ref(), &mut [a.clone(), b], false).unwrap();
    assert_eq!(out[0].shape(), &[2, 3]);
    assert_eq!(out[0].to_f64(), vec![1.0, 2.0, 5.0, 3.0, 4.0, 6.0]);
    // dim=0 (and the alias; num_args filled in from the input count, as frontends do).
    let op = lookup("concat")
        .unwrap()
        .instantiate(&[("dim", "0")], Some(3))
        .unwrap();
    assert_eq!(op.name(), "Concat");
    assert_eq!(op.num_inputs(), 3);
    let c = t(&[1, 2], &[7.0, 8.0]);
    let out = run(op.as_ref(), &mut [a.clone(), c.clone(), a.clone()], false).unwrap();
    assert_eq!(out[0].shape(), &[5, 2]);
    assert_eq!(
        out[0].to_f64(),
        vec![1.0, 2.0, 3.0, 4.0, 7.0, 8.0, 1.0, 2.0, 3.0, 4.0]
    );
    // dim=-1 on 3-D, int32.
    let op = make_op("Concat", &[("num_args", "2"), ("dim", "-1")]);
    let x = HostTensor::from_vec(&[2, 1, 1], vec![1i32, 2]);
    let y = HostTensor::from_vec(&[2, 1, 2], vec![3i32, 4, 5, 6]);
    let out = run(op.as_ref(), &mut [x, y], false).unwrap();
    assert_eq!(out[0].shape(), &[2, 1, 3]);
    assert_eq!(out[0].to_f64(), vec![1.0, 3.0, 4.0, 2.0, 5.0, 6.0]);
}

#[test]
fn concat_shapes() {
    let op = make_op("Concat", &[("num_args", "2"), ("dim", "-1")]);
    let (_, out) =
        infer_shapes(op.as_ref(), &[Shape::known(&[2, 3]), Shape::known(&[2, 4])]).unwrap();
    assert_eq!(out[0], Shape::known(&[2, 7]));
    // Partial: an unknown piece leaves the joined axis unknown; the other axis is shared.
    let (ins, out) = infer_shapes(
        op.as_ref(),
        &[Shape::known(&[2, 3]), Shape::from_legacy(&[0, 0])],
    )
    .unwrap();
    assert_eq!(ins[1], Shape::from_legacy(&[2, 0]));
    assert_eq!(out[0], Shape::from_legacy(&[2, 0]));
    // Backward: the one unknown piece from the output.
    let (ins, _) = infer_both(
        op.as_ref(),
        &[Shape::from_legacy(&[0, 3]), Shape::unknown()],
        &[Shape::known(&[2, 7])],
    )
    .unwrap();
    assert_eq!(ins, vec![Shape::known(&[2, 3]), Shape::known(&[2, 4])]);
    // Errors name the operator and the offending input.
    let op = make_op("Concat", &[("num_args", "2")]);
    let err = infer_shapes(op.as_ref(), &[Shape::known(&[2, 3]), Shape::known(&[3, 4])])
        .unwrap_err()
        .to_string();
    assert!(err.contains("Concat") && err.contains("arg1"), "{err}");
    let err = infer_shapes(
        op.as_ref(),
        &[Shape::known(&[2, 3]), Shape::known(&[2, 3, 4])],
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("Concat") && err.contains("rank"), "{err}");
    let op = make_op("Concat", &[("num_args", "2"), ("dim", "2")]);
    let err = infer_shapes(op.as_ref(), &[Shape::known(&[2, 3]), Shape::known(&[2, 3])])
        .unwrap_err()
        .to_string();
    assert!(err.contains("dim=2"), "{err}");
    let err = create("Concat", &[("num_args", "0")], None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("num_args"), "{err}");
    let err = create("Concat", &[], None).unwrap_err().to_string();
    assert!(err.contains("num_args"), "{err}");
}

#[test]
fn concat_gradient_splits() {
    let op = make_op("Concat", &[("num_args", "3"), ("dim", "1")]);
    let ins = [
        uniform_f64(&[2, 1, 3], 1, -0.5, 0.5),
        uniform_f64(&[2, 2, 3], 2, -0.5, 0.5),
        uniform_f64(&[2, 3, 3], 3, -0.5, 0.5),
    ];
    check_gradient(&op, &ins, &GradCheck::default()).unwrap();
    let op = make_op("Concat", &[("num_args", "2"), ("dim", "0")]);
    check_gradient(
        &op,
        &[
            uniform_f64(&[1, 4], 4, -0.5, 0.5),
            uniform_f64(&[2, 4], 5, -0.5, 0.5),
        ],
        &GradCheck::default(),
    )
    .unwrap();
    // The backward op on its own: [ograd, arg0, arg1] -> pieces.
    let back = make_op("_backward_Concat", &[("num_args", "2")]);
    assert_eq!(back.ignore_inputs(), vec![1, 2]);
    let g = t(&[2, 3], &[1.0, 2.0, 5.0, 3.0, 4.0, 6.0]);
    let out = run(back.as_ref(), &mut [g, iota(&[2, 2]), iota(&[2, 1])], false).unwrap();
    assert_eq!(out[0].to_f64(), vec![1.0, 2.0, 3.0, 4.0]);
    assert_eq!(out[1].to_f64(), vec![5.0, 6.0]);
}

#[test]
fn slice_channel_by_hand() {
    let op = make_op("SliceChannel", &[("num_outputs", "2")]);
    assert_eq!(op.output_names(), vec!["output0", "output1"]);
    let out = run(op.as_ref(), &mut [iota(&[2, 4])], false).unwrap();
    assert_eq!(out[0].shape(), &[2, 2]);
    assert_eq!(out[0].to_f64(), vec![0.0, 1.0, 4.0, 5.0]);
    assert_eq!(out[1].to_f64(), vec![2.0, 3.0, 6.0, 7.0]);
    // One output is still called output0 (MXNet 1.9.1: split0_output0).
    let one = make_op("split", &[("num_outputs", "1")]);
    assert_eq!(one.name(), "SliceChannel");
    assert_eq!(one.output_names(), vec!["output0"]);
    // squeeze_axis on the last axis.
    let op = make_op(
        "split",
        &[
            ("num_outputs", "3"),
            ("axis", "-1"),
            ("squeeze_axis", "True"),
        ],
    );
    let out = run(op.as_ref(), &mut [iota(&[2, 3])], false).unwrap();
    assert_eq!(out.len(), 3);
    assert_eq!(out[0].shape(), &[2]);
    assert_eq!(out[0].to_f64(), vec![0.0, 3.0]);
    assert_eq!(out[2].to_f64(), vec![2.0, 5.0]);
    // axis 0 of a 3-D array.
    let op = make_op("split", &[("num_outputs", "2"), ("axis", "0")]);
    let out = run(op.as_ref(), &mut [iota(&[4, 1, 2])], false).unwrap();
    assert_eq!(out[1].shape(), &[2, 1, 2]);
    assert_eq!(out[1].to_f64(), vec![4.0, 5.0, 6.0, 7.0]);
}

#[test]
fn slice_channel_shapes_and_errors() {
    let split = |attrs: &[(&str, &str)], input: Shape| {
        let op = make_op("SliceChannel", attrs);
        infer_shapes(op.as_ref(), &[input])
    };
    // MXNet 1.9.1's messages: not evenly divisible; squeeze needs size == num_outputs.
    let err = split(&[("num_outputs", "2")], Shape::known(&[2, 5]))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("SliceChannel") && err.contains("equal pieces"),
        "{err}"
    );
    let err = split(
        &[("num_outputs", "2"), ("squeeze_axis", "1")],
        Shape::known(&[2, 4]),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("squeeze_axis"), "{err}");
    let err = split(
        &[("num_outputs", "2"), ("axis", "2")],
        Shape::known(&[2, 4]),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("axis=2"), "{err}");
    let err = create("SliceChannel", &[("num_outputs", "0")], None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("num_outputs"), "{err}");
    // Partial and backward.
    let (_, outs) = split(
        &[("num_outputs", "2"), ("axis", "0")],
        Shape::from_legacy(&[0, 4]),
    )
    .unwrap();
    assert_eq!(outs[1], Shape::from_legacy(&[0, 4]));
    let op = make_op("SliceChannel", &[("num_outputs", "2"), ("axis", "0")]);
    let (ins, outs) = infer_both(
        op.as_ref(),
        &[Shape::unknown()],
        &[Shape::known(&[3, 4]), Shape::unknown()],
    )
    .unwrap();
    assert_eq!(ins[0], Shape::known(&[6, 4]));
    assert_eq!(outs[1], Shape::known(&[3, 4]));
    let op = make_op(
        "SliceChannel",
        &[
            ("num_outputs", "2"),
            ("axis", "0"),
            ("squeeze_axis", "True"),
        ],
    );
    let (ins, _) = infer_both(
        op.as_ref(),
        &[Shape::unknown()],
        &[Shape::unknown(), Shape::known(&[4])],
    )
    .unwrap();
    assert_eq!(ins[0], Shape::known(&[2, 4]));
}

#[test]
fn slice_channel_gradient_joins() {
    for attrs in [
        vec![("num_outputs", "2"), ("axis", "1")],
        vec![
            ("num_outputs", "3"),
            ("axis", "0"),
            ("squeeze_axis", "True"),
        ],
        vec![("num_outputs", "2"), ("axis", "-1")],
    ] {
        let op = make_op("SliceChannel", &attrs);
        check_gradient(
            &op,
            &[uniform_f64(&[3, 4, 2], 7, -0.5, 0.5)],
            &GradCheck::default(),
        )
        .unwrap_or_else(|e| panic!("{attrs:?}: {e}"));
    }
    let back = make_op("_backward_SliceChannel", &[("num_outputs", "2")]);
    assert_eq!(back.input_names(), vec!["ograd0", "ograd1"]);
    let out = run(
        back.as_ref(),
        &mut [t(&[2, 1], &[1.0, 2.0]), t(&[2, 1], &[3.0, 4.0])],
        false,
    )
    .unwrap();
    assert_eq!(out[0].shape(), &[2, 2]);
    assert_eq!(out[0].to_f64(), vec![1.0, 3.0, 2.0, 4.0]);
}

#[test]
fn slice_axis_by_hand() {
    let x = iota(&[2, 3, 4]);
    let slice = |attrs: &[(&str, &str)]| {
        let op = make_op("slice_axis", attrs);
        run(op.as_ref(), &mut [x.clone()], false).map(|mut o| o.remove(0))
    };
    let out = slice(&[("axis", "1"), ("begin", "1"), ("end", "3")]).unwrap();
    assert_eq!(out.shape(), &[2, 2, 4]);
    assert_eq!(&out.to_f64()[..4], &[4.0, 5.0, 6.0, 7.0]);
    assert_eq!(&out.to_f64()[8..12], &[16.0, 17.0, 18.0, 19.0]);
    // Negative begin, end None (MXNet 1.9.1: (2, 3, 3)).
    let out = slice(&[("axis", "-1"), ("begin", "-3"), ("end", "None")]).unwrap();
    assert_eq!(out.shape(), &[2, 3, 3]);
    assert_eq!(&out.to_f64()[..6], &[1.0, 2.0, 3.0, 5.0, 6.0, 7.0]);
    let out = slice(&[("axis", "2"), ("begin", "0"), ("end", "-1")]).unwrap();
    assert_eq!(out.shape(), &[2, 3, 3]);
    assert_eq!(&out.to_f64()[..3], &[0.0, 1.0, 2.0]);
    let out = slice(&[("axis", "0"), ("begin", "1"), ("end", "2")]).unwrap();
    assert_eq!(out.to_f64(), (12..24).map(f64::from).collect::<Vec<_>>());
    // MXNet 1.9.1's errors.
    for (attrs, needle) in [
        (
            vec![("axis", "1"), ("begin", "2"), ("end", "2")],
            "must come before",
        ),
        (vec![("axis", "1"), ("begin", "0"), ("end", "5")], "end=5"),
        (
            vec![("axis", "1"), ("begin", "-5"), ("end", "2")],
            "begin=-5",
        ),
        (vec![("axis", "3"), ("begin", "0"), ("end", "1")], "axis=3"),
    ] {
        let err = slice(&attrs).expect_err(needle).to_string();
        assert!(err.contains("slice_axis") && err.contains(needle), "{err}");
    }
    let err = create("slice_axis", &[("axis", "1"), ("begin", "0")], None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("`end`"), "{err}");
    let op = make_op(
        "slice_axis",
        &[("axis", "1"), ("begin", "0"), ("end", "None")],
    );
    assert_eq!(
        op.attrs(),
        vec![
            ("axis".to_string(), "1".to_string()),
            ("begin".to_string(), "0".to_string()),
            ("end".to_string(), "None".to_string())
        ]
    );
}

#[test]
fn slice_axis_shapes_and_gradient() {
    let op = make_op("slice_axis", &[("axis", "1"), ("begin", "1"), ("end", "3")]);
    let (_, out) = infer_shapes(op.as_ref(), &[Shape::from_legacy(&[2, 0, 4])]).unwrap();
    assert_eq!(out[0], Shape::known(&[2, 2, 4]));
    let (ins, _) = infer_both(
        op.as_ref(),
        &[Shape::unknown()],
        &[Shape::known(&[2, 2, 4])],
    )
    .unwrap();
    assert_eq!(ins[0], Shape::from_legacy(&[2, 0, 4]));
    let op2 = make_op(
        "slice_axis",
        &[("axis", "1"), ("begin", "-1"), ("end", "None")],
    );
    let (_, out) = infer_shapes(op2.as_ref(), &[Shape::from_legacy(&[2, 0, 4])]).unwrap();
    assert_eq!(out[0], Shape::from_legacy(&[2, 0, 4]));
    check_gradient(
        &op,
        &[uniform_f64(&[2, 4, 3], 9, -0.5, 0.5)],
        &GradCheck::default(),
    )
    .unwrap();
    check_gradient(
        &op2,
        &[uniform_f64(&[3, 2], 10, -0.5, 0.5)],
        &GradCheck::default(),
    )
    .unwrap();
    // The backward op on its own: the head gradient in zeros of the input's shape.
    let back = make_op(
        "_backward_slice_axis",
        &[("axis", "0"), ("begin", "1"), ("end", "2")],
    );
    let out = run(
        back.as_ref(),
        &mut [t(&[1, 2], &[5.0, 6.0]), iota(&[3, 2])],
        false,
    )
    .unwrap();
    assert_eq!(out[0].to_f64(), vec![0.0, 0.0, 5.0, 6.0, 0.0, 0.0]);
}

/// Values that differ everywhere, so that a misplaced copy shows.
fn distinct(shape: &[usize], salt: f32) -> HostTensor {
    let n: usize = shape.iter().product();
    HostTensor::from_f32(shape, (0..n).map(|i| i as f32 * 0.5 + salt).collect())
}

#[test]
fn gpu_matches_cpu() {
    use crate::ops::test_util::GpuCheck;
    let gpu = GpuCheck::new(0.0, 0.0);
    let check = |name: &str, attrs: &[(&str, &str)], ins: &[HostTensor]| {
        let op = make_op(name, attrs);
        gpu.check(op.as_ref(), ins, &format!("{name} {attrs:?}"));
    };
    // Concat and its backward along every axis, negative dims, odd and empty sizes.
    let cases: &[(&str, [usize; 3], [usize; 3])] = &[
        ("0", [2, 3, 5], [3, 3, 5]),
        ("1", [2, 3, 5], [2, 1, 5]),
        ("-1", [2, 3, 5], [2, 3, 7]),
        ("2", [2, 3, 0], [2, 3, 4]),
        ("1", [1, 1, 1], [1, 2, 1]),
    ];
    for (dim, a, b) in cases {
        let ins = [distinct(a, 0.0), distinct(b, 1000.0)];
        check("Concat", &[("dim", dim), ("num_args", "2")], &ins);
        let mut joined = *a;
        let axis = if *dim == "-1" {
            2
        } else {
            dim.parse::<usize>().unwrap()
        };
        joined[axis] += b[axis];
        let back_ins = [distinct(&joined, 7.0), ins[0].clone(), ins[1].clone()];
        check(
            "_backward_Concat",
            &[("dim", dim), ("num_args", "2")],
            &back_ins,
        );
    }
    let three = [
        distinct(&[4, 2], 0.0),
        distinct(&[4, 3], 100.0),
        distinct(&[4, 1], 200.0),
    ];
    check("Concat", &[("dim", "1"), ("num_args", "3")], &three);
    // SliceChannel (with squeeze_axis) and its backward.
    for (axis, squeeze) in [
        ("0", "false"),
        ("1", "false"),
        ("1", "true"),
        ("-1", "false"),
    ] {
        let attrs = [
            ("num_outputs", "3"),
            ("axis", axis),
            ("squeeze_axis", squeeze),
        ];
        let x = if squeeze == "true" {
            distinct(&[2, 3, 5], 0.0)
        } else {
            distinct(&[3, 6, 3], 0.0)
        };
        check("SliceChannel", &attrs, std::slice::from_ref(&x));
        let op = make_op("SliceChannel", &attrs);
        let pieces = run(op.as_ref(), &mut [x], true).unwrap();
        let gs: Vec<HostTensor> = pieces
            .iter()
            .enumerate()
            .map(|(k, p)| distinct(p.shape(), 50.0 * k as f32))
            .collect();
        check("_backward_SliceChannel", &attrs, &gs);
    }
    // slice_axis and its backward: negative begin, open end, width 1 (empty slices are errors).
    let x = distinct(&[3, 7, 2], 0.0);
    for (axis, begin, end) in [
        ("1", "2", "5"),
        ("0", "-2", "None"),
        ("-1", "1", "2"),
        ("2", "0", "None"),
    ] {
        let attrs = [("axis", axis), ("begin", begin), ("end", end)];
        check("slice_axis", &attrs, std::slice::from_ref(&x));
        let op = make_op("slice_axis", &attrs);
        let y = run(op.as_ref(), &mut [x.clone()], true).unwrap().remove(0);
        check(
            "_backward_slice_axis",
            &attrs,
            &[distinct(y.shape(), 9.0), x.clone()],
        );
    }
}
