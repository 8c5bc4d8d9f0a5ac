use mxr_kernels::DType;

use crate::check::{HostTensor, gradients, infer_shapes, infer_types, run};
use crate::ops::test_util::make_op;
use crate::registry::{Shape, ShapeCtx, create};

#[test]
fn rows_by_hand() {
    // MXNet 1.9.1: one_hot([1, 0, 4, 5, -1, 2.7], depth=5): out-of-range rows are all off,
    // 2.7 truncates to 2.
    let op = make_op("one_hot", &[("depth", "5")]);
    assert_eq!(op.input_names(), vec!["indices"]);
    let i = HostTensor::from_f32(&[6], vec![1.0, 0.0, 4.0, 5.0, -1.0, 2.7]);
    let out = run(op.as_ref(), &mut [i], false).unwrap();
    assert_eq!(out[0].shape(), &[6, 5]);
    assert_eq!(out[0].dtype(), DType::F32);
    #[rustfmt::skip]
    let want = vec![
        0.0, 1.0, 0.0, 0.0, 0.0,
        1.0, 0.0, 0.0, 0.0, 0.0,
        0.0, 0.0, 0.0, 0.0, 1.0,
        0.0, 0.0, 0.0, 0.0, 0.0,
        0.0, 0.0, 0.0, 0.0, 0.0,
        0.0, 0.0, 1.0, 0.0, 0.0,
    ];
    assert_eq!(out[0].to_f64(), want);
    // -0.5 truncates to 0 (MXNet: [1, 0, 0]); -1.5 is out of range.
    let op = make_op("one_hot", &[("depth", "3")]);
    let i = HostTensor::from_f32(&[3], vec![-0.5, -1.5, 2.9]);
    let out = run(op.as_ref(), &mut [i], false).unwrap();
    assert_eq!(
        out[0].to_f64(),
        vec![1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0]
    );
}

#[test]
fn values_and_dtypes() {
    // MXNet 1.9.1: one_hot([[1, 2], [0, 3]], depth=4, on_value=3, off_value=-1, dtype=int32).
    let op = make_op(
        "one_hot",
        &[
            ("depth", "4"),
            ("on_value", "3"),
            ("off_value", "-1"),
            ("dtype", "int32"),
        ],
    );
    let i = HostTensor::from_vec(&[2, 2], vec![1i64, 2, 0, 3]);
    let out = run(op.as_ref(), &mut [i], false).unwrap();
    assert_eq!(out[0].shape(), &[2, 2, 4]);
    assert_eq!(out[0].dtype(), DType::I32);
    #[rustfmt::skip]
    let want = vec![
        -1.0, 3.0, -1.0, -1.0,   -1.0, -1.0, 3.0, -1.0,
        3.0, -1.0, -1.0, -1.0,   -1.0, -1.0, -1.0, 3.0,
    ];
    assert_eq!(out[0].to_f64(), want);
    for (name, dtype) in [
        ("float64", DType::F64),
        ("float16", DType::F16),
        ("uint8", DType::U8),
        ("int64", DType::I64),
    ] {
        let op = make_op("one_hot", &[("depth", "2"), ("dtype", name)]);
        let (_, outs) = infer_types(op.as_ref(), &[Some(DType::I32)]).unwrap();
        assert_eq!(outs[0], Some(dtype));
        let out = run(
            op.as_ref(),
            &mut [HostTensor::from_vec(&[2], vec![1i32, 0])],
            false,
        )
        .unwrap();
        assert_eq!(out[0].dtype(), dtype);
        assert_eq!(out[0].to_f64(), vec![0.0, 1.0, 1.0, 0.0], "{name}");
    }
    assert_eq!(
        op.attrs(),
        vec![
            ("depth".to_string(), "4".to_string()),
            ("on_value".to_string(), "3.0".to_string()),
            ("off_value".to_string(), "-1.0".to_string()),
            ("dtype".to_string(), "int32".to_string()),
        ]
    );
}

