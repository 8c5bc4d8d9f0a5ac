use mxr_kernels::DType;

use crate::Error;
use crate::check::{GradCheck, HostTensor, check_gradient, infer_shapes, run};
use crate::ops::test_util::{assert_close, make_op};
use crate::registry::{OpRef, Shape, create, lookup};

fn fc(attrs: &[(&str, &str)]) -> OpRef {
    make_op("FullyConnected", attrs)
}

fn vals(n: usize, seed: u64) -> Vec<f64> {
    (0..n)
        .map(|i| (((i as u64 + 1) * (seed * 2 + 7919)) % 1000) as f64 / 500.0 - 1.0)
        .collect()
}

fn t64(shape: &[usize], seed: u64) -> HostTensor {
    HostTensor::from_f64_as(shape, &vals(shape.iter().product(), seed), DType::F64)
}

fn x() -> Vec<f32> {
    vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
}

fn w() -> HostTensor {
    HostTensor::from_f32(&[2, 3], vec![1.0, 0.0, -1.0, 0.5, 0.5, 0.5])
}

#[test]
fn forward_by_hand() {
    let b = HostTensor::from_f32(&[2], vec![10.0, 20.0]);
    let op = fc(&[("num_hidden", "2")]);
    let data = HostTensor::from_f32(&[2, 3], x());
    let out = run(op.as_ref(), &mut [data, w(), b.clone()], false).unwrap();
    assert_eq!(out[0].shape(), &[2, 2]);
    assert_eq!(out[0].to_f64(), vec![8.0, 23.0, 8.0, 27.5]);

    let op = fc(&[("num_hidden", "2"), ("no_bias", "True")]);
    assert_eq!(op.input_names(), ["data", "weight"]);
    let data = HostTensor::from_f32(&[2, 3], x());
    let out = run(op.as_ref(), &mut [data, w()], false).unwrap();
    assert_eq!(out[0].to_f64(), vec![-2.0, 3.0, -2.0, 7.5]);

    // flatten=True collapses every non-batch axis.
    let op = fc(&[("num_hidden", "2"), ("flatten", "True")]);
    let data = HostTensor::from_f32(&[2, 1, 3, 1], x());
    let out = run(op.as_ref(), &mut [data, w(), b.clone()], false).unwrap();
    assert_eq!(out[0].shape(), &[2, 2]);
    assert_eq!(out[0].to_f64(), vec![8.0, 23.0, 8.0, 27.5]);

    // flatten=False applies to the last axis and keeps the others.
    let op = fc(&[("num_hidden", "2"), ("flatten", "False")]);
    let data = HostTensor::from_f32(&[2, 1, 3], x());
    let out = run(op.as_ref(), &mut [data, w(), b.clone()], false).unwrap();
    assert_eq!(out[0].shape(), &[2, 1, 2]);
    assert_eq!(out[0].to_f64(), vec![8.0, 23.0, 8.0, 27.5]);

    // 1-D data with flatten: (N,) is N rows of one feature.
    let op = fc(&[("num_hidden", "2")]);
    let data = HostTensor::from_f32(&[3], vec![1.0, 2.0, 3.0]);
    let w1 = HostTensor::from_f32(&[2, 1], vec![2.0, -1.0]);
    let out = run(op.as_ref(), &mut [data, w1, b], false).unwrap();
    assert_eq!(out[0].shape(), &[3, 2]);
    assert_eq!(out[0].to_f64(), vec![12.0, 19.0, 14.0, 18.0, 16.0, 17.0]);
}

#[test]
fn f32_and_f64_agree_on_a_bigger_layer() {
    let op = fc(&[("num_hidden", "7")]);
    let (data, weight, bias) = (t64(&[5, 13], 1), t64(&[7, 13], 2), t64(&[7], 3));
    let want = {
        let (xv, wv, bv) = (data.to_f64(), weight.to_f64(), bias.to_f64());
        let mut y = vec![0.0; 35];
        for i in 0..5 {
            for j in 0..7 {
                y[i * 7 + j] = bv[j]
                    + (0..13)
                        .map(|k| xv[i * 13 + k] * wv[j * 13 + k])
                        .sum::<f64>();
            }
        }
        y
    };
    let out = run(
        op.as_ref(),
        &mut [data.clone(), weight.clone(), bias.clone()],
        false,
    )
    .unwrap();
    for (a, b) in out[0].to_f64().iter().zip(&want) {
        assert!((a - b).abs() < 1e-12);
    }
    let mut ins = [
        data.cast(DType::F32),
        weight.cast(DType::F32),
        bias.cast(DType::F32),
    ];
    let out = run(op.as_ref(), &mut ins, false).unwrap();
    assert_eq!(out[0].dtype(), DType::F32);
    for (a, b) in out[0].to_f64().iter().zip(&want) {
        assert!((a - b).abs() < 1e-5);
    }
}

