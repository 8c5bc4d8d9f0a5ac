use mxr_kernels::DType;

use crate::check::{GradCheck, HostTensor, check_gradient, gradients, infer_shapes, run};
use crate::ops::test_util::{iota, make_op, uniform_f64};
use crate::registry::{Shape, ShapeCtx, create, lookup};

fn t(shape: &[usize], v: &[f32]) -> HostTensor {
    HostTensor::from_f32(shape, v.to_vec())
}

fn apply(name: &str, attrs: &[(&str, &str)], x: &HostTensor) -> crate::Result<HostTensor> {
    let op = create(name, attrs, None)?;
    Ok(run(op.as_ref(), &mut [x.clone()], false)?.remove(0))
}

fn out_shape(name: &str, attrs: &[(&str, &str)], input: Shape) -> crate::Result<Shape> {
    let op = create(name, attrs, None)?;
    Ok(infer_shapes(op.as_ref(), &[input])?.1.remove(0))
}

#[test]
fn reduction_shapes_of_mxnet() {
    // MXNet 1.9.1, sum on (2, 3, 4).
    let x = Shape::known(&[2, 3, 4]);
    for (attrs, want) in [
        (vec![], vec![1]),
        (vec![("axis", "()")], vec![1]),
        (vec![("axis", "()"), ("exclude", "True")], vec![1]),
        (vec![("axis", "()"), ("keepdims", "True")], vec![1, 1, 1]),
        (vec![("axis", "1")], vec![2, 4]),
        (vec![("axis", "(0, 2)")], vec![3]),
        (vec![("axis", "(0, 2)"), ("exclude", "True")], vec![2, 4]),
        (
            vec![
                ("axis", "(0, 2)"),
                ("exclude", "True"),
                ("keepdims", "True"),
            ],
            vec![2, 1, 4],
        ),
        (
            vec![("axis", "1"), ("exclude", "True"), ("keepdims", "True")],
            vec![1, 3, 1],
        ),
        (vec![("axis", "(0, 1, 2)")], vec![1]),
        (
            vec![("axis", "(0, 1, 2)"), ("exclude", "True")],
            vec![2, 3, 4],
        ),
        (vec![("axis", "-1")], vec![2, 3]),
        (vec![("axis", "(2, 0)")], vec![3]),
        (vec![("keepdims", "True")], vec![1, 1, 1]),
    ] {
        for name in ["sum", "mean", "max", "min"] {
            assert_eq!(
                out_shape(name, &attrs, x.clone()).unwrap(),
                Shape::known(&want),
                "{name} {attrs:?}"
            );
        }
    }
    for (axis, needle) in [
        ("(1, 1)", "duplicates"),
        ("(1, -2)", "duplicates"),
        ("3", "out of range"),
        ("-4", "out of range"),
    ] {
        let err = out_shape("mean", &[("axis", axis)], x.clone())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("mean") && err.contains(needle),
            "{axis}: {err}"
        );
    }
    let err = create("max", &[("axis", "x")], None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("max") && err.contains("axis"), "{err}");
    let err = create("min", &[("axis", "1"), ("keep_dims", "1")], None)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("operator min") && err.contains("keep_dims"),
        "{err}"
    );
}

#[test]
fn partial_shapes_both_ways() {
    let a1 = [("axis", "1")];
    assert_eq!(
        out_shape("sum", &a1, Shape::from_legacy(&[2, 0, 4])).unwrap(),
        Shape::known(&[2, 4])
    );
    assert_eq!(
        out_shape("sum", &a1, Shape::from_legacy(&[0, 3, 4])).unwrap(),
        Shape::from_legacy(&[0, 4])
    );
    // Everything reduced: (1,) even with the input unknown.
    assert_eq!(
        out_shape("max", &[], Shape::unknown()).unwrap(),
        Shape::known(&[1])
    );
    assert_eq!(
        out_shape("max", &a1, Shape::unknown()).unwrap(),
        Shape::unknown()
    );
    // Backward: the kept axes from the output.
    for (attrs, out, want) in [
        (vec![("axis", "1")], vec![2, 4], vec![2, 0, 4]),
        (
            vec![("axis", "1"), ("keepdims", "True")],
            vec![2, 1, 4],
            vec![2, 0, 4],
        ),
        (
            vec![("axis", "1"), ("exclude", "True")],
            vec![3],
            vec![0, 3, 0],
        ),
    ] {
        let op = make_op("sum", &attrs);
        let names = op.input_names();
        let mut ins = vec![Shape::of_rank(3)];
        let mut outs = vec![Shape::known(&out)];
        op.infer_shape(&mut ShapeCtx::new("sum", &names, &mut ins, &mut outs))
            .unwrap();
        assert_eq!(ins[0], Shape::from_legacy(&want), "{attrs:?}");
    }
}

