use crate::check::{GradCheck, HostTensor, check_gradient, run};
use crate::registry::{create, lookup};

#[test]
fn fill_like_and_copy() {
    let x = HostTensor::from_f32(&[2, 2], vec![1.0, -2.0, 3.5, 0.0]);
    for (name, want) in [
        ("zeros_like", vec![0.0; 4]),
        ("ones_like", vec![1.0; 4]),
        ("_copy", vec![1.0, -2.0, 3.5, 0.0]),
    ] {
        let op = create(name, &[], None).unwrap();
        let out = run(op.as_ref(), &mut [x.clone()], false).unwrap();
        assert_eq!(out[0].shape(), &[2, 2]);
        assert_eq!(out[0].to_f64(), want, "{name}");
        check_gradient(&op, std::slice::from_ref(&x), &GradCheck::default()).unwrap();
    }
    assert_eq!(lookup("identity").unwrap().name, "_copy");
}

#[test]
fn samplers_are_seeded_and_in_range() {
    let op = create(
        "random_uniform",
        &[("low", "-2"), ("high", "3"), ("shape", "(100, 10)")],
        None,
    )
    .unwrap();
    let a = run(op.as_ref(), &mut [], false).unwrap();
    let b = run(op.as_ref(), &mut [], false).unwrap();
    assert_eq!(a, b, "same seed, same samples");
    assert_eq!(a[0].shape(), &[100, 10]);
    let v = a[0].to_f64();
    assert!(v.iter().all(|x| (-2.0..3.0).contains(x)));
    let mean = v.iter().sum::<f64>() / v.len() as f64;
    assert!((mean - 0.5).abs() < 0.2, "mean {mean}");

    let op = create(
        "_random_normal",
        &[
            ("loc", "1"),
            ("scale", "2"),
            ("shape", "(4000,)"),
            ("dtype", "float64"),
        ],
        None,
    )
    .unwrap();
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
    let err = create("_random_uniform", &[("low", "2"), ("high", "1")], None).unwrap_err();
    assert!(err.to_string().contains("high"), "{err}");
    let err = create("_random_normal", &[("sigma", "1")], None).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("sigma") && msg.contains("scale"), "{msg}");
    let err = create("zeros_like", &[("value", "1")], None).unwrap_err();
    assert!(err.to_string().contains("value"), "{err}");
}
