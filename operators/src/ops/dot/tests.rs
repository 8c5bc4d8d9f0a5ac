use mxr_kernels::DType;

use crate::check::{GradCheck, HostTensor, check_gradient, infer_shapes, run};
use crate::ops::test_util::{assert_close, make_op, xorshift_f32, xorshift_values};
use crate::registry::{Shape, create, lookup};

fn t64(shape: &[usize], seed: u64) -> HostTensor {
    HostTensor::from_f64_as(
        shape,
        &xorshift_values(shape.iter().product(), seed, -1.0, 1.0),
        DType::F64,
    )
}

fn dot_op(ta: bool, tb: bool) -> crate::registry::OpRef {
    let (a, b) = (
        if ta { "True" } else { "False" },
        if tb { "True" } else { "False" },
    );
    make_op("dot", &[("transpose_a", a), ("transpose_b", b)])
}

fn run1(op: &crate::registry::OpRef, a: HostTensor, b: HostTensor) -> HostTensor {
    run(op.as_ref(), &mut [a, b], false).unwrap().remove(0)
}

#[test]
fn two_d_products_by_hand() {
    let a = HostTensor::from_f32(&[2, 2], vec![1.0, 2.0, 3.0, 4.0]);
    let b = HostTensor::from_f32(&[2, 2], vec![5.0, 6.0, 7.0, 8.0]);
    for (ta, tb, want) in [
        (false, false, [19.0, 22.0, 43.0, 50.0]),
        (true, false, [26.0, 30.0, 38.0, 44.0]),
        (false, true, [17.0, 23.0, 39.0, 53.0]),
        (true, true, [23.0, 31.0, 34.0, 46.0]),
    ] {
        let out = run1(&dot_op(ta, tb), a.clone(), b.clone());
        assert_eq!(out.shape(), &[2, 2]);
        assert_eq!(out.to_f64(), want, "transpose_a={ta} transpose_b={tb}");
    }
    // Non-square: (2, 3) · (3, 1).
    let a = HostTensor::from_f32(&[2, 3], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    let b = HostTensor::from_f32(&[3, 1], vec![1.0, 0.0, -1.0]);
    let out = run1(&dot_op(false, false), a, b);
    assert_eq!((out.shape(), out.to_f64()), (&[2, 1][..], vec![-2.0, -2.0]));
}

#[test]
fn vectors() {
    let a = HostTensor::from_f32(&[3], vec![1.0, 2.0, 3.0]);
    let b = HostTensor::from_f32(&[3], vec![4.0, 5.0, 6.0]);
    let out = run1(&dot_op(false, false), a.clone(), b.clone());
    assert_eq!((out.shape(), out.to_f64()), (&[1][..], vec![32.0]));
    let err = run(dot_op(true, false).as_ref(), &mut [a.clone(), b], false).unwrap_err();
    assert!(
        err.to_string().contains("cannot transpose vectors"),
        "{err}"
    );
    // Vector · matrix and matrix · vector (MXNet: (3,)·(3,4) → (4,), (2,3)·(3,) → (2,)).
    let m = HostTensor::from_f32(&[3, 2], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    let out = run1(&dot_op(false, false), a.clone(), m.clone());
    assert_eq!((out.shape(), out.to_f64()), (&[2][..], vec![22.0, 28.0]));
    let out = run1(&dot_op(true, false), a.clone(), m.clone());
    assert_eq!(out.to_f64(), vec![22.0, 28.0]);
    let mt = HostTensor::from_f32(&[2, 3], vec![1.0, 3.0, 5.0, 2.0, 4.0, 6.0]);
    let out = run1(&dot_op(false, false), mt.clone(), a.clone());
    assert_eq!((out.shape(), out.to_f64()), (&[2][..], vec![22.0, 28.0]));
    let out = run1(&dot_op(false, true), a, mt);
    assert_eq!(out.to_f64(), vec![22.0, 28.0]);
}

/// The `rows × cols` product, row-major, of factors `a(i, k)` and `b(k, j)` summed over
/// `k < inner` in order.
fn explicit_sums(
    (rows, cols, inner): (usize, usize, usize),
    a: impl Fn(usize, usize) -> f64,
    b: impl Fn(usize, usize) -> f64,
) -> Vec<f64> {
    (0..rows * cols)
        .map(|p| (0..inner).map(|k| a(p / cols, k) * b(k, p % cols)).sum())
        .collect()
}

#[test]
fn n_d_products_match_explicit_sums() {
    // (2,3,4) · (4,5) → (2,3,5).
    let (a, b) = (t64(&[2, 3, 4], 1), t64(&[4, 5], 2));
    let out = run1(&dot_op(false, false), a.clone(), b.clone());
    assert_eq!(out.shape(), &[2, 3, 5]);
    let (av, bv) = (a.to_f64(), b.to_f64());
    let want = explicit_sums((6, 5, 4), |i, k| av[i * 4 + k], |k, l| bv[k * 5 + l]);
    assert_close(&out.to_f64(), &want, 1e-10, 1e-10);

    // transpose_a: (4,2,3) contracts its first axis with (4,5) → (2,3,5).
    let a = t64(&[4, 2, 3], 3);
    let out = run1(&dot_op(true, false), a.clone(), b.clone());
    assert_eq!(out.shape(), &[2, 3, 5]);
    let av = a.to_f64();
    let want = explicit_sums((6, 5, 4), |i, k| av[k * 6 + i], |k, l| bv[k * 5 + l]);
    assert_close(&out.to_f64(), &want, 1e-10, 1e-10);

    // transpose_b: (2,3,4) · (6,5,4) contracts both last axes → (2,3,6,5).
    let (a, b) = (t64(&[2, 3, 4], 4), t64(&[6, 5, 4], 5));
    let out = run1(&dot_op(false, true), a.clone(), b.clone());
    assert_eq!(out.shape(), &[2, 3, 6, 5]);
    let (av, bv) = (a.to_f64(), b.to_f64());
    let want = explicit_sums((6, 30, 4), |i, k| av[i * 4 + k], |k, p| bv[p * 4 + k]);
    assert_close(&out.to_f64(), &want, 1e-10, 1e-10);

    // (2,3,4) · (4,5,6) → (2,3,5,6).
    let (a, b) = (t64(&[2, 3, 4], 6), t64(&[4, 5, 6], 7));
    let out = run1(&dot_op(false, false), a.clone(), b.clone());
    assert_eq!(out.shape(), &[2, 3, 5, 6]);
    let (av, bv) = (a.to_f64(), b.to_f64());
    let want = explicit_sums((6, 30, 4), |i, k| av[i * 4 + k], |k, p| bv[k * 30 + p]);
    assert_close(&out.to_f64(), &want, 1e-10, 1e-10);

    // f32 agrees with f64.
    let out32 = run1(
        &dot_op(false, false),
        a.cast(DType::F32),
        b.cast(DType::F32),
    );
    assert_eq!(out32.dtype(), DType::F32);
    for (x, y) in out32.to_f64().iter().zip(&want) {
        assert!((x - y).abs() < 1e-5, "{x} vs {y}");
    }
}

#[test]
fn shape_inference() {
    let op = dot_op(false, false);
    let (ins, outs) = infer_shapes(
        op.as_ref(),
        &[Shape::from_legacy(&[0, 4]), Shape::known(&[4, 5])],
    )
    .unwrap();
    assert_eq!(ins[0], Shape::from_legacy(&[0, 4]));
    assert_eq!(outs[0], Shape::from_legacy(&[0, 5]));
    // The contracted axis fills in from the other side.
    let (ins, outs) = infer_shapes(
        op.as_ref(),
        &[Shape::from_legacy(&[3, 0]), Shape::known(&[4, 5])],
    )
    .unwrap();
    assert_eq!(ins[0], Shape::known(&[3, 4]));
    assert_eq!(outs[0], Shape::known(&[3, 5]));
    // Unknown rank: nothing to say yet.
    let (_, outs) = infer_shapes(op.as_ref(), &[Shape::unknown(), Shape::known(&[4, 5])]).unwrap();
    assert_eq!(outs[0], Shape::unknown());
    // transpose_b on N-D.
    let (_, outs) = infer_shapes(
        dot_op(false, true).as_ref(),
        &[Shape::known(&[2, 3, 4]), Shape::known(&[6, 5, 4])],
    )
    .unwrap();
    assert_eq!(outs[0], Shape::known(&[2, 3, 6, 5]));

    let err = infer_shapes(op.as_ref(), &[Shape::known(&[2, 3]), Shape::known(&[4, 5])])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("dot") && err.contains("lhs has 3, rhs has 4") && err.contains("(4, 5)"),
        "{err}"
    );
}

#[test]
fn gradients() {
    let opts = GradCheck::default();
    for (ta, tb, ls, rs) in [
        (false, false, vec![3, 4], vec![4, 5]),
        (true, false, vec![4, 3], vec![4, 5]),
        (false, true, vec![3, 4], vec![5, 4]),
        (true, true, vec![4, 3], vec![5, 4]),
        (false, false, vec![2, 3, 4], vec![4, 2, 2]),
        (true, true, vec![4, 2, 3], vec![2, 3, 4]),
        (false, false, vec![4], vec![4]),
        (false, false, vec![4], vec![4, 3]),
        (true, false, vec![4], vec![4, 3]),
        (false, false, vec![2, 4], vec![4]),
    ] {
        check_gradient(&dot_op(ta, tb), &[t64(&ls, 8), t64(&rs, 9)], &opts)
            .unwrap_or_else(|e| panic!("ta={ta} tb={tb} {ls:?}·{rs:?}: {e}"));
    }
}

#[test]
fn backward_op_by_name() {
    let op = make_op("_backward_dot", &[]);
    assert_eq!(op.input_names(), ["ograd", "lhs", "rhs"]);
    // g = ones(2,2): dA = g·Bᵀ (row sums of B), dB = Aᵀ·g (row sums of Aᵀ = column sums of A).
    let g = HostTensor::from_f32(&[2, 2], vec![1.0; 4]);
    let a = HostTensor::from_f32(&[2, 2], vec![1.0, 2.0, 3.0, 4.0]);
    let b = HostTensor::from_f32(&[2, 2], vec![5.0, 6.0, 7.0, 8.0]);
    let out = run(op.as_ref(), &mut [g, a, b], false).unwrap();
    assert_eq!(out[0].to_f64(), vec![11.0, 15.0, 11.0, 15.0]);
    assert_eq!(out[1].to_f64(), vec![4.0, 4.0, 6.0, 6.0]);
}

fn batch_op(ta: bool, tb: bool) -> crate::registry::OpRef {
    let (a, b) = (
        if ta { "True" } else { "False" },
        if tb { "True" } else { "False" },
    );
    make_op("batch_dot", &[("transpose_a", a), ("transpose_b", b)])
}

#[test]
fn batch_dot_forward_shapes_and_gradients() {
    // Each batch is an independent product, with the transposes applied to its last two axes.
    let (b, m, k, n) = (3, 2, 4, 5);
    for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
        let ls = if ta { [b, k, m] } else { [b, m, k] };
        let rs = if tb { [b, n, k] } else { [b, k, n] };
        let (x, y) = (t64(&ls, 10), t64(&rs, 11));
        let out = run1(&batch_op(ta, tb), x.clone(), y.clone());
        assert_eq!(out.shape(), &[b, m, n]);
        let (xv, yv) = (x.to_f64(), y.to_f64());
        let mut want = vec![0.0; b * m * n];
        for p in 0..b {
            for i in 0..m {
                for j in 0..n {
                    want[(p * m + i) * n + j] = (0..k)
                        .map(|q| {
                            let xe = if ta {
                                xv[(p * k + q) * m + i]
                            } else {
                                xv[(p * m + i) * k + q]
                            };
                            let ye = if tb {
                                yv[(p * n + j) * k + q]
                            } else {
                                yv[(p * k + q) * n + j]
                            };
                            xe * ye
                        })
                        .sum();
                }
            }
        }
        assert_close(&out.to_f64(), &want, 1e-10, 1e-10);
        check_gradient(&batch_op(ta, tb), &[x, y], &GradCheck::default())
            .unwrap_or_else(|e| panic!("batch_dot ta={ta} tb={tb}: {e}"));
    }
    // 4-D: two leading axes.
    let out = run1(
        &batch_op(false, false),
        t64(&[2, 2, 3, 4], 1),
        t64(&[2, 2, 4, 5], 2),
    );
    assert_eq!(out.shape(), &[2, 2, 3, 5]);
    check_gradient(
        &batch_op(false, true),
        &[t64(&[2, 2, 3, 4], 1), t64(&[2, 2, 5, 4], 2)],
        &GradCheck::default(),
    )
    .unwrap();
}