#[test]
fn shape_inference_both_ways() {
    let op = fc(&[("num_hidden", "6")]);
    let unknown = Shape::unknown();
    // MXNet's infer_shape_partial(data=(0, 10)): weight (6, 10), bias (6,), output (0, 6).
    let (ins, outs) = infer_shapes(
        op.as_ref(),
        &[
            Shape::from_legacy(&[0, 10]),
            unknown.clone(),
            unknown.clone(),
        ],
    )
    .unwrap();
    assert_eq!(ins[1], Shape::known(&[6, 10]));
    assert_eq!(ins[2], Shape::known(&[6]));
    assert_eq!(outs[0], Shape::from_legacy(&[0, 6]));
    // Nothing is inferred before the data's rank is known (MXNet leaves the weight unknown).
    let (ins, outs) = infer_shapes(
        op.as_ref(),
        &[unknown.clone(), unknown.clone(), unknown.clone()],
    )
    .unwrap();
    assert_eq!(
        (ins[1].clone(), outs[0].clone()),
        (unknown.clone(), unknown.clone())
    );
    // flatten over (5, 2, 3, 4): weight (6, 24).
    let (ins, outs) = infer_shapes(
        op.as_ref(),
        &[
            Shape::known(&[5, 2, 3, 4]),
            unknown.clone(),
            unknown.clone(),
        ],
    )
    .unwrap();
    assert_eq!(ins[1], Shape::known(&[6, 24]));
    assert_eq!(outs[0], Shape::known(&[5, 6]));
    // An unknown non-batch axis leaves the weight's second axis unknown.
    let (ins, _) = infer_shapes(
        op.as_ref(),
        &[
            Shape::from_legacy(&[5, 0, 3]),
            unknown.clone(),
            unknown.clone(),
        ],
    )
    .unwrap();
    assert_eq!(ins[1], Shape::from_legacy(&[6, 0]));
    // The weight fills the data's feature axis of 2-D data.
    let (ins, outs) = infer_shapes(
        op.as_ref(),
        &[
            Shape::from_legacy(&[4, 0]),
            Shape::known(&[6, 10]),
            unknown.clone(),
        ],
    )
    .unwrap();
    assert_eq!(ins[0], Shape::known(&[4, 10]));
    assert_eq!(outs[0], Shape::known(&[4, 6]));

    // flatten=False: leading axes pass through and come back from the output.
    let op = fc(&[
        ("num_hidden", "6"),
        ("flatten", "False"),
        ("no_bias", "True"),
    ]);
    let (ins, outs) = infer_shapes(
        op.as_ref(),
        &[Shape::from_legacy(&[2, 0, 3]), unknown.clone()],
    )
    .unwrap();
    assert_eq!(ins[1], Shape::known(&[6, 3]));
    assert_eq!(outs[0], Shape::from_legacy(&[2, 0, 6]));
}

#[test]
fn the_batch_axis_comes_back_from_the_output() {
    use crate::registry::{Operator, ShapeCtx};
    let op = fc(&[("num_hidden", "6")]);
    let names = op.input_names();
    let mut ins = vec![
        Shape::from_legacy(&[0, 10]),
        Shape::unknown(),
        Shape::unknown(),
    ];
    let mut outs = vec![Shape::known(&[4, 6])];
    Operator::infer_shape(
        op.as_ref(),
        &mut ShapeCtx::new("FullyConnected", &names, &mut ins, &mut outs),
    )
    .unwrap();
    assert_eq!(ins[0], Shape::known(&[4, 10]));
}