#[test]
fn shapes_and_errors() {
    let op = make_op("one_hot", &[("depth", "3")]);
    let (_, out) = infer_shapes(op.as_ref(), &[Shape::from_legacy(&[0, 2])]).unwrap();
    assert_eq!(out[0], Shape::from_legacy(&[0, 2, 3]));
    let names = op.input_names();
    let mut ins = vec![Shape::unknown()];
    let mut outs = vec![Shape::known(&[4, 3])];
    op.infer_shape(&mut ShapeCtx::new("one_hot", &names, &mut ins, &mut outs))
        .unwrap();
    assert_eq!(ins[0], Shape::known(&[4]));
    let mut ins = vec![Shape::unknown()];
    let mut outs = vec![Shape::known(&[4, 5])];
    let err = op
        .infer_shape(&mut ShapeCtx::new("one_hot", &names, &mut ins, &mut outs))
        .unwrap_err()
        .to_string();
    assert!(err.contains("one_hot") && err.contains("depth=3"), "{err}");
    for (attrs, needle) in [
        (vec![], "depth"),
        (vec![("depth", "-1")], "depth"),
        (vec![("depth", "3"), ("dtype", "bool")], "dtype"),
    ] {
        let err = create("one_hot", &attrs, None).unwrap_err().to_string();
        assert!(err.contains("one_hot") && err.contains(needle), "{err}");
    }
    // depth 0: an empty last axis.
    let op = make_op("one_hot", &[("depth", "0")]);
    let out = run(
        op.as_ref(),
        &mut [HostTensor::from_f32(&[2], vec![0.0, 1.0])],
        false,
    )
    .unwrap();
    assert_eq!(out[0].shape(), &[2, 0]);
}

#[test]
fn the_indices_get_a_zero_gradient() {
    let op = make_op("one_hot", &[("depth", "3")]);
    let i = HostTensor::from_f32(&[2], vec![0.0, 2.0]);
    let g = gradients(
        &op,
        &[i],
        &[HostTensor::from_f32(&[2, 3], vec![1.0; 6])],
        true,
        0,
    )
    .unwrap();
    assert_eq!(g[0].as_ref().unwrap().to_f64(), vec![0.0, 0.0]);
}

/// The GPU kernel agrees with the CPU: truncation toward zero, negative, NaN and out-of-range
/// indices, depth 1, on/off values, 2-D and empty indices.
#[test]
fn gpu_matches_cpu() {
    use crate::ops::test_util::GpuCheck;
    let gpu = GpuCheck::new(0.0, 0.0);
    let idx = vec![
        0.0f32,
        2.7,
        -0.5,
        -1.0,
        4.0,
        5.0,
        f32::NAN,
        1.0,
        3.999,
        -7.0,
        1e20,
        2.0,
    ];
    type Case<'a> = (Vec<usize>, Vec<(&'a str, &'a str)>);
    let cases: [Case<'_>; 5] = [
        (vec![12], vec![("depth", "5")]),
        (
            vec![3, 4],
            vec![("depth", "5"), ("on_value", "2.5"), ("off_value", "-1")],
        ),
        (vec![12], vec![("depth", "1")]),
        (vec![2, 6], vec![("depth", "37")]),
        (vec![0, 2], vec![("depth", "3")]),
    ];
    for (shape, attrs) in cases {
        let n: usize = shape.iter().product();
        let x = HostTensor::from_f32(&shape, idx[..n].to_vec());
        let op = make_op("one_hot", &attrs);
        gpu.check(op.as_ref(), &[x], &format!("{attrs:?}"));
    }
}

/// Indices of every dtype the GPU kernel takes.
#[test]
fn gpu_index_dtypes_match_cpu() {
    use crate::check::gpu::{compare_with_cpu, test_device};
    let dev = test_device().unwrap();
    let ints = [0i64, 3, 3, -2, 9, 1, 4, 2, 127];
    let inputs = [
        HostTensor::from_vec(&[9], ints.iter().map(|&i| i as i32).collect::<Vec<_>>()),
        HostTensor::from_vec(&[3, 3], ints.to_vec()),
        HostTensor::from_vec(&[9], ints.iter().map(|&i| i as i8).collect::<Vec<_>>()),
        HostTensor::from_vec(&[9], ints.iter().map(|&i| i as u8).collect::<Vec<_>>()),
        HostTensor::from_vec(
            &[9],
            vec![0.5f64, 3.99, f64::NAN, -0.9, -1.0, 1.0, 4.0, 2.0, 1e300],
        ),
    ];
    let op = make_op("one_hot", &[("depth", "5"), ("on_value", "-3")]);
    for x in inputs {
        compare_with_cpu(op.as_ref(), &dev, std::slice::from_ref(&x), true, 0.0, 0.0)
            .unwrap_or_else(|e| panic!("{}: {e}", x.dtype()));
    }
}
