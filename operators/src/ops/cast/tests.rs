use half::f16;
use mxr_kernels::DType;

use crate::check::{GradCheck, HostTensor, check_gradient, run};
use crate::ops::test_util::{make_op, uniform_f64};
use crate::registry::{TypeCtx, create, lookup};

/// `Cast` of `x` to `dtype`: the output's dtype and values.
fn cast_to(x: &HostTensor, dtype: &str) -> (DType, Vec<f64>) {
    let op = make_op("Cast", &[("dtype", dtype)]);
    let out = run(op.as_ref(), &mut [x.clone()], false)
        .unwrap_or_else(|e| panic!("{dtype}: {e}"))
        .remove(0);
    (out.dtype(), out.to_f64())
}

#[test]
fn cast_matches_mxnet() {
    // x = mx.nd.array([-1.7, 2.5, 7.9, -0.2, 200.6], dtype='float32'); mx.nd.Cast(x, dtype=d)
    let x = HostTensor::from_f32(&[5], vec![-1.7, 2.5, 7.9, -0.2, 200.6]);
    assert_eq!(
        cast_to(&x, "int32"),
        (DType::I32, vec![-1.0, 2.0, 7.0, 0.0, 200.0])
    );
    assert_eq!(
        cast_to(&x, "uint8"),
        (DType::U8, vec![255.0, 2.0, 7.0, 0.0, 200.0])
    );
    assert_eq!(
        cast_to(&x, "int8"),
        (DType::I8, vec![-1.0, 2.0, 7.0, 0.0, -56.0])
    );
    let (d, v) = cast_to(&x, "float64");
    assert_eq!(d, DType::F64);
    assert_eq!(v[0], f64::from(-1.7f32));
    // y = mx.nd.array([-1, 300, 128, -129], dtype='int32')
    let y = HostTensor::from_vec(&[4], vec![-1i32, 300, 128, -129]);
    assert_eq!(
        cast_to(&y, "uint8"),
        (DType::U8, vec![255.0, 44.0, 128.0, 127.0])
    );
    assert_eq!(
        cast_to(&y, "int8"),
        (DType::I8, vec![-1.0, 44.0, -128.0, 127.0])
    );
    assert_eq!(
        cast_to(&y, "int64"),
        (DType::I64, vec![-1.0, 300.0, 128.0, -129.0])
    );
    assert_eq!(
        cast_to(&y, "float32"),
        (DType::F32, vec![-1.0, 300.0, 128.0, -129.0])
    );
    assert_eq!(lookup("cast").unwrap().name, "Cast");
}

#[test]
fn cast_types_and_errors() {
    let op = make_op("Cast", &[("dtype", "int64")]);
    let names = op.input_names();
    let mut ins = vec![Some(DType::F32)];
    let mut outs = vec![None];
    op.infer_type(&mut TypeCtx::new("Cast", &names, &mut ins, &mut outs))
        .unwrap();
    assert_eq!(outs[0], Some(DType::I64));
    for (dtype, needle) in [("bool", "dtype=bool"), ("float", "dtype")] {
        let err = create("Cast", &[("dtype", dtype)], None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("Cast") && err.contains(needle), "{err}");
    }
    let err = create("Cast", &[], None).unwrap_err().to_string();
    assert!(err.contains("Cast") && err.contains("dtype"), "{err}");
}

#[test]
fn cast_to_and_from_float16_matches_mxnet() {
    // x = mx.nd.array([1.0, 0.1, 65504, 70000, -2.5e-8, 3.15, -7.75, 1e-5])
    // h = mx.nd.Cast(x, dtype='float16'): h and mx.nd.Cast(h, dtype='float32') both give
    let want = [
        1.0,
        0.0999755859375,
        65504.0,
        f64::INFINITY,
        -0.0,
        3.150390625,
        -7.75,
        1.0013580322265625e-05,
    ];
    let x = HostTensor::from_f32(
        &[8],
        vec![1.0, 0.1, 65504.0, 70000.0, -2.5e-8, 3.15, -7.75, 1e-5],
    );
    assert_eq!(cast_to(&x, "float16"), (DType::F16, want.to_vec()));
    let h = HostTensor::from_vec(&[8], want.map(f16::from_f64).to_vec());
    assert_eq!(cast_to(&h, "float32"), (DType::F32, want.to_vec()));
    assert_eq!(cast_to(&h, "float64"), (DType::F64, want.to_vec()));
    // mx.nd.Cast(h, dtype='int32') of the finite values truncates: [1, 0, 65504, 3, -7]
    let finite = [1.0, 0.0999755859375, 65504.0, 3.150390625, -7.75];
    let h = HostTensor::from_vec(&[5], finite.map(f16::from_f64).to_vec());
    let ints = vec![1.0, 0.0, 65504.0, 3.0, -7.0];
    assert_eq!(cast_to(&h, "int32"), (DType::I32, ints));
    // i = mx.nd.array([3, -2, 300, 70000], dtype='int32'); mx.nd.Cast(i, dtype='float16')
    let i = HostTensor::from_vec(&[4], vec![3i32, -2, 300, 70000]);
    let halves = vec![3.0, -2.0, 300.0, f64::INFINITY];
    assert_eq!(cast_to(&i, "float16"), (DType::F16, halves));
}

#[test]
fn cast_gradient_casts_back() {
    // MXNet: the gradient of Cast(float32 -> float64) is the head gradient as float32.
    let op = make_op("Cast", &[("dtype", "float64")]);
    check_gradient(
        &op,
        &[uniform_f64(&[2, 3], 4, -1.0, 1.0)],
        &GradCheck::default(),
    )
    .unwrap();
    let back = make_op("_backward_cast", &[]);
    let names = back.input_names();
    assert_eq!(names, vec!["ograd", "data"]);
    let mut ins = vec![Some(DType::F64), Some(DType::F32)];
    let mut outs = vec![None];
    back.infer_type(&mut TypeCtx::new(
        "_backward_cast",
        &names,
        &mut ins,
        &mut outs,
    ))
    .unwrap();
    assert_eq!(outs[0], Some(DType::F32));
    let g = HostTensor::from_vec(&[3], vec![1.0f64, 2.5, -3.0]);
    let data = HostTensor::zeros(&[3], DType::F32);
    let out = run(back.as_ref(), &mut [g, data], false).unwrap();
    assert_eq!(
        (out[0].dtype(), out[0].to_f64()),
        (DType::F32, vec![1.0, 2.5, -3.0])
    );
}

/// On the GPU, float32 to float32 is a copy; other dtypes are refused.
#[test]
fn gpu_matches_cpu() {
    use crate::check::gpu::{compare_with_cpu, test_device};
    let dev = test_device().unwrap();
    let op = make_op("Cast", &[("dtype", "float32")]);
    let x = HostTensor::from_f32(&[2, 2], vec![1.0, -2.0, 3.5, 0.25]);
    compare_with_cpu(op.as_ref(), &dev, &[x], true, 0.0, 0.0).unwrap();
}
