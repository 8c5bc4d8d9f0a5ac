use crate::check::{GradCheck, HostTensor, check_gradient, infer_shapes, run};
use crate::ops::test_util::{RefCase, f64s, iota, make_op, uniform_f64};
use crate::registry::{Shape, create, lookup};

/// `slice` of `iota(2, 3, 4)` with `attrs`: (shape, values).
fn slice(attrs: &[(&str, &str)]) -> crate::Result<(Vec<usize>, Vec<f64>)> {
    let op = create("slice", attrs, None)?;
    let out = run(op.as_ref(), &mut [iota(&[2, 3, 4])], false)?.remove(0);
    Ok((out.shape().to_vec(), out.to_f64()))
}

#[test]
fn slice_matches_mxnet() {
    // x = mx.nd.array(np.arange(24).reshape(2, 3, 4)); y = mx.nd.slice(x, begin=.., end=.., step=..)
    let cases: [RefCase; 9] = [
        (
            &[("begin", "(0, 1)"), ("end", "(2, 3)")],
            &[2, 2, 4],
            f64s(&[4, 5, 6, 7, 8, 9, 10, 11, 16, 17, 18, 19, 20, 21, 22, 23]),
        ),
        (
            &[
                ("begin", "(None, None, 3)"),
                ("end", "(None, None, 0)"),
                ("step", "(None, None, -1)"),
            ],
            &[2, 3, 3],
            f64s(&[
                3, 2, 1, 7, 6, 5, 11, 10, 9, 15, 14, 13, 19, 18, 17, 23, 22, 21,
            ]),
        ),
        (
            &[
                ("begin", "(1, -1)"),
                ("end", "(None, 0)"),
                ("step", "(1, -2)"),
            ],
            &[1, 1, 4],
            f64s(&[20, 21, 22, 23]),
        ),
        (
            &[("begin", "(0,)"), ("end", "(5,)")],
            &[2, 3, 4],
            f64s(&(0..24).collect::<Vec<_>>()),
        ),
        (&[("begin", "(0,)"), ("end", "(-3,)")], &[0, 3, 4], vec![]),
        (&[("begin", "(3,)"), ("end", "(None,)")], &[0, 3, 4], vec![]),
        (
            &[("begin", "(-3,)"), ("end", "(None,)")],
            &[2, 3, 4],
            f64s(&(0..24).collect::<Vec<_>>()),
        ),
        (
            &[
                ("begin", "(None, None, -1)"),
                ("end", "(None, None, -5)"),
                ("step", "(None, None, -1)"),
            ],
            &[2, 3, 4],
            f64s(&[
                3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12, 19, 18, 17, 16, 23, 22, 21,
                20,
            ]),
        ),
        (
            &[
                ("begin", "(None, None, 1)"),
                ("end", "(None, None, 3)"),
                ("step", "(None, None, -1)"),
            ],
            &[2, 3, 0],
            vec![],
        ),
    ];
    for (attrs, shape, values) in cases {
        let (s, v) = slice(attrs).unwrap_or_else(|e| panic!("{attrs:?}: {e}"));
        assert_eq!((s.as_slice(), v), (shape, values), "{attrs:?}");
    }
    assert_eq!(lookup("crop").unwrap().name, "slice");
}

#[test]
fn slice_errors_name_the_op_and_argument() {
    for (attrs, needle) in [
        (
            vec![("begin", "(0,)"), ("end", "(1,)"), ("step", "(0,)")],
            "step[0] is 0",
        ),
        (vec![("begin", "(0, 0)"), ("end", "(1,)")], "end has 1"),
        (
            vec![("begin", "(0,)"), ("end", "(1,)"), ("step", "(1, 1)")],
            "step has 2",
        ),
    ] {
        let err = create("slice", &attrs, None).unwrap_err().to_string();
        assert!(err.contains("slice") && err.contains(needle), "{err}");
    }
    let err = slice(&[("begin", "(0, 0, 0, 0)"), ("end", "(1, 1, 1, 1)")])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("slice") && err.contains("only 3 axes"),
        "{err}"
    );
    let op = make_op(
        "slice",
        &[("begin", "(0, 0, 0, 0)"), ("end", "(1, 1, 1, 1)")],
    );
    let err = infer_shapes(op.as_ref(), &[Shape::known(&[2, 3])])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("slice") && err.contains("only 2 axes"),
        "{err}"
    );
    let err = create("slice", &[("begin", "(0,)")], None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("`end`"), "{err}");
}

#[test]
fn slice_shapes_both_ways() {
    let op = make_op("slice", &[("begin", "(1,)"), ("end", "(None,)")]);
    let (_, out) = infer_shapes(op.as_ref(), &[Shape::from_legacy(&[3, 0, 4])]).unwrap();
    assert_eq!(out[0], Shape::from_legacy(&[2, 0, 4]));
    // Backward: the rank and the whole trailing axes from the output.
    let names = op.input_names();
    let mut ins = vec![Shape::unknown()];
    let mut outs = vec![Shape::known(&[2, 5, 4])];
    op.infer_shape(&mut crate::registry::ShapeCtx::new(
        "slice", &names, &mut ins, &mut outs,
    ))
    .unwrap();
    assert_eq!(ins[0], Shape::from_legacy(&[0, 5, 4]));
}

#[test]
fn slice_gradient() {
    for attrs in [
        vec![
            ("begin", "(1, None)"),
            ("end", "(None, 0)"),
            ("step", "(1, -2)"),
        ],
        vec![("begin", "(0, 1)"), ("end", "(2, 3)")],
    ] {
        let op = make_op("slice", &attrs);
        check_gradient(
            &op,
            &[uniform_f64(&[3, 4, 2], 5, -1.0, 1.0)],
            &GradCheck::default(),
        )
        .unwrap_or_else(|e| panic!("{attrs:?}: {e}"));
    }
    // The backward op on its own: the head gradient scattered into zeros.
    let back = make_op(
        "_backward_slice",
        &[("begin", "(None,)"), ("end", "(None,)"), ("step", "(-2,)")],
    );
    let g = HostTensor::from_f32(&[2], vec![5.0, 6.0]);
    let out = run(back.as_ref(), &mut [g, iota(&[3])], false).unwrap();
    assert_eq!(out[0].to_f64(), vec![6.0, 0.0, 5.0]);
}

/// The GPU path (a gather and a scatter by offset tables) agrees with the CPU.
#[test]
fn gpu_matches_cpu() {
    use crate::check::gpu::{compare_with_cpu, test_device};
    let dev = test_device().unwrap();
    let x = HostTensor::from_f32(&[2, 3, 4], (0..24).map(|i| i as f32 - 5.5).collect());
    let attrs = [
        ("begin", "(1, None, -1)"),
        ("end", "(None, None, 0)"),
        ("step", "(1, 2, -1)"),
    ];
    let op = make_op("slice", &attrs);
    compare_with_cpu(op.as_ref(), &dev, std::slice::from_ref(&x), true, 0.0, 0.0).unwrap();
    let g = HostTensor::from_f32(&[1, 2, 3], (0..6).map(|i| i as f32 * 0.5).collect());
    let back = make_op("_backward_slice", &attrs);
    compare_with_cpu(back.as_ref(), &dev, &[g, x], true, 0.0, 0.0).unwrap();
}
