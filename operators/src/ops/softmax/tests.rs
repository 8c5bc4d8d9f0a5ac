use mxr_kernels::DType;

use crate::check::{
    GradCheck, HostTensor, check_gradient, gradients, infer_shapes, infer_types, run,
};
use crate::ops::test_util::{assert_close, assert_create_err, make_op, xorshift_f32};
use crate::registry::{OpContext, Shape, create, lookup};

/// (2, 3, 2): arange(12)/4 − 1.
fn x232() -> HostTensor {
    HostTensor::from_f32(&[2, 3, 2], (0..12).map(|i| i as f32 / 4.0 - 1.0).collect())
}

#[test]
fn softmax_last_axis_matches_mxnet() {
    let op = make_op("softmax", &[]);
    let x = HostTensor::from_f32(&[2, 3], vec![1.0, 2.0, 3.0, 0.5, -1.0, 2.0]);
    let out = run(op.as_ref(), &mut [x], false).unwrap();
    assert_eq!(out[0].shape(), &[2, 3]);
    assert_eq!(out[0].dtype(), DType::F32);
    assert_close(
        &out[0].to_f64(),
        &[
            0.0900306, 0.2447285, 0.6652409, 0.1752904, 0.0391126, 0.785597,
        ],
        0.0,
        1e-6,
    );
}

#[test]
fn softmax_axis_and_temperature_match_mxnet() {
    // mx.nd.softmax(x, axis=1, temperature=2.0)
    let op = make_op("softmax", &[("axis", "1"), ("temperature", "2.0")]);
    let out = run(op.as_ref(), &mut [x232()], true).unwrap();
    let (a, b, c) = (0.254_275_23, 0.326_495_86, 0.419_228_97);
    assert_close(
        &out[0].to_f64(),
        &[a, a, b, b, c, c, a, a, b, b, c, c],
        0.0,
        1e-6,
    );
    // Negative axes count from the end: axis=-2 is axis 1 here.
    let op = make_op("softmax", &[("axis", "-2"), ("temperature", "2")]);
    let again = run(op.as_ref(), &mut [x232()], true).unwrap();
    assert_eq!(again[0], out[0]);
}

#[test]
fn log_softmax_matches_mxnet() {
    // mx.nd.log_softmax(x, axis=0)
    let op = make_op("log_softmax", &[("axis", "0")]);
    let out = run(op.as_ref(), &mut [x232()], false).unwrap();
    let (a, b) = (-1.701_413_4, -0.201_413_33);
    let want: Vec<f64> = (0..12).map(|i| if i < 6 { a } else { b }).collect();
    assert_close(&out[0].to_f64(), &want, 0.0, 1e-6);
}

#[test]
fn dtype_override_changes_the_output_type() {
    let op = make_op("softmax", &[("dtype", "float64")]);
    let (_, outs) = infer_types(op.as_ref(), &[Some(DType::F32)]).unwrap();
    assert_eq!(outs, vec![Some(DType::F64)]);
    let out = run(op.as_ref(), &mut [x232()], false).unwrap();
    assert_eq!(out[0].dtype(), DType::F64);
    let want: Vec<f64> = (0..12)
        .map(|i| if i % 2 == 0 { 0.437_823_5 } else { 0.562_176_5 })
        .collect();
    assert_close(&out[0].to_f64(), &want, 0.0, 1e-7);
    assert_eq!(
        op.attrs(),
        vec![("dtype".to_string(), "float64".to_string())]
    );
    // The gradient goes back to the input's dtype (backward inputs [g, data, output]).
    let g = HostTensor::from_vec(
        &[2, 3, 2],
        (0..12).map(|i| f64::from(i) / 6.0 - 1.0).collect(),
    );
    let grads = gradients(&op, &[x232()], std::slice::from_ref(&g), true, 0).unwrap();
    let dx = grads[0].as_ref().unwrap();
    assert_eq!(dx.dtype(), DType::F32);
    let plain = make_op("softmax", &[]);
    let want = gradients(&plain, &[x232().cast(DType::F64)], &[g], true, 0).unwrap();
    assert_close(&dx.to_f64(), &want[0].as_ref().unwrap().to_f64(), 0.0, 1e-6);
}

