use crate::check::{GradCheck, HostTensor, check_gradient, infer_shapes, run};
use crate::ops::test_util::{iota, make_op, uniform_f64};
use crate::registry::{Shape, ShapeCtx, create};

#[test]
fn forward_by_hand() {
    // (2, 3) matrix.
    let op = make_op("transpose", &[]);
    let out = run(op.as_ref(), &mut [iota(&[2, 3])], false).unwrap();
    assert_eq!(out[0].shape(), &[3, 2]);
    assert_eq!(out[0].to_f64(), vec![0.0, 3.0, 1.0, 4.0, 2.0, 5.0]);
    // (2, 3, 4) with axes (2, 0, 1): out[k][i][j] = x[i][j][k] = 12i + 4j + k.
    let op = make_op("transpose", &[("axes", "(2, 0, 1)")]);
    let out = run(op.as_ref(), &mut [iota(&[2, 3, 4])], false).unwrap();
    assert_eq!(out[0].shape(), &[4, 2, 3]);
    let v = out[0].to_f64();
    assert_eq!(&v[..6], &[0.0, 4.0, 8.0, 12.0, 16.0, 20.0]);
    assert_eq!(&v[6..12], &[1.0, 5.0, 9.0, 13.0, 17.0, 21.0]);
    // Default on 3-D reverses: out[k][j][i] = x[i][j][k].
    let op = make_op("transpose", &[]);
    let out = run(op.as_ref(), &mut [iota(&[2, 3, 4])], false).unwrap();
    assert_eq!(out[0].shape(), &[4, 3, 2]);
    assert_eq!(&out[0].to_f64()[..4], &[0.0, 12.0, 4.0, 16.0]);
    // Integer dtypes work (the kernel moves bytes).
    let x = HostTensor::from_vec(&[2, 2], vec![1i64, 2, 3, 4]);
    let out = run(op.as_ref(), &mut [x], false).unwrap();
    assert_eq!(out[0].dtype(), mxr_kernels::DType::I64);
    assert_eq!(out[0].to_f64(), vec![1.0, 3.0, 2.0, 4.0]);
}

#[test]
fn axes_must_be_a_permutation() {
    // MXNet 1.9.1 accepts (0, 0, 1) and produces garbage; here it is an error.
    for bad in ["(0, 0, 1)", "(0, 2)", "(-1, 0, 1)"] {
        let err = create("transpose", &[("axes", bad)], None)
            .expect_err(bad)
            .to_string();
        assert!(
            err.contains("transpose") && err.contains("axes"),
            "{bad}: {err}"
        );
    }
    let op = make_op("transpose", &[("axes", "(1, 0)")]);
    let err = infer_shapes(op.as_ref(), &[Shape::known(&[2, 3, 4])])
        .unwrap_err()
        .to_string();
    assert!(err.contains("transpose") && err.contains("3-D"), "{err}");
    assert_eq!(op.attrs(), vec![("axes".to_string(), "(1, 0)".to_string())]);
}

#[test]
fn partial_shapes_both_ways() {
    let op = make_op("transpose", &[("axes", "(2, 0, 1)")]);
    let (_, out) = infer_shapes(op.as_ref(), &[Shape::from_legacy(&[0, 3, 4])]).unwrap();
    assert_eq!(out[0], Shape::from_legacy(&[4, 0, 3]));
    for (attrs, out, want) in [
        (vec![("axes", "(2, 0, 1)")], vec![4, 2, 3], vec![2, 3, 4]),
        (vec![], vec![4, 2, 3], vec![3, 2, 4]),
    ] {
        let op = make_op("transpose", &attrs);
        let names = op.input_names();
        let mut ins = vec![Shape::unknown()];
        let mut outs = vec![Shape::known(&out)];
        op.infer_shape(&mut ShapeCtx::new("transpose", &names, &mut ins, &mut outs))
            .unwrap();
        assert_eq!(ins[0], Shape::known(&want), "{attrs:?}");
    }
}