#[test]
fn batch_dot_shape_inference_and_errors() {
    let op = batch_op(false, false);
    let (ins, outs) = infer_shapes(
        op.as_ref(),
        &[
            Shape::from_legacy(&[0, 3, 4]),
            Shape::from_legacy(&[2, 0, 5]),
        ],
    )
    .unwrap();
    assert_eq!(ins[0], Shape::known(&[2, 3, 4]));
    assert_eq!(ins[1], Shape::known(&[2, 4, 5]));
    assert_eq!(outs[0], Shape::known(&[2, 3, 5]));

    let err = infer_shapes(
        op.as_ref(),
        &[Shape::known(&[2, 3, 4]), Shape::known(&[3, 4, 5])],
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("batch_dot") && err.contains("leading batch axes"),
        "{err}"
    );
    let err = infer_shapes(op.as_ref(), &[Shape::known(&[3, 4]), Shape::known(&[4, 5])])
        .unwrap_err()
        .to_string();
    assert!(err.contains("at least 3"), "{err}");
    let err = infer_shapes(
        op.as_ref(),
        &[Shape::known(&[2, 3, 4]), Shape::known(&[2, 3, 5])],
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("lhs has 4, rhs has 3"), "{err}");
}

#[test]
fn names_aliases_and_parameters() {
    assert_eq!(lookup("_sparse_dot").unwrap().name, "dot");
    assert_eq!(lookup("_npx_batch_dot").unwrap().name, "batch_dot");
    assert!(lookup("_backward_dot").unwrap().is_backward());
    let op = make_op(
        "dot",
        &[("transpose_b", "True"), ("forward_stype", "default")],
    );
    assert_eq!(
        op.attrs(),
        vec![
            ("transpose_b".to_string(), "True".to_string()),
            ("forward_stype".to_string(), "default".to_string())
        ]
    );
    let err = create("dot", &[("forward_stype", "csr")], None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("dot") && err.contains("csr"), "{err}");
    let err = create("batch_dot", &[("transpose_c", "True")], None)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("batch_dot") && err.contains("transpose_c"),
        "{err}"
    );
    let err = create("dot", &[("transpose_a", "yes")], None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("transpose_a"), "{err}");
}