#[test]
fn gradients_match_mxnet_and_finite_differences() {
    let g = HostTensor::from_f32(
        &[2, 3, 2],
        (0..12).map(|i| -1.0 + 2.0 * i as f32 / 11.0).collect(),
    );
    let op = make_op("softmax", &[("axis", "1"), ("temperature", "2.0")]);
    let grads = gradients(&op, &[x232()], std::slice::from_ref(&g), true, 0).unwrap();
    let (a, b, c) = (-0.053_857_975, -0.009_792_127, 0.063_650_11);
    assert_close(
        &grads[0].as_ref().unwrap().to_f64(),
        &[a, a, b, b, c, c, a, a, b, b, c, c],
        0.0,
        1e-6,
    );
    let op = make_op("log_softmax", &[("axis", "0")]);
    let grads = gradients(&op, &[x232()], &[g], true, 0).unwrap();
    assert_close(
        &grads[0].as_ref().unwrap().to_f64(),
        &[
            -0.834_158_66,
            -0.718_676_98,
            -0.603_195_37,
            -0.487_713_72,
            -0.372_232_08,
            -0.256_750_46,
            0.834_158_54,
            0.718_676_92,
            0.603_195_3,
            0.487_713_75,
            0.372_232_14,
            0.256_750_52,
        ],
        0.0,
        1e-6,
    );
    for (name, attrs) in [
        ("softmax", vec![]),
        ("softmax", vec![("axis", "0")]),
        ("softmax", vec![("axis", "1"), ("temperature", "0.5")]),
        ("log_softmax", vec![]),
        ("log_softmax", vec![("axis", "1"), ("temperature", "3")]),
        ("softmax", vec![("dtype", "float64")]),
    ] {
        let op = make_op(name, &attrs);
        check_gradient(&op, &[x232()], &GradCheck::default())
            .unwrap_or_else(|e| panic!("{name} {attrs:?}: {e}"));
    }
}

#[test]
fn use_length_masks_and_differentiates() {
    let op = make_op("softmax", &[("use_length", "True")]);
    assert_eq!(op.input_names(), vec!["data", "length"]);
    let x = HostTensor::from_f32(&[2, 4], vec![1.0, 2.0, 3.0, 4.0, 0.5, -1.0, 2.0, 0.0]);
    let len = HostTensor::from_vec(&[2], vec![2i32, 3]);
    let out = run(op.as_ref(), &mut [x.clone(), len.clone()], false).unwrap();
    assert_close(
        &out[0].to_f64(),
        &[
            0.2689414, 0.7310586, 0.0, 0.0, 0.1752904, 0.0391126, 0.785597, 0.0,
        ],
        0.0,
        1e-6,
    );
    let g = HostTensor::from_f32(&[2, 4], vec![1.0, 2.0, 3.0, 4.0, 4.0, 3.0, 2.0, 1.0]);
    let grads = gradients(&op, &[x.clone(), len.clone()], &[g], true, 0).unwrap();
    assert!(grads[1].is_none(), "lengths get no gradient");
    assert_close(
        &grads[0].as_ref().unwrap().to_f64(),
        &[
            -0.1966119, 0.1966119, 0.0, 0.0, 0.2822713, 0.0238707, -0.3061419, 0.0,
        ],
        0.0,
        1e-6,
    );
    let opts = GradCheck {
        skip: vec![1],
        ..GradCheck::default()
    };
    check_gradient(&op, &[x, len], &opts).unwrap();
    // Length shape: the data shape without the axis.
    let op = make_op("softmax", &[("use_length", "1"), ("axis", "1")]);
    let (ins, outs) =
        infer_shapes(op.as_ref(), &[Shape::known(&[2, 3, 4]), Shape::unknown()]).unwrap();
    assert_eq!(ins[1], Shape::known(&[2, 4]));
    assert_eq!(outs[0], Shape::known(&[2, 3, 4]));
}

#[test]
fn shapes_are_inferred_both_ways_and_checked() {
    let op = make_op("softmax", &[("axis", "1")]);
    let (ins, outs) = infer_shapes(op.as_ref(), &[Shape::from_legacy(&[2, 0, 4])]).unwrap();
    assert_eq!(ins[0], Shape::from_legacy(&[2, 0, 4]));
    assert_eq!(outs[0], Shape::from_legacy(&[2, 0, 4]));
    let (ins, _) = infer_shapes(op.as_ref(), &[Shape::unknown()]).unwrap();
    assert_eq!(ins[0], Shape::unknown());
    let err = infer_shapes(op.as_ref(), &[Shape::known(&[5])]).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("softmax") && msg.contains("axis"), "{msg}");
    let op = make_op("log_softmax", &[("axis", "-3")]);
    let err = run(
        op.as_ref(),
        &mut [HostTensor::from_f32(&[2, 2], vec![0.0; 4])],
        false,
    )
    .unwrap_err();
    assert!(err.to_string().contains("axis"), "{err}");
}

