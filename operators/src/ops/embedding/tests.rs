use mxr_kernels::DType;

use crate::Error;
use crate::check::{
    GradCheck, HostTensor, check_gradient, gradients, infer_shapes, infer_types, run,
};
use crate::ops::test_util::make_op;
use crate::registry::{OpRef, Shape, create, lookup};

fn emb(attrs: &[(&str, &str)]) -> OpRef {
    make_op("Embedding", attrs)
}

fn weight() -> HostTensor {
    HostTensor::from_f32(&[5, 4], (0..20).map(|v| v as f32).collect())
}

#[test]
fn lookup_truncates_and_clips_indices() {
    // MXNet 1.9.1: indices [0, 7, -2, 2.7, -0.5, 4.99] with input_dim 5 select rows
    // 0, 4, 0, 2, 0, 4.
    let op = emb(&[("input_dim", "5"), ("output_dim", "4")]);
    let data = HostTensor::from_f32(&[6], vec![0.0, 7.0, -2.0, 2.7, -0.5, 4.99]);
    let out = run(op.as_ref(), &mut [data, weight()], false).unwrap();
    assert_eq!(out[0].shape(), &[6, 4]);
    let want: Vec<f64> = [0, 4, 0, 2, 0, 4]
        .iter()
        .flat_map(|&r| (0..4).map(move |c| f64::from(r * 4 + c)))
        .collect();
    assert_eq!(out[0].to_f64(), want);

    // 2-D integer indices; the output appends output_dim.
    let data = HostTensor::from_vec::<i32>(&[2, 2], vec![3, 1, 1, 0]);
    let out = run(op.as_ref(), &mut [data, weight()], false).unwrap();
    assert_eq!(out[0].shape(), &[2, 2, 4]);
    assert_eq!(
        &out[0].to_f64()[..8],
        [12.0, 13.0, 14.0, 15.0, 4.0, 5.0, 6.0, 7.0]
    );

    // Integer and float64 weights are copied as they are.
    let op = emb(&[("input_dim", "2"), ("output_dim", "2"), ("dtype", "int64")]);
    let w = HostTensor::from_vec::<i64>(&[2, 2], vec![10, 11, 20, 21]);
    let data = HostTensor::from_f32(&[3], vec![1.0, 0.0, 1.0]);
    let out = run(op.as_ref(), &mut [data.clone(), w], false).unwrap();
    assert_eq!(out[0].dtype(), DType::I64);
    assert_eq!(out[0].to_f64(), vec![20.0, 21.0, 10.0, 11.0, 20.0, 21.0]);
    let op = emb(&[("input_dim", "2"), ("output_dim", "2")]);
    let w = HostTensor::from_vec::<f64>(&[2, 2], vec![0.5, 1.5, 2.5, 3.5]);
    let out = run(op.as_ref(), &mut [data, w], false).unwrap();
    assert_eq!(out[0].dtype(), DType::F64);
    assert_eq!(out[0].to_f64(), vec![2.5, 3.5, 0.5, 1.5, 2.5, 3.5]);
}

#[test]
fn weight_gradient_accumulates_repeated_ids_and_data_gets_none() {
    let op = emb(&[("input_dim", "3"), ("output_dim", "2")]);
    let data = HostTensor::from_f32(&[2, 2], vec![1.0, 1.0, 0.0, 9.0]);
    let w = HostTensor::from_f32(&[3, 2], vec![0.0; 6]);
    let g = HostTensor::from_f32(&[2, 2, 2], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]);
    let grads = gradients(&op, &[data.clone(), w], std::slice::from_ref(&g), true, 0).unwrap();
    assert!(grads[0].is_none(), "indices get no gradient");
    // Row 1 gets g rows 0 and 1, row 0 gets g row 2, row 2 (clipped 9) gets g row 3.
    assert_eq!(
        grads[1].as_ref().unwrap().to_f64(),
        vec![5.0, 6.0, 4.0, 6.0, 7.0, 8.0]
    );

    let back = make_op(
        "_backward_Embedding",
        &[("input_dim", "3"), ("output_dim", "2")],
    );
    assert_eq!(back.input_names(), ["ograd", "data"]);
    let out = run(back.as_ref(), &mut [g, data], false).unwrap();
    assert_eq!(out[0].shape(), &[2, 2]);
    assert_eq!(out[0].to_f64(), vec![0.0; 4]);
    assert_eq!(out[1].to_f64(), vec![5.0, 6.0, 4.0, 6.0, 7.0, 8.0]);

    // Finite differences on the weight (the indices are held fixed).
    let data = HostTensor::from_f32(&[5], vec![2.0, 0.0, 2.0, 4.0, 2.0]);
    let w = HostTensor::from_f64_as(
        &[5, 3],
        &(0..15).map(|v| f64::from(v) * 0.1).collect::<Vec<_>>(),
        DType::F64,
    );
    let opts = GradCheck {
        skip: vec![0],
        ..GradCheck::default()
    };
    check_gradient(
        &emb(&[("input_dim", "5"), ("output_dim", "3")]),
        &[data, w],
        &opts,
    )
    .unwrap();
}