#[test]
fn values_by_hand() {
    let x = iota(&[2, 3, 4]); // x[i][j][k] = 12i + 4j + k
    // Σ_j = 36i + 12 + 3k.
    let s = apply("sum", &[("axis", "1")], &x).unwrap();
    assert_eq!(
        s.to_f64(),
        vec![12.0, 15.0, 18.0, 21.0, 48.0, 51.0, 54.0, 57.0]
    );
    let s = apply("sum_axis", &[("axis", "1"), ("keepdims", "True")], &x).unwrap();
    assert_eq!(s.shape(), &[2, 1, 4]);
    // Mean over i and k = 6 + 4j + 1.5.
    let m = apply("mean", &[("axis", "(0, 2)")], &x).unwrap();
    assert_eq!(m.to_f64(), vec![7.5, 11.5, 15.5]);
    let m = apply("mean", &[], &x).unwrap();
    assert_eq!(m.to_f64(), vec![11.5]);
    let mx = apply("max_axis", &[("axis", "1")], &x).unwrap();
    assert_eq!(
        mx.to_f64(),
        vec![8.0, 9.0, 10.0, 11.0, 20.0, 21.0, 22.0, 23.0]
    );
    // exclude: reduce every axis but 0.
    let mn = apply("min_axis", &[("axis", "0"), ("exclude", "True")], &x).unwrap();
    assert_eq!(mn.to_f64(), vec![0.0, 12.0]);
    let mn = apply("min", &[("axis", "(1, 2)"), ("exclude", "True")], &x).unwrap();
    assert_eq!(mn.to_f64(), (0..12).map(f64::from).collect::<Vec<_>>());
    // exclude every axis: nothing reduced (MXNet returns the input).
    let same = apply("sum", &[("axis", "(0, 1, 2)"), ("exclude", "True")], &x).unwrap();
    assert_eq!(same.to_f64(), x.to_f64());
    // NaN propagates through max/min (as in MXNet).
    let nan = t(&[4], &[1.0, f32::NAN, 2.0, 0.0]);
    assert!(apply("max", &[], &nan).unwrap().to_f64()[0].is_nan());
    assert!(apply("min", &[], &nan).unwrap().to_f64()[0].is_nan());
    // float64 in, float64 out.
    let d = apply("sum", &[], &x.cast(DType::F64)).unwrap();
    assert_eq!((d.dtype(), d.to_f64()), (DType::F64, vec![276.0]));
    // Integer inputs are not supported (yet): a clear error.
    let err = apply("sum", &[], &HostTensor::from_vec(&[2], vec![1i32, 2])).unwrap_err();
    assert!(err.to_string().contains("int32"), "{err}");
}

#[test]
fn gradients_match_finite_differences() {
    let x = uniform_f64(&[3, 4, 2], 11, -2.0, 2.0);
    for (name, attrs) in [
        ("sum", vec![("axis", "(0, 2)")]),
        ("sum", vec![]),
        ("mean", vec![("axis", "1"), ("keepdims", "True")]),
        ("mean", vec![]),
        ("mean", vec![("axis", "0"), ("exclude", "True")]),
        ("max", vec![("axis", "1")]),
        ("max", vec![]),
        ("min", vec![("axis", "(0, 2)"), ("keepdims", "True")]),
        ("min", vec![("axis", "-1")]),
    ] {
        let op = make_op(name, &attrs);
        check_gradient(&op, std::slice::from_ref(&x), &GradCheck::default())
            .unwrap_or_else(|e| panic!("{name} {attrs:?}: {e}"));
    }
}