#[test]
fn bad_parameters_are_named() {
    assert_create_err("softmax", &[("temperature", "0")], &["temperature"]);
    assert_create_err(
        "log_softmax",
        &[("use_length", "True")],
        &["log_softmax", "use_length"],
    );
    assert_create_err("softmax", &[("dtype", "int32")], &["dtype", "float16"]);
    assert_create_err("log_softmax", &[("axes", "1")], &["axes"]);
}

#[test]
fn backward_ops_are_registered_with_mxnet_inputs() {
    let plain = make_op("_backward_softmax", &[("axis", "0")]);
    assert_eq!(plain.input_names(), vec!["ograd", "output"]);
    let (ins, outs) =
        infer_shapes(plain.as_ref(), &[Shape::unknown(), Shape::known(&[3, 2])]).unwrap();
    assert_eq!(
        (ins[0].clone(), outs[0].clone()),
        (Shape::known(&[3, 2]), Shape::known(&[3, 2]))
    );
    let with_data = make_op("_backward_log_softmax", &[("dtype", "float64")]);
    assert_eq!(with_data.input_names(), vec!["ograd", "data", "output"]);
    let (_, outs) = infer_types(
        with_data.as_ref(),
        &[Some(DType::F64), Some(DType::F32), Some(DType::F64)],
    )
    .unwrap();
    assert_eq!(outs, vec![Some(DType::F32)]);
    assert!(lookup("_backward_softmax").unwrap().is_backward());
    // Run directly: y = softmax([0, ln 3]) = [0.25, 0.75], g = [1, 0] → y·(g − 0.25).
    let y = HostTensor::from_f32(&[1, 2], vec![0.25, 0.75]);
    let g = HostTensor::from_f32(&[1, 2], vec![1.0, 0.0]);
    let dx = run(plain.as_ref(), &mut [g, y], true);
    // Along axis 0 every lane has one element: dx = y·(g − g·y) = [0.25·0.75, 0].
    assert_close(&dx.unwrap()[0].to_f64(), &[0.1875, 0.0], 0.0, 1e-7);
    let last = make_op("_backward_softmax", &[]);
    let y = HostTensor::from_f32(&[1, 2], vec![0.25, 0.75]);
    let g = HostTensor::from_f32(&[1, 2], vec![1.0, 0.0]);
    let dx = run(last.as_ref(), &mut [g, y], true).unwrap();
    assert_close(&dx[0].to_f64(), &[0.1875, -0.1875], 0.0, 1e-7);
}

#[test]
fn in_place_matches_out_of_place() {
    for name in ["softmax", "log_softmax"] {
        let op = make_op(name, &[("axis", "1")]);
        assert!(op.is_inplace_unary());
        assert_eq!(op.inplace_option(), vec![(0, 0)]);
        let want = run(op.as_ref(), &mut [x232()], false).unwrap();
        let mut data = x232();
        let mut ctx = OpContext {
            is_train: false,
            context: mxr_engine::Context::cpu(0),
            rng: None,
            needed: None,
        };
        op.forward_inplace(&mut ctx, &mut data.view_mut())
            .expect("supported")
            .unwrap();
        assert_eq!(data, want[0], "{name}");
    }
    let op = make_op("softmax", &[("dtype", "float64")]);
    assert!(!op.is_inplace_unary());
    let mut ctx = OpContext {
        is_train: false,
        context: mxr_engine::Context::cpu(0),
        rng: None,
        needed: None,
    };
    assert!(
        op.forward_inplace(&mut ctx, &mut x232().view_mut())
            .is_none()
    );
}

