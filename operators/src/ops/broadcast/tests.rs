use mxr_kernels::DType;

use crate::check::{GradCheck, HostTensor, check_gradient, gradients, infer_shapes, run};
use crate::ops::test_util::{added, assert_create_err, backward_graph, input, make_op, ograd};
use crate::registry::{Shape, create, lookup};

const OPS: [&str; 6] = [
    "broadcast_add",
    "broadcast_sub",
    "broadcast_mul",
    "broadcast_div",
    "broadcast_maximum",
    "broadcast_minimum",
];

fn values(shape: &[usize], seed: f64) -> HostTensor {
    let n: usize = shape.iter().product();
    let v: Vec<f64> = (0..n)
        .map(|i| (i as f64 * 0.61 + seed).sin() + 2.0 * seed)
        .collect();
    HostTensor::from_vec(shape, v)
}

#[test]
fn forward_hand_checked() {
    // (2, 3) ∘ (3,)
    let a = HostTensor::from_f32(&[2, 3], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    let b = HostTensor::from_f32(&[3], vec![10.0, 20.0, 40.0]);
    for (name, want) in [
        ("broadcast_add", [11.0, 22.0, 43.0, 14.0, 25.0, 46.0]),
        ("broadcast_sub", [-9.0, -18.0, -37.0, -6.0, -15.0, -34.0]),
        ("broadcast_mul", [10.0, 40.0, 120.0, 40.0, 100.0, 240.0]),
        ("broadcast_div", [0.1, 0.1, 0.075, 0.4, 0.25, 0.15]),
    ] {
        let op = make_op(name, &[]);
        let out = run(op.as_ref(), &mut [a.clone(), b.clone()], false).unwrap();
        assert_eq!(out[0].shape(), &[2, 3]);
        let got = out[0].to_f64();
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-6 * w.abs(), "{name}: {got:?}");
        }
    }
    // (3, 1) + (1, 2) → (3, 2)
    let op = make_op("broadcast_plus", &[]);
    let out = run(
        op.as_ref(),
        &mut [
            HostTensor::from_f32(&[3, 1], vec![1.0, 2.0, 3.0]),
            HostTensor::from_f32(&[1, 2], vec![10.0, 20.0]),
        ],
        false,
    )
    .unwrap();
    assert_eq!(out[0].shape(), &[3, 2]);
    assert_eq!(out[0].to_f64(), vec![11.0, 21.0, 12.0, 22.0, 13.0, 23.0]);
    // Equal shapes (the fast path) and integers.
    let op = make_op("broadcast_minus", &[]);
    assert_eq!(op.name(), "broadcast_sub");
    let out = run(
        op.as_ref(),
        &mut [
            HostTensor::from_vec(&[3], vec![5i32, 7, -1]),
            HostTensor::from_vec(&[3], vec![1i32, 9, -1]),
        ],
        false,
    )
    .unwrap();
    assert_eq!(out[0].dtype(), DType::I32);
    assert_eq!(out[0].to_f64(), vec![4.0, -2.0, 0.0]);
}

/// broadcast_maximum, broadcast_minimum and their gradients against MXNet 1.9.1 (`mx.nd`
/// and autograd): a NaN on either side wins; ties send the gradient to lhs, and rhs's gradient
/// sums over the broadcast rows.
#[test]
fn maximum_and_minimum_match_mxnet() {
    let nan = f32::NAN;
    let a = HostTensor::from_f32(&[2, 4], vec![1.0, nan, 3.0, 2.0, 0.0, 5.0, nan, -1.0]);
    let b = HostTensor::from_f32(&[1, 4], vec![2.0, 1.0, nan, 2.0]);
    let same = |got: Vec<f64>, want: &[f32], what: &str| {
        let eq = |g: f64, w: f64| g == w || (g.is_nan() && w.is_nan());
        let want: Vec<f64> = want.iter().map(|&w| f64::from(w)).collect();
        assert!(
            got.len() == want.len() && got.iter().zip(&want).all(|(&g, &w)| eq(g, w)),
            "{what}: {got:?} vs {want:?}"
        );
    };
    for (name, want) in [
        (
            "broadcast_maximum",
            [2.0, nan, nan, 2.0, 2.0, 5.0, nan, 2.0],
        ),
        (
            "broadcast_minimum",
            [1.0, nan, nan, 2.0, 0.0, 1.0, nan, -1.0],
        ),
    ] {
        let op = make_op(name, &[]);
        let out = run(op.as_ref(), &mut [a.clone(), b.clone()], false).unwrap();
        same(out[0].to_f64(), &want, name);
    }
    let x = HostTensor::from_f32(&[2, 4], vec![1.0, 2.0, 3.0, 2.0, 0.0, 5.0, 2.0, -1.0]);
    let y = HostTensor::from_f32(&[1, 4], vec![2.0, 1.0, 2.0, 2.0]);
    let g = HostTensor::from_f32(&[2, 4], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]);
    for (name, dx, dy) in [
        (
            "broadcast_maximum",
            [0.0, 2.0, 3.0, 4.0, 0.0, 6.0, 7.0, 0.0],
            [6.0, 0.0, 0.0, 8.0],
        ),
        (
            "broadcast_minimum",
            [1.0, 0.0, 0.0, 4.0, 5.0, 0.0, 7.0, 8.0],
            [0.0, 8.0, 3.0, 0.0],
        ),
    ] {
        let op = make_op(name, &[]);
        let grads = gradients(
            &op,
            &[x.clone(), y.clone()],
            std::slice::from_ref(&g),
            true,
            0,
        )
        .unwrap();
        same(grads[0].as_ref().unwrap().to_f64(), &dx, name);
        same(grads[1].as_ref().unwrap().to_f64(), &dy, name);
    }
}