#[test]
fn gradient_is_the_inverse_transpose() {
    for (axes, shape) in [
        ("(2, 0, 1)", vec![2, 3, 4]),
        ("(1, 0)", vec![3, 5]),
        ("()", vec![2, 3, 2]),
        ("(0, 2, 3, 1)", vec![2, 3, 2, 2]),
    ] {
        let op = make_op("transpose", &[("axes", axes)]);
        check_gradient(
            &op,
            &[uniform_f64(&shape, 5, -0.5, 0.5)],
            &GradCheck::default(),
        )
        .unwrap_or_else(|e| panic!("{axes}: {e}"));
    }
}

#[test]
fn large_transposes_match_the_definition() {
    // Crosses the kernel's tiles in both directions.
    let (r, c) = (37, 53);
    let op = make_op("transpose", &[]);
    let x = iota(&[r, c]);
    let out = run(op.as_ref(), &mut [x], false).unwrap();
    let v = out[0].to_f64();
    for i in 0..r {
        for j in 0..c {
            assert_eq!(v[j * r + i], (i * c + j) as f64);
        }
    }
}

/// The GPU kernel agrees with the CPU for every permutation of a 3-D and a 4-D array (odd and
/// size-1 axes), the default reversal, 1-D and empty arrays.
#[test]
fn gpu_matches_cpu() {
    use crate::check::gpu::{compare_with_cpu, test_device};
    use crate::ops::test_util::GpuCheck;
    let dev = test_device().unwrap();
    let gpu = GpuCheck::new(0.0, 0.0);
    let arr = |shape: &[usize]| {
        let n: usize = shape.iter().product();
        HostTensor::from_f32(shape, (0..n).map(|i| i as f32 * 0.5 - 7.0).collect())
    };
    let perms3 = [
        "(0,1,2)", "(0,2,1)", "(1,0,2)", "(1,2,0)", "(2,0,1)", "(2,1,0)",
    ];
    for shape in [[3usize, 5, 7], [2, 1, 4], [1, 6, 1]] {
        for axes in perms3 {
            let op = make_op("transpose", &[("axes", axes)]);
            gpu.check(op.as_ref(), &[arr(&shape)], &format!("{shape:?} {axes}"));
        }
    }
    for (shape, axes) in [
        (vec![2usize, 3, 4, 5], "(3, 1, 0, 2)"),
        (vec![2, 3, 4, 5], "(1, 3, 2, 0)"),
        (vec![2, 3, 4, 5], "()"),
        (vec![9], "()"),
        (vec![4, 9], "()"),
        (vec![3, 0, 2], "(2, 0, 1)"),
    ] {
        let op = make_op("transpose", &[("axes", axes)]);
        gpu.check(op.as_ref(), &[arr(&shape)], &format!("{shape:?} {axes}"));
    }
    // Elements of every width (the kernel moves them whatever the dtype).
    let op = make_op("transpose", &[("axes", "(2, 0, 1)")]);
    let ints: Vec<i32> = (0..30).map(|i| i * 3 - 40).collect();
    let inputs = [
        HostTensor::from_vec(&[2, 3, 5], ints.clone()),
        HostTensor::from_vec(
            &[2, 3, 5],
            ints.iter().map(|&i| i as u8).collect::<Vec<_>>(),
        ),
        HostTensor::from_vec(
            &[2, 3, 5],
            ints.iter().map(|&i| i64::from(i) << 33).collect::<Vec<_>>(),
        ),
        HostTensor::from_vec(
            &[2, 3, 5],
            ints.iter().map(|&i| f64::from(i) / 3.0).collect::<Vec<_>>(),
        ),
    ];
    let mut half = HostTensor::zeros(&[2, 3, 5], mxr_kernels::DType::F16);
    for (k, b) in half.bytes_mut().iter_mut().enumerate() {
        *b = (k * 7 % 61) as u8; // finite float16 values (high bytes below 0x7c)
    }
    for x in inputs.into_iter().chain([half]) {
        compare_with_cpu(op.as_ref(), &dev, std::slice::from_ref(&x), true, 0.0, 0.0)
            .unwrap_or_else(|e| panic!("{}: {e}", x.dtype()));
    }
}