#[test]
fn gpu_matches_cpu() {
    use crate::ops::test_util::GpuCheck;
    let gpu = GpuCheck::new(1e-5, 1e-6);
    let shapes: &[&[usize]] = &[&[2, 3, 5], &[4, 1, 3], &[7], &[0, 3], &[3, 1]];
    for &shape in shapes {
        for axis in -1..shape.len() as i64 {
            for temperature in [None, Some("0.5"), Some("-2")] {
                for dtype in [None, Some("float32")] {
                    for log in [false, true] {
                        let name = if log { "log_softmax" } else { "softmax" };
                        let mut attrs = vec![("axis", axis.to_string())];
                        if let Some(t) = temperature {
                            attrs.push(("temperature", t.to_string()));
                        }
                        if let Some(d) = dtype {
                            attrs.push(("dtype", d.to_string()));
                        }
                        let attrs: Vec<(&str, &str)> =
                            attrs.iter().map(|(k, v)| (*k, v.as_str())).collect();
                        let what = format!("{name} {shape:?} {attrs:?}");
                        let fwd = make_op(name, &attrs);
                        let x = xorshift_f32(shape, 1, -3.0, 3.0);
                        // Same order of operations; expf/logf may differ from Rust's by an ulp.
                        let y = gpu.forward(fwd.as_ref(), &x, &what);
                        let g = xorshift_f32(shape, 2, -3.0, 3.0);
                        let back_name = format!("_backward_{name}");
                        let back = create(&back_name, &attrs, None).unwrap();
                        let ins = if dtype.is_some() {
                            vec![g, x, y]
                        } else {
                            vec![g, y]
                        };
                        gpu.check(back.as_ref(), &ins, &format!("backward {what}"));
                    }
                }
            }
        }
    }
}

#[test]
fn gpu_matches_cpu_with_lengths() {
    use crate::ops::test_util::GpuCheck;
    let gpu = GpuCheck::new(1e-5, 1e-6);
    // (data shape, axis, lengths): lengths past the axis, zero, negative and fractional.
    let cases: &[(&[usize], i64, &[f64])] = &[
        (&[2, 5], -1, &[3.0, 0.0]),
        (&[3, 4], 1, &[9.0, -2.0, 2.7]),
        (&[2, 4, 3], 1, &[1.0, 4.0, 0.0, 2.0, 5.0, 3.0]),
        (&[4, 2, 2], 0, &[1.0, 2.0, 3.0, 0.0]),
    ];
    for &(shape, axis, lens) in cases {
        for ldtype in [
            DType::F32,
            DType::I32,
            DType::I64,
            DType::F64,
            DType::U8,
            DType::I8,
        ] {
            let lens: Vec<f64> = if matches!(ldtype, DType::U8) {
                lens.iter().map(|v| v.max(0.0)).collect()
            } else {
                lens.to_vec()
            };
            let mut lshape = shape.to_vec();
            lshape.remove(usize::try_from(axis.rem_euclid(shape.len() as i64)).unwrap());
            let l = HostTensor::from_f64_as(&lshape, &lens, ldtype);
            let attrs = [
                ("use_length", "True".to_string()),
                ("axis", axis.to_string()),
            ];
            let attrs: Vec<(&str, &str)> = attrs.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let what = format!("{shape:?} axis {axis} lengths {lens:?} ({ldtype})");
            let fwd = make_op("softmax", &attrs);
            let x = xorshift_f32(shape, 3, -3.0, 3.0);
            let ins = [x.clone(), l.clone()];
            gpu.check(fwd.as_ref(), &ins, &what);
            let y = run(fwd.as_ref(), &mut ins.clone(), true).unwrap().remove(0);
            let back = make_op("_backward_softmax", &attrs);
            let ins = [xorshift_f32(shape, 4, -3.0, 3.0), x, l, y];
            gpu.check(back.as_ref(), &ins, &format!("backward {what}"));
        }
    }
}

/// softmax's in-place option (output in the data's memory) on the GPU, along an inner and the
/// last axis.
#[test]
fn gpu_in_place() {
    use crate::check::gpu::test_device;
    use crate::registry::{GpuOpContext, GpuTensor};
    use mxr_kernels::cuda::{DeviceSlice, memory};
    let dev = test_device().unwrap();
    for (name, axis) in [("softmax", "1"), ("log_softmax", "-1")] {
        let op = make_op(name, &[("axis", axis)]);
        let x = xorshift_f32(&[3, 4, 5], 6, -3.0, 3.0);
        let want = run(op.as_ref(), &mut [x.clone()], true).unwrap().remove(0);
        let b = dev.alloc(x.bytes().len()).unwrap();
        memory::write(&dev, DeviceSlice::of_buffer(&b), x.bytes()).unwrap();
        let view = GpuTensor::new(name, x.shape(), x.dtype(), DeviceSlice::of_buffer(&b)).unwrap();
        let mut ctx = GpuOpContext::new(true, &dev);
        op.forward_gpu(&mut ctx, &[view], &[view]).unwrap();
        dev.synchronize().unwrap();
        let mut got = x.clone();
        memory::read(&dev, DeviceSlice::of_buffer(&b), got.bytes_mut()).unwrap();
        assert_close(&got.to_f64(), &want.to_f64(), 0.0, 1e-6);
    }
}