#[test]
fn aliases() {
    assert_eq!(lookup("broadcast_plus").unwrap().name, "broadcast_add");
    assert_eq!(lookup("broadcast_minus").unwrap().name, "broadcast_sub");
    for name in OPS {
        assert_eq!(make_op(name, &[]).name(), name);
        let back = format!("_backward_{name}");
        assert_eq!(create(&back, &[], None).unwrap().name(), back);
    }
}

#[test]
fn shape_inference() {
    let op = make_op("broadcast_add", &[]);
    let s = |d: &[usize]| Shape::from_legacy(d);
    let infer = |a: Shape, b: Shape| infer_shapes(op.as_ref(), &[a, b]).map(|(_, o)| o[0].clone());
    // MXNet 1.9.1's examples.
    assert_eq!(
        infer(s(&[2, 1, 3]), s(&[1, 4, 1])).unwrap(),
        Shape::known(&[2, 4, 3])
    );
    assert_eq!(infer(s(&[2, 3]), s(&[3])).unwrap(), Shape::known(&[2, 3]));
    // Unknown dimensions: against a known d != 1 the result is d; against 1 it stays unknown.
    assert_eq!(
        infer(s(&[2, 0, 3]), s(&[4, 1])).unwrap(),
        Shape::known(&[2, 4, 3])
    );
    assert_eq!(
        infer(s(&[2, 1, 3]), s(&[0, 1])).unwrap(),
        Shape::partial(vec![Some(2), None, Some(3)])
    );
    // An unknown rank leaves the output unknown.
    assert_eq!(
        infer(s(&[2, 1, 3]), Shape::unknown()).unwrap(),
        Shape::unknown()
    );
    let err = infer(s(&[2, 3]), s(&[4])).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("broadcast_add") && msg.contains("lhs (2, 3)") && msg.contains("rhs (4,)"),
        "{msg}"
    );
    // The backward op takes its output shapes from lhs and rhs, and g from their broadcast.
    let back = make_op("_backward_broadcast_mul", &[]);
    let (ins, outs) = infer_shapes(
        back.as_ref(),
        &[Shape::unknown(), s(&[2, 1, 3]), s(&[4, 1])],
    )
    .unwrap();
    assert_eq!(ins[0], Shape::known(&[2, 4, 3]));
    assert_eq!(outs, vec![Shape::known(&[2, 1, 3]), Shape::known(&[4, 1])]);
    let err = infer_shapes(back.as_ref(), &[s(&[2, 3]), s(&[2, 1]), s(&[1, 4])]).unwrap_err();
    assert!(err.to_string().contains("_backward_broadcast_mul"), "{err}");
}

#[test]
fn gradients_match_finite_differences() {
    let pairs: [(&[usize], &[usize]); 6] = [
        (&[2, 3, 4], &[1, 3, 1]),
        (&[2, 3], &[3]),
        (&[3], &[2, 3]),
        (&[2, 1, 3], &[1, 4, 1]),
        (&[4], &[4]),
        (&[2, 2], &[1]),
    ];
    for (sa, sb) in pairs {
        let a = values(sa, 0.4);
        let b = values(sb, 1.3); // ≥ 1.6 − 1: away from 0 for div
        for name in OPS {
            let op = make_op(name, &[]);
            check_gradient(&op, &[a.clone(), b.clone()], &GradCheck::default())
                .unwrap_or_else(|e| panic!("{name} {sa:?} {sb:?}: {e}"));
        }
    }
}