#[test]
fn gpu_matches_cpu() {
    use crate::ops::test_util::GpuCheck;
    let gpu = GpuCheck::new(1e-5, 1e-5);
    // (op, lhs as stored untransposed, rhs as stored untransposed): the transposed cases swap
    // the matrix axes of the stored operand.
    let cases: &[(&str, &[usize], &[usize])] = &[
        ("dot", &[3, 4], &[4, 5]),
        ("dot", &[2, 3, 4], &[4, 5]),
        ("dot", &[3, 4], &[4, 2, 3]),
        ("dot", &[7], &[7]),
        ("dot", &[4], &[4, 5]),
        ("dot", &[3, 4], &[4]),
        ("dot", &[1, 1], &[1, 1]),
        ("dot", &[3, 0], &[0, 5]),
        ("dot", &[0, 4], &[4, 5]),
        ("batch_dot", &[2, 3, 4], &[2, 4, 5]),
        ("batch_dot", &[2, 3, 1, 6], &[2, 3, 6, 2]),
        ("batch_dot", &[3, 5, 0], &[3, 0, 2]),
    ];
    for &(name, l, r) in cases {
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            let vector = l.len() == 1 && r.len() == 1;
            if vector && (ta || tb) {
                continue;
            }
            // Stored shapes: a transposed dot operand has its contracted axis moved to the
            // other end; a batch_dot one its last two axes swapped.
            let stored = |s: &[usize], t: bool, lhs: bool| -> Vec<usize> {
                let mut s = s.to_vec();
                if !t || s.len() < 2 {
                    return s;
                }
                if name == "batch_dot" {
                    let n = s.len();
                    s.swap(n - 1, n - 2);
                } else if lhs {
                    s.rotate_right(1);
                } else {
                    s.rotate_left(1);
                }
                s
            };
            let (ls, rs) = (stored(l, ta, true), stored(r, tb, false));
            let attrs = [
                ("transpose_a", if ta { "true" } else { "false" }),
                ("transpose_b", if tb { "true" } else { "false" }),
            ];
            let what = format!("{name} {ls:?}·{rs:?} ta={ta} tb={tb}");
            let op = make_op(name, &attrs);
            let ins = vec![
                xorshift_f32(&ls, 1, -1.0, 1.0),
                xorshift_f32(&rs, 2, -1.0, 1.0),
            ];
            // GEMM sums may be ordered differently on cuBLAS.
            gpu.check(op.as_ref(), &ins, &what);
            if name == "dot" {
                let y = run(op.as_ref(), &mut ins.clone(), true).unwrap().remove(0);
                let g = xorshift_f32(y.shape(), 3, -1.0, 1.0);
                let back = make_op("_backward_dot", &attrs);
                let ins = [g, ins[0].clone(), ins[1].clone()];
                gpu.check(back.as_ref(), &ins, &format!("backward {what}"));
            }
        }
    }
}
