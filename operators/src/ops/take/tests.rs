use crate::check::{GradCheck, HostTensor, check_gradient, infer_shapes, run};
use crate::ops::test_util::{RefCase, f64s, iota, make_op, uniform_f64};
use crate::registry::{Shape, create};

/// `take(iota(3, 4), indices)` with `attrs`: (shape, values).
fn take(attrs: &[(&str, &str)], indices: HostTensor) -> crate::Result<(Vec<usize>, Vec<f64>)> {
    let op = create("take", attrs, None)?;
    let out = run(op.as_ref(), &mut [iota(&[3, 4]), indices], false)?.remove(0);
    Ok((out.shape().to_vec(), out.to_f64()))
}

#[test]
fn take_matches_mxnet() {
    // a = mx.nd.array(np.arange(12).reshape(3, 4)); i = mx.nd.array([[0, 2], [-1, 5]])
    // mx.nd.take(a, i, axis=.., mode=..)
    let i = || HostTensor::from_f32(&[2, 2], vec![0.0, 2.0, -1.0, 5.0]);
    let cases: [RefCase; 5] = [
        (
            &[],
            &[2, 2, 4],
            f64s(&[0, 1, 2, 3, 8, 9, 10, 11, 0, 1, 2, 3, 8, 9, 10, 11]),
        ),
        (
            &[("mode", "wrap")],
            &[2, 2, 4],
            f64s(&[0, 1, 2, 3, 8, 9, 10, 11, 8, 9, 10, 11, 8, 9, 10, 11]),
        ),
        (
            &[("axis", "1")],
            &[3, 2, 2],
            f64s(&[0, 2, 0, 3, 4, 6, 4, 7, 8, 10, 8, 11]),
        ),
        (
            &[("axis", "1"), ("mode", "wrap")],
            &[3, 2, 2],
            f64s(&[0, 2, 3, 1, 4, 6, 7, 5, 8, 10, 11, 9]),
        ),
        (
            &[("axis", "-1")],
            &[3, 2, 2],
            f64s(&[0, 2, 0, 3, 4, 6, 4, 7, 8, 10, 8, 11]),
        ),
    ];
    for (attrs, shape, values) in cases {
        let (s, v) = take(attrs, i()).unwrap_or_else(|e| panic!("{attrs:?}: {e}"));
        assert_eq!((s.as_slice(), v), (shape, values), "{attrs:?}");
    }
    // Fractional indices truncate: take(a, [-1.7, 2.9], axis=1, mode='wrap').
    let frac = HostTensor::from_f32(&[2], vec![-1.7, 2.9]);
    let (_, v) = take(&[("axis", "1"), ("mode", "wrap")], frac).unwrap();
    assert_eq!(v, f64s(&[3, 2, 7, 6, 11, 10]));
    // Integer indices; raise mode within range.
    let ints = HostTensor::from_vec(&[2], vec![0i32, 1]);
    let (_, v) = take(&[("mode", "raise")], ints).unwrap();
    assert_eq!(v, f64s(&[0, 1, 2, 3, 4, 5, 6, 7]));
}

#[test]
fn take_errors_name_the_op_and_argument() {
    let err = take(&[("mode", "raise")], HostTensor::from_f32(&[1], vec![-1.0]))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("take") && err.contains("out of bounds"),
        "{err}"
    );
    let err = create("take", &[("mode", "nearest")], None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("take") && err.contains("mode"), "{err}");
    let op = make_op("take", &[("axis", "2")]);
    let err = infer_shapes(op.as_ref(), &[Shape::known(&[3, 4]), Shape::known(&[2])])
        .unwrap_err()
        .to_string();
    assert!(err.contains("take") && err.contains("axis=2"), "{err}");
    let (_, out) = infer_shapes(
        op.as_ref(),
        &[Shape::known(&[3, 4, 5]), Shape::known(&[2, 1])],
    )
    .unwrap();
    assert_eq!(out[0], Shape::known(&[3, 4, 2, 1]));
}

#[test]
fn take_gradient_accumulates() {
    // a.attach_grad(); y = mx.nd.take(a, [0, 2, 0, -1], axis=0); y.backward(arange(16).reshape(4, 4))
    let back = make_op("_backward_take", &[]);
    let g = iota(&[4, 4]);
    let idx = HostTensor::from_f32(&[4], vec![0.0, 2.0, 0.0, -1.0]);
    let out = run(back.as_ref(), &mut [g, idx, iota(&[3, 4])], false).unwrap();
    assert_eq!(
        out[0].to_f64(),
        f64s(&[20, 23, 26, 29, 0, 0, 0, 0, 4, 5, 6, 7])
    );
    assert_eq!(out[1].to_f64(), vec![0.0; 4]);
    // axis=1, mode='wrap', indices [1, 5, -1], head gradient arange(9).reshape(3, 3)
    let back = make_op("_backward_take", &[("axis", "1"), ("mode", "wrap")]);
    let idx = HostTensor::from_f32(&[3], vec![1.0, 5.0, -1.0]);
    let out = run(
        back.as_ref(),
        &mut [iota(&[3, 3]), idx, iota(&[3, 4])],
        false,
    )
    .unwrap();
    assert_eq!(
        out[0].to_f64(),
        f64s(&[0, 1, 0, 2, 0, 7, 0, 5, 0, 13, 0, 8])
    );
    // Finite differences with respect to `a` (the indices held fixed).
    let op = make_op("take", &[("axis", "1")]);
    let a = uniform_f64(&[2, 3, 2], 7, -1.0, 1.0);
    let idx = HostTensor::from_vec(&[4], vec![2.0f64, 0.0, 2.0, 1.0]);
    check_gradient(
        &op,
        &[a, idx],
        &GradCheck {
            skip: vec![1],
            ..GradCheck::default()
        },
    )
    .unwrap();
}

/// On the GPU (clip mode), the gather and the scatter-add agree with the CPU.
#[test]
fn gpu_matches_cpu() {
    use crate::check::gpu::{compare_with_cpu, test_device};
    let dev = test_device().unwrap();
    let a = HostTensor::from_f32(&[2, 3, 2], (0..12).map(|i| i as f32 - 3.5).collect());
    let idx = HostTensor::from_vec(&[2, 2], vec![2i32, 0, 7, -1]);
    for axis in ["0", "1", "-1"] {
        let op = make_op("take", &[("axis", axis)]);
        compare_with_cpu(op.as_ref(), &dev, &[a.clone(), idx.clone()], true, 0.0, 0.0).unwrap();
        let y = run(op.as_ref(), &mut [a.clone(), idx.clone()], false)
            .unwrap()
            .remove(0);
        let g = HostTensor::from_f32(y.shape(), (0..y.size()).map(|i| i as f32 * 0.5).collect());
        let back = make_op("_backward_take", &[("axis", axis)]);
        compare_with_cpu(
            back.as_ref(),
            &dev,
            &[g, idx.clone(), a.clone()],
            true,
            1e-6,
            1e-6,
        )
        .unwrap();
    }
}
