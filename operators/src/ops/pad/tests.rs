use crate::check::{GradCheck, HostTensor, check_gradient, infer_shapes, run};
use crate::ops::test_util::{f64s, iota, make_op, uniform_f64};
use crate::registry::{Shape, ShapeCtx, create, lookup};

const WIDTH: (&str, &str) = ("pad_width", "(0, 0, 0, 0, 1, 2, 2, 1)");

#[test]
fn pad_matches_mxnet() {
    // x = mx.nd.array(np.arange(12).reshape(1, 1, 3, 4))
    // mx.nd.Pad(x, mode=m, pad_width=(0, 0, 0, 0, 1, 2, 2, 1), constant_value=-1)
    let expected = [
        (
            "constant",
            f64s(&[
                -1, -1, -1, -1, -1, -1, -1, -1, -1, 0, 1, 2, 3, -1, -1, -1, 4, 5, 6, 7, -1, -1, -1,
                8, 9, 10, 11, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
            ]),
        ),
        (
            "edge",
            f64s(&[
                0, 0, 0, 1, 2, 3, 3, 0, 0, 0, 1, 2, 3, 3, 4, 4, 4, 5, 6, 7, 7, 8, 8, 8, 9, 10, 11,
                11, 8, 8, 8, 9, 10, 11, 11, 8, 8, 8, 9, 10, 11, 11,
            ]),
        ),
        (
            "reflect",
            f64s(&[
                6, 5, 4, 5, 6, 7, 6, 2, 1, 0, 1, 2, 3, 2, 6, 5, 4, 5, 6, 7, 6, 10, 9, 8, 9, 10, 11,
                10, 6, 5, 4, 5, 6, 7, 6, 2, 1, 0, 1, 2, 3, 2,
            ]),
        ),
    ];
    for (mode, values) in expected {
        let op = make_op("Pad", &[("mode", mode), WIDTH, ("constant_value", "-1")]);
        let out = run(op.as_ref(), &mut [iota(&[1, 1, 3, 4])], false)
            .unwrap()
            .remove(0);
        assert_eq!(out.shape(), &[1, 1, 6, 7], "{mode}");
        assert_eq!(out.to_f64(), values, "{mode}");
    }
    // 5-D: mx.nd.Pad(arange(8).reshape(1, 1, 2, 2, 2), mode='reflect',
    // pad_width=(0, 0, 0, 0, 1, 1, 0, 1, 1, 0))
    let op = make_op(
        "pad",
        &[
            ("mode", "reflect"),
            ("pad_width", "(0, 0, 0, 0, 1, 1, 0, 1, 1, 0)"),
        ],
    );
    let out = run(op.as_ref(), &mut [iota(&[1, 1, 2, 2, 2])], false)
        .unwrap()
        .remove(0);
    assert_eq!(out.shape(), &[1, 1, 4, 3, 3]);
    let want = [
        5, 4, 5, 7, 6, 7, 5, 4, 5, 1, 0, 1, 3, 2, 3, 1, 0, 1, 5, 4, 5, 7, 6, 7, 5, 4, 5, 1, 0, 1,
        3, 2, 3, 1, 0, 1,
    ];
    assert_eq!(out.to_f64(), f64s(&want));
    assert_eq!(lookup("pad").unwrap().name, "Pad");
}

#[test]
fn pad_gradient_sums_into_the_copied_elements() {
    // x.attach_grad(); y = mx.nd.Pad(x, mode=m, pad_width=WIDTH); y.backward(arange(42))
    for (mode, want) in [
        ("constant", [9, 10, 11, 12, 16, 17, 18, 19, 23, 24, 25, 26]),
        ("edge", [27, 13, 15, 36, 45, 17, 18, 39, 261, 93, 96, 201]),
        (
            "reflect",
            [46, 92, 146, 52, 48, 96, 156, 57, 23, 46, 73, 26],
        ),
    ] {
        let back = make_op("_backward_Pad", &[("mode", mode), WIDTH]);
        let out = run(
            back.as_ref(),
            &mut [iota(&[1, 1, 6, 7]), iota(&[1, 1, 3, 4])],
            false,
        )
        .unwrap();
        assert_eq!(out[0].to_f64(), f64s(&want), "{mode}");
        let op = make_op("Pad", &[("mode", mode), WIDTH, ("constant_value", "0.5")]);
        check_gradient(
            &op,
            &[uniform_f64(&[1, 2, 3, 4], 3, -1.0, 1.0)],
            &GradCheck::default(),
        )
        .unwrap_or_else(|e| panic!("{mode}: {e}"));
    }
}

