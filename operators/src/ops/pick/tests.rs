use crate::check::gpu::{compare_with_cpu, test_device};
use crate::check::{
    GradCheck, HostTensor, check_gradient, gradients, infer_shapes, infer_types, run,
};
use crate::ops::test_util::{RefCase, backward_graph, input, make_op, ograd, uniform_f64};
use crate::registry::{Shape, create};
use mxr_kernels::DType;

/// `arange(24).reshape(2, 3, 4) * 0.5 - 3`.
fn data() -> HostTensor {
    HostTensor::from_f32(&[2, 3, 4], (0..24).map(|k| k as f32 * 0.5 - 3.0).collect())
}

/// The `(2, 4)` index of the axis-1 cases.
fn index_2x4() -> HostTensor {
    HostTensor::from_f32(&[2, 4], vec![0.0, 5.0, -1.0, 2.0, 1.0, 2.0, -7.0, 0.0])
}

fn pick(attrs: &[(&str, &str)], x: HostTensor, index: HostTensor) -> (Vec<usize>, Vec<f64>) {
    let op = make_op("pick", attrs);
    let out = run(op.as_ref(), &mut [x, index], false)
        .unwrap_or_else(|e| panic!("{attrs:?}: {e}"))
        .remove(0);
    (out.shape().to_vec(), out.to_f64())
}

#[test]
fn pick_matches_mxnet() {
    // x = mx.nd.array(np.arange(24).reshape(2,3,4) * 0.5 - 3)
    // i = mx.nd.array([[0,5,-1,2],[1,2,-7,0]]); mx.nd.pick(x, i, axis=.., mode=..)
    let cases: [RefCase; 3] = [
        (
            &[("axis", "1")],
            &[2, 4],
            vec![-3.0, 1.5, -2.0, 2.5, 5.0, 7.5, 4.0, 4.5],
        ),
        (
            &[("axis", "1"), ("mode", "wrap")],
            &[2, 4],
            vec![-3.0, 1.5, 2.0, 2.5, 5.0, 7.5, 8.0, 4.5],
        ),
        (
            &[("axis", "-2"), ("mode", "wrap")],
            &[2, 4],
            vec![-3.0, 1.5, 2.0, 2.5, 5.0, 7.5, 8.0, 4.5],
        ),
    ];
    for (attrs, shape, want) in cases {
        let (s, v) = pick(attrs, data(), index_2x4());
        assert_eq!((s.as_slice(), v), (shape, want), "{attrs:?}");
    }
    // mx.nd.pick(x, mx.nd.array([[[0],[5],[-1]],[[3],[2.7],[-0.5]]]), keepdims=True)
    let i = HostTensor::from_f32(&[2, 3, 1], vec![0.0, 5.0, -1.0, 3.0, 2.7, -0.5]);
    let (s, v) = pick(&[("keepdims", "1")], data(), i);
    assert_eq!(s, [2, 3, 1]);
    assert_eq!(v, [-3.0, 0.5, 1.0, 4.5, 6.0, 7.0]);
    // mx.nd.pick(x, mx.nd.array([[1,0,1,0],[0,0,1,1],[1,1,1,0]]), axis=0)
    let i0 = [1, 0, 1, 0, 0, 0, 1, 1, 1, 1, 1, 0];
    let i = HostTensor::from_f32(&[3, 4], i0.iter().map(|&v| v as f32).collect());
    let (s, v) = pick(&[("axis", "0")], data(), i);
    assert_eq!(s, [3, 4]);
    let want = [
        3.0, -2.5, 4.0, -1.5, -1.0, -0.5, 6.0, 6.5, 7.0, 7.5, 8.0, 2.5,
    ];
    assert_eq!(v, want);
    // Integer data and indices: mx.nd.pick(x.astype('int32'), i.astype('int64'), axis=0, mode='wrap')
    let xi: Vec<i32> = (0..24).map(|k| (k as f32 * 0.5 - 3.0) as i32).collect();
    let xi = HostTensor::from_vec(&[2, 3, 4], xi);
    let i = HostTensor::from_vec(&[3, 4], i0.iter().map(|&v| v as i64).collect());
    let op = make_op("pick", &[("axis", "0"), ("mode", "wrap")]);
    let out = run(op.as_ref(), &mut [xi, i], false).unwrap().remove(0);
    assert_eq!(out.dtype(), DType::I32);
    let want = [3, -2, 4, -1, -1, 0, 6, 6, 7, 7, 8, 2];
    assert_eq!(out.to_f64(), want.map(f64::from));
}