#[test]
fn shape_errors_name_the_operator_and_input() {
    let op = fc(&[("num_hidden", "6")]);
    let err = infer_shapes(
        op.as_ref(),
        &[
            Shape::known(&[4, 10]),
            Shape::known(&[6, 9]),
            Shape::unknown(),
        ],
    )
    .unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::Shape { .. }), "{msg}");
    assert!(
        msg.contains("FullyConnected") && msg.contains("weight") && msg.contains("(6, 9)"),
        "{msg}"
    );
    let err = infer_shapes(
        op.as_ref(),
        &[
            Shape::known(&[4, 10]),
            Shape::unknown(),
            Shape::known(&[6, 1]),
        ],
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("bias"), "{err}");
    // A wrong input count is caught before the kernel.
    let err = run(
        op.as_ref(),
        &mut [HostTensor::from_f32(&[1, 3], vec![0.0; 3]), w()],
        false,
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            Error::InputCount {
                expected: 3,
                got: 2,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn gradients() {
    let opts = GradCheck::default();
    type Case<'a> = (&'a [(&'a str, &'a str)], Vec<HostTensor>);
    let cases: [Case<'_>; 4] = [
        (
            &[("num_hidden", "4")],
            vec![t64(&[3, 5], 1), t64(&[4, 5], 2), t64(&[4], 3)],
        ),
        (
            &[("num_hidden", "4"), ("no_bias", "True")],
            vec![t64(&[3, 5], 4), t64(&[4, 5], 5)],
        ),
        (
            &[("num_hidden", "3")],
            vec![t64(&[2, 2, 1, 3], 6), t64(&[3, 6], 7), t64(&[3], 8)],
        ),
        (
            &[("num_hidden", "3"), ("flatten", "False")],
            vec![t64(&[2, 2, 4], 9), t64(&[3, 4], 10), t64(&[3], 11)],
        ),
    ];
    for (attrs, inputs) in cases {
        check_gradient(&fc(attrs), &inputs, &opts).unwrap_or_else(|e| panic!("{attrs:?}: {e}"));
    }
}

#[test]
fn backward_op_by_name() {
    let op = make_op("_backward_FullyConnected", &[("num_hidden", "2")]);
    assert_eq!(op.num_outputs(), 3);
    assert_eq!(op.inplace_option(), vec![(1, 0)]);
    let g = HostTensor::from_f32(&[2, 2], vec![1.0; 4]);
    let data = HostTensor::from_f32(&[2, 3], x());
    let out = run(op.as_ref(), &mut [g, data, w()], false).unwrap();
    assert_eq!(out[0].to_f64(), vec![1.5, 0.5, -0.5, 1.5, 0.5, -0.5]);
    assert_eq!(out[1].to_f64(), vec![5.0, 7.0, 9.0, 5.0, 7.0, 9.0]);
    assert_eq!(out[2].to_f64(), vec![2.0, 2.0]);
    let op = make_op(
        "_backward_FullyConnected",
        &[("num_hidden", "2"), ("no_bias", "True")],
    );
    assert_eq!(op.num_outputs(), 2);
}

#[test]
fn parameters_and_aliases() {
    let err = create("FullyConnected", &[], None).unwrap_err();
    assert!(
        matches!(&err, Error::MissingParam { name, .. } if name == "num_hidden"),
        "{err}"
    );
    let err = create("FullyConnected", &[("num_hidden", "0")], None)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("FullyConnected") && err.contains("num_hidden") && err.contains("at least 1"),
        "{err}"
    );
    let err = create("FullyConnected", &[("num_hidden", "2.5")], None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("num_hidden"), "{err}");
    let op = fc(&[
        ("num_hidden", "128"),
        ("flatten", "False"),
        ("__lr_mult__", "2"),
    ]);
    assert_eq!(
        op.attrs(),
        vec![
            ("num_hidden".to_string(), "128".to_string()),
            ("flatten".to_string(), "False".to_string())
        ]
    );
    assert_eq!(
        lookup("_npx_fully_connected").unwrap().name,
        "FullyConnected"
    );
    assert_eq!(
        lookup("_sparse_FullyConnected").unwrap().name,
        "FullyConnected"
    );
}

/// Pseudo-random float32 values in [-1, 1).
fn gpu_vals(n: usize, seed: u64) -> Vec<f32> {
    vals(n, seed).into_iter().map(|v| v as f32).collect()
}