#[test]
fn max_gradient_reaches_every_tie() {
    // MXNet 1.9.1: max over axis 1 of [[1, 3, 3], [2, 2, 0]], head [1, 10] ->
    // [[0, 1, 1], [10, 10, 0]].
    let op = make_op("max", &[("axis", "1")]);
    let x = t(&[2, 3], &[1.0, 3.0, 3.0, 2.0, 2.0, 0.0]);
    let g = gradients(&op, &[x], &[t(&[2], &[1.0, 10.0])], true, 0).unwrap();
    let g = g[0].as_ref().unwrap();
    assert_eq!(g.to_f64(), vec![0.0, 1.0, 1.0, 10.0, 10.0, 0.0]);
    // Mean divides by the count.
    let op = make_op("mean", &[("axis", "0")]);
    let g = gradients(&op, &[iota(&[4, 2])], &[t(&[2], &[4.0, 8.0])], true, 0).unwrap();
    assert_eq!(
        g[0].as_ref().unwrap().to_f64(),
        vec![1.0, 2.0, 1.0, 2.0, 1.0, 2.0, 1.0, 2.0]
    );
}

#[test]
fn backward_ops_are_registered() {
    for (name, inputs) in [
        ("_backward_sum", vec!["ograd", "data"]),
        ("_backward_mean", vec!["ograd", "data"]),
        ("_backward_max", vec!["ograd", "data", "output"]),
        ("_backward_min", vec!["ograd", "data", "output"]),
        ("_broadcast_backward", vec!["ograd", "data"]),
    ] {
        let def = lookup(name).unwrap();
        let attrs: &[(&str, &str)] = if name == "_broadcast_backward" {
            &[]
        } else {
            &[("axis", "1")]
        };
        let op = def.instantiate(attrs, None).unwrap();
        assert_eq!(op.input_names(), inputs, "{name}");
    }
    // _backward_sum on its own: the head gradient broadcast back.
    let op = make_op("_backward_sum", &[("axis", "1")]);
    let out = run(
        op.as_ref(),
        &mut [t(&[2], &[1.0, 2.0]), iota(&[2, 3])],
        false,
    )
    .unwrap();
    assert_eq!(out[0].to_f64(), vec![1.0, 1.0, 1.0, 2.0, 2.0, 2.0]);
}

#[test]
fn argmax_and_argmin() {
    // MXNet 1.9.1 on [[1, 5, 5], [7, 2, 7]]: the first extreme, as float32.
    let z = t(&[2, 3], &[1.0, 5.0, 5.0, 7.0, 2.0, 7.0]);
    for (attrs, shape, want) in [
        (vec![], vec![1], vec![3.0]),
        (vec![("axis", "1")], vec![2], vec![1.0, 0.0]),
        (vec![("axis", "0")], vec![3], vec![1.0, 0.0, 1.0]),
        (
            vec![("axis", "-1"), ("keepdims", "True")],
            vec![2, 1],
            vec![1.0, 0.0],
        ),
        (vec![("keepdims", "True")], vec![1, 1], vec![3.0]),
    ] {
        let out = apply("argmax", &attrs, &z).unwrap();
        assert_eq!(out.dtype(), DType::F32);
        assert_eq!((out.shape(), out.to_f64()), (&shape[..], want), "{attrs:?}");
    }
    let out = apply("argmin", &[("axis", "1")], &z).unwrap();
    assert_eq!(out.to_f64(), vec![0.0, 1.0]);
    // 1-D along its only axis: (1,).
    let out = apply("argmax", &[("axis", "0")], &t(&[3], &[0.0, 2.0, 1.0])).unwrap();
    assert_eq!((out.shape(), out.to_f64()), (&[1][..], vec![1.0]));
    // float64 input gives float64 indices (as MXNet).
    let out = apply("argmax", &[("axis", "1")], &z.cast(DType::F64)).unwrap();
    assert_eq!(out.dtype(), DType::F64);
    let err = apply("argmax", &[("axis", "2")], &z)
        .unwrap_err()
        .to_string();
    assert!(err.contains("argmax") && err.contains("axis 2"), "{err}");
    // The gradient is zero.
    let op = make_op("argmax", &[("axis", "1")]);
    let g = gradients(
        &op,
        std::slice::from_ref(&z),
        &[t(&[2], &[1.0, 1.0])],
        true,
        0,
    )
    .unwrap();
    assert_eq!(g[0].as_ref().unwrap().to_f64(), vec![0.0; 6]);
}