#[test]
fn pick_gradient_scatters_the_head_gradient() {
    // a.attach_grad(); y = mx.nd.pick(a, i, axis=1, mode='wrap')
    // y.backward(mx.nd.array(np.arange(8).reshape(2,4)+1)); a.grad
    let op = make_op("pick", &[("axis", "1"), ("mode", "wrap")]);
    let head = HostTensor::from_f32(&[2, 4], (1..=8).map(|v| v as f32).collect());
    let g = gradients(&op, &[data(), index_2x4()], &[head], true, 1).unwrap();
    let want = [
        1, 0, 0, 0, 0, 0, 0, 0, 0, 2, 3, 4, 0, 0, 0, 8, 5, 0, 0, 0, 0, 6, 7, 0,
    ];
    assert_eq!(g[0].as_ref().unwrap().to_f64(), want.map(f64::from));
    assert!(g[1].is_none(), "the index gets no gradient");
    // The graph: one _backward_pick on (ograd, index, data).
    let (nodes, grads) = backward_graph(&op);
    assert_eq!(nodes.len(), 1);
    assert_eq!(nodes[0].op, "_backward_pick");
    assert_eq!(nodes[0].inputs, [ograd(0), input(1), input(0)]);
    assert_eq!(grads.len(), 2);
    // Finite differences, keepdims and not, every axis.
    let x = uniform_f64(&[2, 3, 4], 3, -1.0, 1.0);
    for (axis, keep, ishape) in [
        ("0", "0", &[3usize, 4][..]),
        ("1", "1", &[2, 1, 4]),
        ("-1", "0", &[2, 3]),
    ] {
        let n: usize = ishape.iter().product();
        let idx: Vec<f64> = (0..n).map(|k| ((k * 5) % 7) as f64 - 2.0).collect();
        let idx = HostTensor::from_vec(ishape, idx);
        for mode in ["clip", "wrap"] {
            let op = make_op(
                "pick",
                &[("axis", axis), ("keepdims", keep), ("mode", mode)],
            );
            let opts = GradCheck {
                skip: vec![1],
                ..GradCheck::default()
            };
            check_gradient(&op, &[x.clone(), idx.clone()], &opts)
                .unwrap_or_else(|e| panic!("axis {axis} keepdims {keep} {mode}: {e}"));
        }
    }
}

#[test]
fn pick_shapes_in_both_directions() {
    let op = make_op("pick", &[("axis", "1")]);
    let (ins, out) =
        infer_shapes(op.as_ref(), &[Shape::known(&[2, 3, 4]), Shape::unknown()]).unwrap();
    assert_eq!(
        (&ins[1], &out[0]),
        (&Shape::known(&[2, 4]), &Shape::known(&[2, 4]))
    );
    // From the index back to the data (the picked axis stays unknown).
    let (ins, _) = infer_shapes(op.as_ref(), &[Shape::of_rank(3), Shape::known(&[2, 4])]).unwrap();
    assert_eq!(ins[0], Shape::partial(vec![Some(2), None, Some(4)]));
    // With keepdims the index may still be (2,) (what MXNet infers) or (2, 1):
    // mx.sym.pick(d, i, axis=-1, keepdims=True).infer_shape(d=(2, 3)) gives i (2,), out (2, 1).
    let keep = make_op("pick", &[("axis", "-1"), ("keepdims", "true")]);
    let (ins, out) =
        infer_shapes(keep.as_ref(), &[Shape::known(&[2, 3]), Shape::unknown()]).unwrap();
    assert_eq!(
        (&ins[1], &out[0]),
        (&Shape::known(&[2]), &Shape::known(&[2, 1]))
    );
    let (ins, out) = infer_shapes(
        keep.as_ref(),
        &[Shape::known(&[2, 3]), Shape::known(&[2, 1])],
    )
    .unwrap();
    assert_eq!(
        (&ins[1], &out[0]),
        (&Shape::known(&[2, 1]), &Shape::known(&[2, 1]))
    );
    let (ins, out) = infer_shapes(
        op.as_ref(),
        &[Shape::known(&[2, 3, 4]), Shape::known(&[2, 1, 4])],
    )
    .unwrap();
    assert_eq!(
        (&ins[1], &out[0]),
        (&Shape::known(&[2, 1, 4]), &Shape::known(&[2, 4]))
    );
    // x = mx.nd.arange(6).reshape((3, 2)); i = mx.nd.array([1, 0, 1])
    // mx.nd.pick(x, i, axis=-1, keepdims=True) = [[1], [2], [5]]; with i.reshape((3, 1)) and
    // keepdims=False: [1, 2, 5].
    let x = || HostTensor::from_f32(&[3, 2], (0..6).map(|v| v as f32).collect());
    let i = |shape: &[usize]| HostTensor::from_f32(shape, vec![1.0, 0.0, 1.0]);
    let kept = pick(&[("axis", "-1"), ("keepdims", "true")], x(), i(&[3]));
    assert_eq!(kept, (vec![3, 1], vec![1.0, 2.0, 5.0]));
    let dropped = pick(&[("axis", "-1")], x(), i(&[3, 1]));
    assert_eq!(dropped, (vec![3], vec![1.0, 2.0, 5.0]));
    // The output has the data's dtype; the index may have another.
    let (_, outs) = infer_types(op.as_ref(), &[Some(DType::F64), Some(DType::I32)]).unwrap();
    assert_eq!(outs[0], Some(DType::F64));
    // The backward op: d_data has data's shape.
    let back = make_op("_backward_pick", &[("axis", "1")]);
    let (_, out) = infer_shapes(
        back.as_ref(),
        &[Shape::unknown(), Shape::unknown(), Shape::known(&[2, 3, 4])],
    )
    .unwrap();
    assert_eq!(out[0], Shape::known(&[2, 3, 4]));
}