#[test]
fn shapes_and_types() {
    let op = emb(&[("input_dim", "5"), ("output_dim", "4")]);
    let (ins, outs) = infer_shapes(
        op.as_ref(),
        &[Shape::from_legacy(&[0, 3]), Shape::unknown()],
    )
    .unwrap();
    assert_eq!(ins[1], Shape::known(&[5, 4]));
    assert_eq!(outs[0], Shape::from_legacy(&[0, 3, 4]));
    let (ins, outs) = infer_shapes(op.as_ref(), &[Shape::unknown(), Shape::unknown()]).unwrap();
    assert_eq!(
        (ins[1].clone(), outs[0].clone()),
        (Shape::unknown(), Shape::unknown())
    );
    let err = infer_shapes(op.as_ref(), &[Shape::known(&[3]), Shape::known(&[5, 3])]).unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(err, Error::Shape { .. }) && msg.contains("Embedding") && msg.contains("weight"),
        "{msg}"
    );

    // Output → data.
    use crate::registry::{Operator, ShapeCtx};
    let names = op.input_names();
    let mut ins = vec![Shape::from_legacy(&[0, 3]), Shape::unknown()];
    let mut outs = vec![Shape::from_legacy(&[7, 0, 0])];
    Operator::infer_shape(
        op.as_ref(),
        &mut ShapeCtx::new("Embedding", &names, &mut ins, &mut outs),
    )
    .unwrap();
    assert_eq!(
        (ins[0].clone(), outs[0].clone()),
        (Shape::known(&[7, 3]), Shape::known(&[7, 3, 4]))
    );

    // dtype: the parameter when nothing is known, else the weight's; the indices keep theirs.
    let (ins, outs) = infer_types(op.as_ref(), &[Some(DType::I32), None]).unwrap();
    assert_eq!(
        (ins[0], ins[1], outs[0]),
        (Some(DType::I32), Some(DType::F32), Some(DType::F32))
    );
    let op64 = emb(&[
        ("input_dim", "5"),
        ("output_dim", "4"),
        ("dtype", "float64"),
    ]);
    let (_, outs) = infer_types(op64.as_ref(), &[Some(DType::F32), None]).unwrap();
    assert_eq!(outs[0], Some(DType::F64));
    let (_, outs) = infer_types(op.as_ref(), &[Some(DType::F32), Some(DType::F64)]).unwrap();
    assert_eq!(outs[0], Some(DType::F64));
}

#[test]
fn parameters_and_aliases() {
    let err = create("Embedding", &[("output_dim", "4")], None).unwrap_err();
    assert!(
        matches!(&err, Error::MissingParam { name, .. } if name == "input_dim"),
        "{err}"
    );
    let err = create(
        "Embedding",
        &[("input_dim", "4"), ("output_dim", "0")],
        None,
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("Embedding") && err.contains("output_dim") && err.contains("at least 1"),
        "{err}"
    );
    let err = create(
        "Embedding",
        &[
            ("input_dim", "4"),
            ("output_dim", "2"),
            ("dtype", "bfloat16"),
        ],
        None,
    )
    .unwrap_err();
    assert!(matches!(err, Error::Unsupported { .. }), "{err}");
    let err = create(
        "Embedding",
        &[("input_dim", "4"), ("output_dim", "2"), ("dtype", "float")],
        None,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("dtype") && err.contains("'float32'"), "{err}");
    let op = emb(&[
        ("input_dim", "4"),
        ("output_dim", "2"),
        ("sparse_grad", "True"),
    ]);
    assert_eq!(
        op.attrs(),
        [
            ("input_dim", "4"),
            ("output_dim", "2"),
            ("sparse_grad", "True")
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()))
    );
    assert_eq!(lookup("_npx_embedding").unwrap().name, "Embedding");
    assert_eq!(lookup("_sparse_Embedding").unwrap().name, "Embedding");
}