#[test]
fn broadcast_to_values_and_shapes() {
    let x = t(&[1, 3, 1], &[1.0, 2.0, 3.0]);
    for shape in ["(2, 3, 4)", "(2, 0, 4)"] {
        let out = apply("broadcast_to", &[("shape", shape)], &x).unwrap();
        assert_eq!(out.shape(), &[2, 3, 4]);
        let v = out.to_f64();
        assert_eq!(&v[..8], &[1.0, 1.0, 1.0, 1.0, 2.0, 2.0, 2.0, 2.0]);
        assert_eq!(&v[12..16], &[1.0; 4]);
    }
    // Any dtype.
    let ints = HostTensor::from_vec(&[2, 1], vec![7i32, -1]);
    let out = apply("broadcast_to", &[("shape", "(2, 3)")], &ints).unwrap();
    assert_eq!(out.to_f64(), vec![7.0, 7.0, 7.0, -1.0, -1.0, -1.0]);
    // MXNet 1.9.1's errors.
    let s = Shape::known(&[1, 3, 1]);
    let err = out_shape("broadcast_to", &[("shape", "(2, 2, 4)")], s.clone())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("broadcast_to") && err.contains("dimension 1 is 3"),
        "{err}"
    );
    let err = out_shape("broadcast_to", &[("shape", "(3, 4)")], s.clone())
        .unwrap_err()
        .to_string();
    assert!(err.contains("ranks differ"), "{err}");
    // Partial shapes.
    assert_eq!(
        out_shape(
            "broadcast_to",
            &[("shape", "(2, 0, 4)")],
            Shape::from_legacy(&[1, 0, 1])
        )
        .unwrap(),
        Shape::from_legacy(&[2, 0, 4])
    );
    assert_eq!(
        out_shape("broadcast_to", &[("shape", "(2, 3, 4)")], Shape::unknown()).unwrap(),
        Shape::known(&[2, 3, 4])
    );
    let op = make_op("broadcast_to", &[("shape", "(0, 5)")]);
    let names = op.input_names();
    let mut ins = vec![Shape::unknown()];
    let mut outs = vec![Shape::known(&[3, 5])];
    op.infer_shape(&mut ShapeCtx::new(
        "broadcast_to",
        &names,
        &mut ins,
        &mut outs,
    ))
    .unwrap();
    assert_eq!(ins[0], Shape::from_legacy(&[3, 0]));
}

#[test]
fn broadcast_to_gradient_sums() {
    // MXNet 1.9.1: [[1, 2], [3, 4]] as (2, 1, 2) broadcast to (2, 3, 2), head of ones -> 3s.
    let op = make_op("broadcast_to", &[("shape", "(2, 3, 2)")]);
    let g = gradients(
        &op,
        &[iota(&[2, 1, 2])],
        &[HostTensor::from_f32(&[2, 3, 2], vec![1.0; 12])],
        true,
        0,
    )
    .unwrap();
    assert_eq!(g[0].as_ref().unwrap().to_f64(), vec![3.0; 4]);
    for (shape, target) in [
        (vec![1, 3, 1], "(2, 3, 4)"),
        (vec![2, 1], "(2, 5)"),
        (vec![1], "(6,)"),
    ] {
        let op = make_op("broadcast_to", &[("shape", target)]);
        check_gradient(
            &op,
            &[uniform_f64(&shape, 13, -2.0, 2.0)],
            &GradCheck::default(),
        )
        .unwrap_or_else(|e| panic!("{shape:?} -> {target}: {e}"));
    }
}

/// Values with ties, NaN-free, of `shape` (deterministic).
fn wavy(shape: &[usize], seed: usize) -> HostTensor {
    let n: usize = shape.iter().product();
    HostTensor::from_f32(
        shape,
        (0..n)
            .map(|i| ((i * 7 + seed * 13) % 23) as f32 * 0.25 - 2.5)
            .collect(),
    )
}

