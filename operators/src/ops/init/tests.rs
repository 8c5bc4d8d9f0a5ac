use crate::check::{GradCheck, HostTensor, check_gradient, run};
use crate::ops::test_util::{assert_create_err, make_op};
use crate::registry::lookup;

#[test]
fn fill_like_and_copy() {
    let x = HostTensor::from_f32(&[2, 2], vec![1.0, -2.0, 3.5, 0.0]);
    for (name, want) in [
        ("zeros_like", vec![0.0; 4]),
        ("ones_like", vec![1.0; 4]),
        ("_copy", vec![1.0, -2.0, 3.5, 0.0]),
    ] {
        let op = make_op(name, &[]);
        let out = run(op.as_ref(), &mut [x.clone()], false).unwrap();
        assert_eq!(out[0].shape(), &[2, 2]);
        assert_eq!(out[0].to_f64(), want, "{name}");
        check_gradient(&op, std::slice::from_ref(&x), &GradCheck::default()).unwrap();
    }
    assert_eq!(lookup("identity").unwrap().name, "_copy");
}

#[test]
fn samplers_are_seeded_and_in_range() {
    let op = make_op(
        "random_uniform",
        &[("low", "-2"), ("high", "3"), ("shape", "(100, 10)")],
    );
    let a = run(op.as_ref(), &mut [], false).unwrap();
    let b = run(op.as_ref(), &mut [], false).unwrap();
    assert_eq!(a, b, "same seed, same samples");
    assert_eq!(a[0].shape(), &[100, 10]);
    let v = a[0].to_f64();
    assert!(v.iter().all(|x| (-2.0..3.0).contains(x)));
    let mean = v.iter().sum::<f64>() / v.len() as f64;
    assert!((mean - 0.5).abs() < 0.2, "mean {mean}");

    let op = make_op(
        "_random_normal",
        &[
            ("loc", "1"),
            ("scale", "2"),
            ("shape", "(4000,)"),
            ("dtype", "float64"),
        ],
    );
    let n = run(op.as_ref(), &mut [], false).unwrap();
    assert_eq!(n[0].dtype(), mxr_kernels::DType::F64);
    let v = n[0].to_f64();
    let mean = v.iter().sum::<f64>() / v.len() as f64;
    let var = v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / v.len() as f64;
    assert!(
        (mean - 1.0).abs() < 0.15 && (var.sqrt() - 2.0).abs() < 0.15,
        "{mean} {var}"
    );
}

#[test]
fn bad_parameters_are_named() {
    assert_create_err("_random_uniform", &[("low", "2"), ("high", "1")], &["high"]);
    assert_create_err("_random_normal", &[("sigma", "1")], &["sigma", "scale"]);
    assert_create_err("zeros_like", &[("value", "1")], &["value"]);
}

#[test]
fn gpu_matches_cpu() {
    use crate::check::gpu::{compare_with_cpu, run_gpu_seeded, test_device};
    use crate::ops::test_util::{GPU_SHAPES, GpuCheck, gpu_values};
    use mxr_kernels::DType;
    let dev = test_device().unwrap();
    let gpu = GpuCheck::new(0.0, 0.0);
    for shape in GPU_SHAPES {
        let n: usize = shape.iter().product();
        let x = HostTensor::from_f32(shape, gpu_values(n, 1, -3.0, 3.0, true));
        for name in ["zeros_like", "ones_like", "_copy"] {
            let op = make_op(name, &[]);
            compare_with_cpu(op.as_ref(), &dev, std::slice::from_ref(&x), false, 0.0, 0.0)
                .unwrap_or_else(|e| panic!("{name} {shape:?}: {e}"));
        }
        // zeros_like and _copy move bytes: any dtype.
        let ints = HostTensor::from_f64_as(
            shape,
            &(0..n).map(|i| i as f64 - 5.0).collect::<Vec<_>>(),
            DType::I32,
        );
        for name in ["zeros_like", "_copy"] {
            let op = make_op(name, &[]);
            compare_with_cpu(
                op.as_ref(),
                &dev,
                std::slice::from_ref(&ints),
                false,
                0.0,
                0.0,
            )
            .unwrap_or_else(|e| panic!("{name} int32 {shape:?}: {e}"));
        }
        if n > 0 {
            let ones = make_op("ones_like", &[]);
            let err =
                run_gpu_seeded(ones.as_ref(), &dev, &mut [ints.clone()], false, 7).unwrap_err();
            assert!(err.to_string().contains("float32"), "{err}");
        }
    }
    // The samplers draw on the host in the CPU kernel's order: the same values for one seed.
    for (name, attrs) in [
        ("_random_uniform", vec![("low", "-2"), ("high", "3")]),
        ("_random_normal", vec![("loc", "1"), ("scale", "2")]),
    ] {
        for shape in ["(3, 5, 7)", "(1,)", "(0, 4)"] {
            let mut attrs = attrs.clone();
            attrs.push(("shape", shape));
            let op = make_op(name, &attrs);
            gpu.check(op.as_ref(), &[], &format!("{name} {shape}"));
        }
        let op = make_op(name, &[("shape", "(4,)"), ("dtype", "float64")]);
        let err = run_gpu_seeded(op.as_ref(), &dev, &mut [], true, 7).unwrap_err();
        assert!(err.to_string().contains("float32"), "{err}");
    }
}