/// The GPU kernels (on a real GPU, else the emulator) agree with the CPU: indices repeated,
/// fractional, negative, NaN and past the end (clipped as on the CPU), several widths. The
/// weight gradient is compared at 1e-5: a real GPU adds repeated rows in any order.
#[test]
fn gpu_matches_cpu() {
    use crate::ops::test_util::GpuCheck;
    let fwd_gpu = GpuCheck::new(0.0, 0.0);
    let back_gpu = GpuCheck::new(1e-5, 1e-6);
    let idx = [
        0.0f32,
        3.0,
        3.0,
        4.9,
        -1.0,
        0.7,
        f32::NAN,
        7.0,
        1e30,
        2.0,
        3.0,
        1.0,
    ];
    for (input_dim, output_dim, shape) in [
        (5usize, 3usize, vec![12usize]),
        (5, 1, vec![3, 4]),
        (1, 7, vec![2, 2, 3]),
        (6, 33, vec![4, 3]),
        (4, 2, vec![0, 3]),
    ] {
        let n: usize = shape.iter().product();
        let data = HostTensor::from_f32(&shape, idx[..n].to_vec());
        let weight = HostTensor::from_f32(
            &[input_dim, output_dim],
            (0..input_dim * output_dim)
                .map(|i| (i as f32) * 0.37 - 1.0)
                .collect(),
        );
        let attrs = [
            ("input_dim", input_dim.to_string()),
            ("output_dim", output_dim.to_string()),
        ];
        let attrs: Vec<(&str, &str)> = attrs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let fwd = make_op("Embedding", &attrs);
        fwd_gpu.check(fwd.as_ref(), &[data.clone(), weight], &format!("{attrs:?}"));
        let mut gshape = shape.clone();
        gshape.push(output_dim);
        let g = HostTensor::from_f32(
            &gshape,
            (0..n * output_dim)
                .map(|i| ((i * 5) % 13) as f32 * 0.21 - 1.1)
                .collect(),
        );
        let back = make_op("_backward_Embedding", &attrs);
        back_gpu.check(back.as_ref(), &[g, data], &format!("backward {attrs:?}"));
    }
}

/// Indices of every dtype the GPU kernels take (clipped as on the CPU); float16 indices are
/// refused on the GPU by name.
#[test]
fn gpu_index_dtypes_match_cpu() {
    use crate::check::gpu::{compare_with_cpu, run_gpu_seeded, test_device};
    let dev = test_device().unwrap();
    let ints = [0i64, 3, 3, -2, 9, 1, 4, 2];
    let inputs = [
        HostTensor::from_vec(&[2, 4], ints.iter().map(|&i| i as i32).collect::<Vec<_>>()),
        HostTensor::from_vec(&[2, 4], ints.to_vec()),
        HostTensor::from_vec(&[2, 4], ints.iter().map(|&i| i as i8).collect::<Vec<_>>()),
        HostTensor::from_vec(&[2, 4], ints.iter().map(|&i| i as u8).collect::<Vec<_>>()),
        HostTensor::from_vec(
            &[2, 4],
            vec![0.5f64, 3.99, f64::NAN, -2.0, 9.0, 1.0, 4.0, 2.0],
        ),
    ];
    let attrs = [("input_dim", "5"), ("output_dim", "3")];
    let weight = HostTensor::from_f32(&[5, 3], (0..15).map(|i| i as f32 * 0.5 - 3.0).collect());
    let g = HostTensor::from_f32(&[2, 4, 3], (0..24).map(|i| i as f32 * 0.25 - 2.0).collect());
    let fwd = make_op("Embedding", &attrs);
    let back = make_op("_backward_Embedding", &attrs);
    for data in inputs {
        compare_with_cpu(
            fwd.as_ref(),
            &dev,
            &[data.clone(), weight.clone()],
            true,
            0.0,
            0.0,
        )
        .unwrap_or_else(|e| panic!("{}: {e}", data.dtype()));
        compare_with_cpu(
            back.as_ref(),
            &dev,
            &[g.clone(), data.clone()],
            true,
            1e-5,
            1e-6,
        )
        .unwrap_or_else(|e| panic!("backward {}: {e}", data.dtype()));
    }
    let half = HostTensor::zeros(&[2, 4], DType::F16);
    let err = run_gpu_seeded(fwd.as_ref(), &dev, &mut [half, weight], true, 7).unwrap_err();
    assert!(err.to_string().contains("float16"), "{err}");
}