/// Runs `name` with `attrs` on the GPU (or the emulator) and the CPU and compares.
fn gpu_check(name: &str, attrs: &[(&str, &str)], inputs: &[HostTensor], rtol: f64) {
    use crate::check::gpu::{compare_with_cpu, test_device};
    let dev = test_device().unwrap();
    let op = make_op(name, attrs);
    compare_with_cpu(op.as_ref(), &dev, inputs, true, rtol, 1e-6)
        .unwrap_or_else(|e| panic!("{name} {attrs:?} on {:?}: {e}", inputs[0].shape()));
}

/// A shape and the attributes to reduce it with.
type Case = (Vec<usize>, Vec<(&'static str, &'static str)>);

/// The reduction cases: shapes with odd, size-1 and empty axes, and axis parameters.
fn reduce_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for shape in [
        vec![7],
        vec![3, 5],
        vec![2, 1, 9, 4],
        vec![3, 0, 2],
        vec![1, 1],
    ] {
        cases.push((shape.clone(), vec![]));
        cases.push((shape.clone(), vec![("keepdims", "true")]));
        cases.push((shape.clone(), vec![("axis", "(0,)")]));
        cases.push((shape.clone(), vec![("axis", "-1"), ("keepdims", "true")]));
        if shape.len() >= 3 {
            cases.push((shape.clone(), vec![("axis", "(0, 2)")]));
            cases.push((
                shape.clone(),
                vec![("axis", "(1, -1)"), ("exclude", "true")],
            ));
            cases.push((shape.clone(), vec![("axis", "(1,)"), ("keepdims", "true")]));
        }
        if shape.len() >= 2 {
            cases.push((shape.clone(), vec![("axis", "(0,)"), ("exclude", "true")]));
        }
    }
    cases
}

/// Every reduction and its gradient agrees on the GPU (or the emulator) with the CPU kernel.
/// Sums are compared at 1e-5: both are Kahan-compensated, but the CPU sums in eight lanes.
#[test]
fn gpu_reductions_match_cpu() {
    for (shape, attrs) in reduce_cases() {
        let x = wavy(&shape, 1);
        for name in ["sum", "mean", "max", "min"] {
            gpu_check(name, &attrs, std::slice::from_ref(&x), 1e-5);
            let op = make_op(name, &attrs);
            let y = run(op.as_ref(), &mut [x.clone()], false).unwrap().remove(0);
            let g = wavy(y.shape(), 2);
            let back = format!("_backward_{name}");
            if name == "max" || name == "min" {
                gpu_check(&back, &attrs, &[g, x.clone(), y], 1e-6);
            } else {
                gpu_check(&back, &attrs, &[g, x.clone()], 1e-6);
            }
        }
    }
}

/// Long sums keep their accuracy (compensated on both sides) and NaN propagates through max/min.
#[test]
fn gpu_long_sums_and_nan() {
    let n = 100_003;
    let x = HostTensor::from_f32(
        &[3, n],
        (0..3 * n).map(|i| 0.1 + (i % 17) as f32 * 1e-3).collect(),
    );
    // Few outputs of long reductions take the two-pass path (partials, then their fold).
    for name in ["sum", "mean", "max", "min"] {
        gpu_check(name, &[("axis", "1")], std::slice::from_ref(&x), 1e-5);
        gpu_check(name, &[("axis", "0")], std::slice::from_ref(&x), 1e-6);
        gpu_check(name, &[], std::slice::from_ref(&x), 1e-5);
        gpu_check(
            name,
            &[("axis", "0"), ("exclude", "true")],
            std::slice::from_ref(&x),
            1e-5,
        );
    }
    let mut v = x.to_f64();
    v[2 * n + 777] = f64::NAN;
    v[5] = -3.0;
    v[n + 90_000] = 7.0;
    let x = HostTensor::from_f32(&[3, n], v.iter().map(|&e| e as f32).collect());
    for name in ["sum", "max", "min"] {
        gpu_check(name, &[("axis", "1")], std::slice::from_ref(&x), 1e-5);
        gpu_check(name, &[], std::slice::from_ref(&x), 1e-5);
    }
    let x = t(&[2, 3], &[1.0, f32::NAN, 0.5, -1.0, 2.0, f32::NAN]);
    for name in ["max", "min", "sum"] {
        gpu_check(name, &[("axis", "1")], std::slice::from_ref(&x), 1e-6);
        gpu_check(name, &[("axis", "0")], std::slice::from_ref(&x), 1e-6);
    }
}