#[test]
fn gpu_matches_cpu() {
    use crate::ops::test_util::GpuCheck;
    let gpu = GpuCheck::new(1e-5, 1e-5);
    // (data shape, num_hidden, flatten); includes size-1 axes, an empty batch and k = 0.
    let cases: &[(&[usize], usize, bool)] = &[
        (&[5, 3, 4], 7, true),
        (&[5, 3, 4], 7, false),
        (&[1, 1], 1, true),
        (&[6, 13], 33, true),
        (&[2, 1, 5], 3, false),
        (&[0, 4], 3, true),
        (&[3, 0], 2, true),
    ];
    for &(shape, h, flatten) in cases {
        for no_bias in [false, true] {
            let attrs = [
                ("num_hidden", h.to_string()),
                ("flatten", flatten.to_string()),
                ("no_bias", no_bias.to_string()),
            ];
            let attrs: Vec<(&str, &str)> = attrs.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let what = format!("{shape:?} h={h} flatten={flatten} no_bias={no_bias}");
            let size: usize = shape.iter().product();
            let k = if flatten {
                shape[1..].iter().product()
            } else {
                *shape.last().unwrap()
            };
            let x = HostTensor::from_f32(shape, gpu_vals(size, 1));
            let w = HostTensor::from_f32(&[h, k], gpu_vals(h * k, 2));
            let mut ins = vec![x.clone(), w.clone()];
            if !no_bias {
                ins.push(HostTensor::from_f32(&[h], gpu_vals(h, 3)));
            }
            // GEMM sums may be ordered differently on cuBLAS: 1e-5 relative, 1e-5 absolute for
            // sums that cancel.
            gpu.check(fc(&attrs).as_ref(), &ins, &format!("forward {what}"));
            let y = run(fc(&attrs).as_ref(), &mut ins.clone(), true)
                .unwrap()
                .remove(0);
            let g = HostTensor::from_f32(y.shape(), gpu_vals(y.shape().iter().product(), 4));
            if k == 0 && !no_bias {
                // The CPU kernel derives the row count from the data (size / k), so with k = 0
                // its bias gradient is zeros; the GPU kernel's is the head gradient's row sum.
                continue;
            }
            let back = make_op("_backward_FullyConnected", &attrs);
            gpu.check(back.as_ref(), &[g, x, w], &format!("backward {what}"));
        }
    }
}

/// `_backward_FullyConnected`'s in-place option (data gradient in the data's memory), on the
/// GPU: the data must be read (for the weight gradient) before the data gradient overwrites it.
#[test]
fn gpu_backward_in_place_data_gradient() {
    use crate::check::gpu::test_device;
    use crate::registry::{GpuOpContext, GpuTensor};
    use mxr_kernels::cuda::{DeviceSlice, memory};
    let dev = test_device().unwrap();
    let attrs = [("num_hidden", "3")];
    let (x, w, g) = (
        HostTensor::from_f32(&[4, 5], gpu_vals(20, 1)),
        HostTensor::from_f32(&[3, 5], gpu_vals(15, 2)),
        HostTensor::from_f32(&[4, 3], gpu_vals(12, 3)),
    );
    let back = make_op("_backward_FullyConnected", &attrs);
    let want = run(back.as_ref(), &mut [g.clone(), x.clone(), w.clone()], true).unwrap();
    let upload = |t: &HostTensor| {
        let b = dev.alloc(t.bytes().len()).unwrap();
        memory::write(&dev, DeviceSlice::of_buffer(&b), t.bytes()).unwrap();
        b
    };
    let (gb, xb, wb) = (upload(&g), upload(&x), upload(&w));
    let (dwb, dbb) = (upload(&want[1]), upload(&want[2]));
    fn view<'a>(t: &'a HostTensor, b: &'a mxr_engine::gpu::GpuBuffer) -> GpuTensor<'a> {
        GpuTensor::new("test", t.shape(), t.dtype(), DeviceSlice::of_buffer(b)).unwrap()
    }
    // The data gradient (output 0) is the data's buffer (input 1).
    let in_views = [view(&g, &gb), view(&x, &xb), view(&w, &wb)];
    let out_views = [view(&x, &xb), view(&want[1], &dwb), view(&want[2], &dbb)];
    let mut ctx = GpuOpContext::new(true, &dev);
    back.forward_gpu(&mut ctx, &in_views, &out_views).unwrap();
    dev.synchronize().unwrap();
    for (b, t) in [(&xb, &want[0]), (&dwb, &want[1]), (&dbb, &want[2])] {
        let mut got = t.clone();
        memory::read(&dev, DeviceSlice::of_buffer(b), got.bytes_mut()).unwrap();
        assert_close(&got.to_f64(), &t.to_f64(), 1e-5, 1e-5);
    }
}