#[test]
fn pick_errors_name_the_op_and_argument() {
    let op = make_op("pick", &[("axis", "3")]);
    let err = infer_shapes(op.as_ref(), &[Shape::known(&[2, 3, 4]), Shape::unknown()])
        .unwrap_err()
        .to_string();
    assert!(err.contains("pick") && err.contains("axis=3"), "{err}");
    let op = make_op("pick", &[("axis", "1")]);
    let err = infer_shapes(op.as_ref(), &[Shape::known(&[2, 3, 4]), Shape::known(&[3])])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("pick") && err.contains("index") && err.contains("(2, 3, 4)"),
        "{err}"
    );
    let err = create("pick", &[("axis", "None")], None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("pick") && err.contains("axis"), "{err}");
    let err = create("pick", &[("mode", "raise")], None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("pick") && err.contains("mode"), "{err}");
    let err = create("_backward_pick", &[("mode", "raise")], None)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("_backward_pick") && err.contains("mode"),
        "{err}"
    );
    // An index of the wrong size reaching the kernel, and an empty axis.
    let err = run(
        op.as_ref(),
        &mut [data(), HostTensor::from_f32(&[3], vec![0.0; 3])],
        false,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("pick") && err.contains("index"), "{err}");
    let empty = HostTensor::from_f32(&[2, 0, 4], Vec::new());
    let err = run(
        op.as_ref(),
        &mut [empty, HostTensor::from_f32(&[2, 4], vec![0.0; 8])],
        false,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("pick") && err.contains("empty"), "{err}");
}

/// On the GPU (float32 data, indices of several dtypes) both directions agree with the CPU.
#[test]
fn gpu_matches_cpu() {
    let dev = test_device().unwrap();
    let x = data();
    let idx = [0i64, 5, -1, 2, 1, 2, -7, 0];
    let indices = [
        index_2x4(),
        HostTensor::from_vec(&[2, 4], idx.to_vec()),
        HostTensor::from_vec(&[2, 4], idx.map(|v| v as i32).to_vec()),
        HostTensor::from_vec(&[2, 4], idx.map(|v| v as f64 + 0.5).to_vec()),
    ];
    for i in indices {
        for mode in ["clip", "wrap"] {
            let attrs = [("axis", "1"), ("mode", mode)];
            let op = make_op("pick", &attrs);
            compare_with_cpu(op.as_ref(), &dev, &[x.clone(), i.clone()], true, 0.0, 0.0).unwrap();
            let g = HostTensor::from_f32(&[2, 4], (0..8).map(|v| v as f32 - 2.5).collect());
            let back = make_op("_backward_pick", &attrs);
            let ins = [g, i.clone(), x.clone()];
            compare_with_cpu(back.as_ref(), &dev, &ins, true, 0.0, 0.0).unwrap();
        }
    }
    // keepdims along the last axis, and empty lanes.
    let op = make_op("pick", &[("keepdims", "1")]);
    let i = HostTensor::from_f32(&[2, 3, 1], vec![0.0, 5.0, -1.0, 3.0, 2.7, -0.5]);
    compare_with_cpu(op.as_ref(), &dev, &[x, i], true, 0.0, 0.0).unwrap();
    let empty = HostTensor::from_f32(&[0, 3], Vec::new());
    let op = make_op("pick", &[]);
    let none = HostTensor::from_f32(&[0], Vec::new());
    compare_with_cpu(op.as_ref(), &dev, &[empty, none], true, 0.0, 0.0).unwrap();
}