/// argmax/argmin: first index on ties, NaN wins, every axis and the flattened array.
#[test]
fn gpu_arg_reductions_match_cpu() {
    let ties = t(&[2, 4], &[1.0, 3.0, 3.0, -1.0, 0.0, -2.0, -2.0, 0.0]);
    let nan = t(&[2, 3], &[1.0, f32::NAN, 5.0, f32::NAN, 0.0, f32::NAN]);
    let inputs = [
        ties,
        nan,
        wavy(&[3, 5, 7], 3),
        wavy(&[4, 1], 1),
        wavy(&[2, 0, 3], 0),
    ];
    for x in &inputs {
        for name in ["argmax", "argmin"] {
            let rank = x.shape().len() as i64;
            let mut attrs: Vec<Vec<(&str, String)>> = vec![vec![], vec![("keepdims", "1".into())]];
            for a in -rank..rank {
                attrs.push(vec![("axis", a.to_string())]);
                attrs.push(vec![("axis", a.to_string()), ("keepdims", "true".into())]);
            }
            for a in attrs {
                let a: Vec<(&str, &str)> = a.iter().map(|(k, v)| (*k, v.as_str())).collect();
                gpu_check(name, &a, std::slice::from_ref(x), 0.0);
            }
        }
    }
}

/// Long arg-reductions into few outputs (the two-pass path): ties across chunks keep the
/// first index, the first NaN wins, odd lengths.
#[test]
fn gpu_long_arg_reductions_match_cpu() {
    let n = 70_001;
    let mut v: Vec<f32> = (0..2 * n)
        .map(|i| ((i * 37) % 1001) as f32 * 0.01)
        .collect();
    v[n + 40_000] = 100.0;
    v[n + 65_000] = 100.0;
    v[n + 20_000] = -100.0;
    v[n + 60_000] = -100.0;
    let x = HostTensor::from_f32(&[2, n], v.clone());
    for name in ["argmax", "argmin"] {
        gpu_check(name, &[("axis", "1")], std::slice::from_ref(&x), 0.0);
        gpu_check(name, &[], std::slice::from_ref(&x), 0.0);
        gpu_check(
            name,
            &[("axis", "-1"), ("keepdims", "1")],
            std::slice::from_ref(&x),
            0.0,
        );
    }
    v[n + 50_000] = f32::NAN;
    v[n + 69_000] = f32::NAN;
    let x = HostTensor::from_f32(&[2, n], v);
    for name in ["argmax", "argmin"] {
        gpu_check(name, &[("axis", "1")], std::slice::from_ref(&x), 0.0);
        gpu_check(name, &[], std::slice::from_ref(&x), 0.0);
    }
}

/// broadcast_to and its gradient.
#[test]
fn gpu_broadcast_to_matches_cpu() {
    for (small, target) in [
        (vec![1usize, 3], "(4, 0)"),
        (vec![2, 1, 1], "(2, 5, 3)"),
        (vec![1, 1, 1, 7], "(3, 2, 1, 7)"),
        (vec![3, 1], "(3, 0)"),
        (vec![1, 2], "(0, 2)"),
        (vec![1], "(9,)"),
    ] {
        let x = wavy(&small, 4);
        gpu_check(
            "broadcast_to",
            &[("shape", target)],
            std::slice::from_ref(&x),
            0.0,
        );
        let op = make_op("broadcast_to", &[("shape", target)]);
        let y = run(op.as_ref(), &mut [x.clone()], false).unwrap().remove(0);
        let g = wavy(y.shape(), 5);
        gpu_check("_broadcast_backward", &[], &[g, x], 1e-6);
    }
    // broadcast_to moves elements of any dtype.
    let xi = HostTensor::from_vec(&[2, 1, 3], vec![1i32, -2, 3, 4, 5, -6]);
    gpu_check("broadcast_to", &[("shape", "(2, 4, 3)")], &[xi], 0.0);
    let xd = HostTensor::from_vec(&[1, 3], vec![1.5f64, -2.25, 1e300]);
    gpu_check("broadcast_to", &[("shape", "(5, 3)")], &[xd], 0.0);
    let xb = HostTensor::from_vec(&[3, 1], vec![1u8, 200, 7]);
    gpu_check("broadcast_to", &[("shape", "(3, 5)")], &[xb], 0.0);
}