#[test]
fn pad_shapes_and_errors() {
    let op = make_op("Pad", &[("mode", "edge"), WIDTH]);
    let (_, out) = infer_shapes(op.as_ref(), &[Shape::from_legacy(&[2, 0, 3, 4])]).unwrap();
    assert_eq!(out[0], Shape::from_legacy(&[2, 0, 6, 7]));
    // Backward: the input from the output.
    let names = op.input_names();
    let mut ins = vec![Shape::unknown()];
    let mut outs = vec![Shape::known(&[2, 5, 6, 7])];
    op.infer_shape(&mut ShapeCtx::new("Pad", &names, &mut ins, &mut outs))
        .unwrap();
    assert_eq!(ins[0], Shape::known(&[2, 5, 3, 4]));
    // MXNet 1.9.1's refusals.
    for (attrs, shape, needle) in [
        (
            vec![
                ("mode", "constant"),
                ("pad_width", "(1, 0, 0, 0, 1, 1, 1, 1)"),
            ],
            vec![1, 1, 3, 4],
            "first two axes",
        ),
        (
            vec![
                ("mode", "reflect"),
                ("pad_width", "(0, 0, 0, 0, 3, 3, 1, 1)"),
            ],
            vec![1, 1, 3, 4],
            "smaller than its size 3",
        ),
        (
            vec![("mode", "constant"), ("pad_width", "(0, 0, 0, 0, 1, 1)")],
            vec![1, 1, 3, 4],
            "pad_width has 6",
        ),
        (
            vec![("mode", "constant"), ("pad_width", "(0, 0, 1, 1)")],
            vec![2, 3],
            "4-D or 5-D",
        ),
    ] {
        let op = make_op("Pad", &attrs);
        let err = infer_shapes(op.as_ref(), &[Shape::known(&shape)])
            .unwrap_err()
            .to_string();
        assert!(err.contains("Pad") && err.contains(needle), "{err}");
        let x = HostTensor::zeros(&shape, mxr_kernels::DType::F32);
        let err = run(op.as_ref(), &mut [x], false).unwrap_err().to_string();
        assert!(err.contains("Pad") && err.contains(needle), "{err}");
    }
    let err = create("Pad", &[WIDTH], None).unwrap_err().to_string();
    assert!(err.contains("Pad") && err.contains("mode"), "{err}");
}

/// The GPU path (offset tables, the constant as one extra element) agrees with the CPU.
#[test]
fn gpu_matches_cpu() {
    use crate::check::gpu::{compare_with_cpu, test_device};
    let dev = test_device().unwrap();
    let x = HostTensor::from_f32(&[1, 2, 3, 4], (0..24).map(|i| i as f32 - 7.5).collect());
    let g = HostTensor::from_f32(&[1, 2, 6, 7], (0..84).map(|i| i as f32 * 0.25).collect());
    for mode in ["constant", "edge", "reflect"] {
        let attrs = [("mode", mode), WIDTH, ("constant_value", "2.5")];
        let op = make_op("Pad", &attrs);
        compare_with_cpu(op.as_ref(), &dev, std::slice::from_ref(&x), true, 0.0, 0.0).unwrap();
        let back = make_op("_backward_Pad", &attrs);
        compare_with_cpu(
            back.as_ref(),
            &dev,
            &[g.clone(), x.clone()],
            true,
            1e-6,
            1e-6,
        )
        .unwrap();
    }
}