#[test]
fn gradient_hand_checked_and_graph() {
    // MXNet's example: mul grad of b (1, 3) sums over rows.
    let op = make_op("broadcast_mul", &[]);
    let a = HostTensor::from_f32(&[2, 3], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    let b = HostTensor::from_f32(&[1, 3], vec![10.0, 20.0, 30.0]);
    let ones = HostTensor::from_f32(&[2, 3], vec![1.0; 6]);
    let g = gradients(&op, &[a, b], std::slice::from_ref(&ones), true, 0).unwrap();
    assert_eq!(g[0].as_ref().unwrap().shape(), &[2, 3]);
    assert_eq!(
        g[0].as_ref().unwrap().to_f64(),
        vec![10.0, 20.0, 30.0, 10.0, 20.0, 30.0]
    );
    assert_eq!(g[1].as_ref().unwrap().shape(), &[1, 3]);
    assert_eq!(g[1].as_ref().unwrap().to_f64(), vec![5.0, 7.0, 9.0]);
    // add to a (2, 1) and a (3,): sums over the broadcast axes.
    let op = make_op("broadcast_sub", &[]);
    let g = gradients(
        &op,
        &[
            HostTensor::from_f32(&[2, 1], vec![0.0; 2]),
            HostTensor::from_f32(&[3], vec![0.0; 3]),
        ],
        &[ones],
        true,
        0,
    )
    .unwrap();
    assert_eq!(g[0].as_ref().unwrap().to_f64(), vec![3.0, 3.0]);
    assert_eq!(g[1].as_ref().unwrap().to_f64(), vec![-2.0, -2.0, -2.0]);

    for name in OPS {
        let op = make_op(name, &[]);
        let (nodes, grads) = backward_graph(&op);
        assert_eq!(nodes.len(), 1);
        assert_eq!(nodes[0].op, format!("_backward_{name}"));
        assert_eq!(nodes[0].inputs, vec![ograd(0), input(0), input(1)]);
        assert_eq!(grads, vec![Some(added(0, 0)), Some(added(0, 1))]);
    }
    let add_back = make_op("_backward_broadcast_add", &[]);
    assert_eq!(add_back.ignore_inputs(), vec![1, 2]);
    let div_back = make_op("_backward_broadcast_div", &[]);
    assert!(div_back.ignore_inputs().is_empty());
}

#[test]
fn parameters_are_rejected() {
    assert_create_err(
        "broadcast_div",
        &[("axis", "1")],
        &["broadcast_div", "axis"],
    );
}

#[test]
fn gpu_matches_cpu() {
    use crate::check::gpu::{compare_with_cpu, test_device};
    use crate::ops::test_util::gpu_values;
    let dev = test_device().unwrap();
    let pairs: &[(&[usize], &[usize])] = &[
        (&[2, 1, 3], &[1, 4, 1]),
        (&[3, 5], &[5]),
        (&[5], &[3, 5]),
        (&[3, 5], &[3, 1]),
        (&[3, 5], &[]),
        (&[], &[4]),
        (&[4, 1, 7], &[4, 6, 1]),
        (&[2, 3, 4, 5], &[3, 1, 5]),
        (&[3, 4], &[3, 4]),
        (&[1], &[1]),
        (&[1], &[0]),
        (&[2, 3, 0], &[1, 3, 1]),
        (&[777, 3], &[3]),
    ];
    for (k, &(ls, rs)) in pairs.iter().enumerate() {
        let out = mxr_kernels::cpu::broadcast::broadcast_shape(ls, rs).unwrap();
        let t = |shape: &[usize], seed| {
            let n = shape.iter().product();
            HostTensor::from_f32(shape, gpu_values(n, seed, -2.0, 2.0, false))
        };
        let (l, r, g) = (
            t(ls, k as u64),
            t(rs, k as u64 + 40),
            t(&out, k as u64 + 80),
        );
        for name in OPS {
            let fwd = make_op(name, &[]);
            compare_with_cpu(fwd.as_ref(), &dev, &[l.clone(), r.clone()], true, 1e-6, 0.0)
                .unwrap_or_else(|e| panic!("{name} {ls:?} {rs:?}: {e}"));
            let back = create(&format!("_backward_{name}"), &[], None).unwrap();
            // The reductions sum in another order than the CPU's eight partial sums (up to 777
            // terms here): relative 1e-5 with a small absolute floor for sums near zero.
            compare_with_cpu(
                back.as_ref(),
                &dev,
                &[g.clone(), l.clone(), r.clone()],
                true,
                1e-5,
                1e-4,
            )
            .unwrap_or_else(|e| panic!("_backward_{name} {ls:?} {rs:?}: {e}"));
        }
    }
}
