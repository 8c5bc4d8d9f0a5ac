//! Reference values from MXNet 1.9.1 (`mx.nd.sgd_update(..., out=w)` etc. on the inputs below),
//! compared bit for bit.
#![allow(clippy::excessive_precision)] // MXNet's printed values, kept as printed.

use mxr_kernels::DType;

use crate::check::{GradCheck, HostTensor, check_gradient, run};
use crate::ops::test_util::{assert_create_err, make_op, xorshift_f32};
use crate::registry::create;

const W: [f64; 6] = [1.0, -2.0, 3.0, 0.5, -0.25, 1.5];
const G: [f64; 6] = [0.5, 3.0, -4.0, 0.1, -0.7, 2.2];
const M: [f64; 6] = [0.1, -0.2, 0.0, 0.3, -0.05, 0.7];
const V: [f64; 6] = [0.01, 0.2, 0.0, 0.5, 0.03, 1.1];

fn t(values: &[f64], dtype: DType) -> HostTensor {
    HostTensor::from_f64_as(&[2, 3], values, dtype)
}

/// Bitwise equality (float32 results are exact in f64, as are the reference values).
fn assert_bits(got: &HostTensor, want: &[f64], what: &str) {
    let got = got.to_f64();
    assert_eq!(got.len(), want.len(), "{what}");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert_eq!(
            g.to_bits(),
            w.to_bits(),
            "{what}[{i}]: got {g:e}, MXNet {w:e}"
        );
    }
}

fn sgd(dtype: DType, params: &[(&str, &str)], want: &[f64]) {
    let op = make_op("sgd_update", params);
    let mut inputs = [t(&W, dtype), t(&G, dtype)];
    let out = run(op.as_ref(), &mut inputs, false).unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].dtype(), dtype);
    assert_eq!(out[0].shape(), &[2, 3]);
    assert_bits(&out[0], want, &format!("sgd_update {dtype} {params:?}"));
    assert_eq!(inputs[1].to_f64(), t(&G, dtype).to_f64(), "grad untouched");
}

#[test]
#[rustfmt::skip]
fn sgd_update_matches_mxnet() {
    let f = DType::F32;
    sgd(
        f,
        &[("lr", "0.1")],
        &[0.949999988079071, -2.299999952316284, 3.4000000953674316, 0.49000000953674316, -0.18000000715255737, 1.2799999713897705],
    );
    sgd(
        f,
        &[("lr", "0.1"), ("wd", "0.01"), ("rescale_grad", "0.5")],
        &[0.9740000367164612, -2.1480000019073486, 3.197000026702881, 0.4945000112056732, -0.2147500067949295, 1.3884999752044678],
    );
    sgd(
        f,
        &[
            ("lr", "0.05"),
            ("wd", "0.1"),
            ("rescale_grad", "2.0"),
            ("clip_gradient", "1.5"),
        ],
        &[0.9449999928474426, -2.065000057220459, 3.06000018119812, 0.48750001192092896, -0.17875000834465027, 1.4175000190734863],
    );
    // clip_gradient = 0 clips every gradient to zero (MXNet clips whenever clip_gradient >= 0).
    sgd(f, &[("lr", "0.1"), ("clip_gradient", "0")], &W);

    let d = DType::F64;
    sgd(
        d,
        &[("lr", "0.1")],
        &[0.9499999992549419, -2.3000000044703484, 3.4000000059604645, 0.4899999998509884, -0.1799999989569187, 1.2799999967217446],
    );
    sgd(
        d,
        &[("lr", "0.1"), ("wd", "0.01"), ("rescale_grad", "0.5")],
        &[0.9739999996349216, -2.1480000022500754, 3.197000003002584, 0.4944999999292195, -0.214749999480322, 1.388499998372048],
    );
    sgd(
        d,
        &[
            ("lr", "0.05"),
            ("wd", "0.1"),
            ("rescale_grad", "2.0"),
            ("clip_gradient", "1.5"),
        ],
        &[0.9449999991059304, -2.065000000819564, 3.060000000670552, 0.4874999997764826, -0.1787499989196658, 1.4174999986588954],
    );
    sgd(d, &[("lr", "0.1"), ("clip_gradient", "0")], &W);
}

fn sgd_mom(dtype: DType, params: &[(&str, &str)], want_w: &[f64], want_mom: &[f64]) {
    let op = make_op("sgd_mom_update", params);
    assert_eq!(op.mutate_inputs(), vec![2]);
    let mut inputs = [t(&W, dtype), t(&G, dtype), t(&M, dtype)];
    let out = run(op.as_ref(), &mut inputs, false).unwrap();
    assert_eq!(out.len(), 1);
    let what = format!("sgd_mom_update {dtype} {params:?}");
    assert_bits(&out[0], want_w, &what);
    assert_bits(&inputs[2], want_mom, &format!("{what} mom"));
}

#[test]
#[rustfmt::skip]
fn sgd_mom_update_matches_mxnet() {
    let f = DType::F32;
    sgd_mom(
        f,
        &[("lr", "0.1"), ("momentum", "0.9")],
        &[1.0399999618530273, -2.4800000190734863, 3.4000000953674316, 0.7599999904632568, -0.22499999403953552, 1.909999966621399],
        &[0.03999999538064003, -0.48000001907348633, 0.4000000059604645, 0.2600000202655792, 0.02500000223517418, 0.4099999666213989],
    );
    sgd_mom(
        f,
        &[
            ("lr", "0.1"),
            ("momentum", "0.9"),
            ("wd", "0.01"),
            ("rescale_grad", "0.5"),
            ("clip_gradient", "1.0"),
        ],
        &[1.0640000104904175, -2.2779998779296875, 3.0970001220703125, 0.7645000219345093, -0.25975000858306885, 2.0285000801086426],
        &[0.06399999558925629, -0.27799999713897705, 0.09700000286102295, 0.2645000219345093, -0.009749997407197952, 0.528499960899353],
    );
    let d = DType::F64;
    sgd_mom(
        d,
        &[("lr", "0.1"), ("momentum", "0.9")],
        &[1.039999996870756, -2.4799999997019766, 3.4000000059604645, 0.7599999926984311, -0.22499999776482582, 1.9099999800324439],
        &[0.03999999687075616, -0.4799999997019768, 0.4000000059604645, 0.25999999269843105, 0.025000002235174172, 0.4099999800324439],
    );
    sgd_mom(
        d,
        &[
            ("lr", "0.1"),
            ("momentum", "0.9"),
            ("wd", "0.01"),
            ("rescale_grad", "0.5"),
            ("clip_gradient", "1.0"),
        ],
        &[1.0639999972507357, -2.2779999967366455, 3.097000001512468, 0.7644999927766621, -0.2597499982882291, 2.028499981831759],
        &[0.06399999725073577, -0.2779999967366457, 0.09700000151246786, 0.26449999277666214, -0.00974999828822911, 0.5284999818317592],
    );
}

fn adam(dtype: DType, params: &[(&str, &str)], want: [&[f64]; 3]) {
    let op = make_op("adam_update", params);
    assert_eq!(op.mutate_inputs(), vec![2, 3]);
    let mut inputs = [t(&W, dtype), t(&G, dtype), t(&M, dtype), t(&V, dtype)];
    let out = run(op.as_ref(), &mut inputs, false).unwrap();
    let what = format!("adam_update {dtype} {params:?}");
    assert_bits(&out[0], want[0], &what);
    assert_bits(&inputs[2], want[1], &format!("{what} mean"));
    assert_bits(&inputs[3], want[2], &format!("{what} var"));
    assert_eq!(inputs[1].to_f64(), t(&G, dtype).to_f64(), "grad untouched");
}

#[test]
#[rustfmt::skip]
fn adam_update_matches_mxnet() {
    let f = DType::F32;
    adam(
        f,
        &[("lr", "0.01")],
        [
            &[0.9861650466918945, -2.0026261806488037, 3.031622886657715, 0.4960382580757141, -0.24341079592704773, 1.4919092655181885],
            &[0.14000001549720764, 0.12000007927417755, -0.40000009536743164, 0.2800000011920929, -0.11500000953674316, 0.8500000238418579],
            &[0.010239996947348118, 0.20879988372325897, 0.015999794006347656, 0.4995100200176239, 0.030459992587566376, 1.1037399768829346],
        ],
    );
    // Clipping applies to rescale_grad·g + wd·w (after the weight decay).
    let clipped = [
        ("lr", "0.01"),
        ("beta1", "0.8"),
        ("beta2", "0.99"),
        ("epsilon", "1e-06"),
        ("wd", "0.1"),
        ("rescale_grad", "0.5"),
        ("clip_gradient", "0.8"),
    ];
    adam(
        f,
        &clipped,
        [
            &[0.9857787489891052, -2.0, 3.0199997425079346, 0.4963048994541168, -0.2434796392917633, 1.4931206703186035],
            &[0.15000000596046448, -1.4901161193847656e-08, -0.1599999964237213, 0.2600000202655792, -0.11499999463558197, 0.7200000286102295],
            &[0.011124998331069946, 0.2043999880552292, 0.006399994250386953, 0.4950999915599823, 0.03110624849796295, 1.0953999757766724],
        ],
    );
    let d = DType::F64;
    adam(
        d,
        &[("lr", "0.01")],
        [
            &[0.9861650338834139, -2.0026261309231517, 3.0316229845016456, 0.49603826053415295, -0.24341079594523002, 1.4919093102333276],
            &[0.1400000095367432, 0.1200000762939453, -0.40000009536743164, 0.27999999523162844, -0.11500001549720765, 0.8500000357627868],
            &[0.010239996910095216, 0.20879988670349123, 0.015999794006347656, 0.4995100063085556, 0.030459994077682493, 1.1037399518489839],
        ],
    );
    adam(
        d,
        &clipped,
        [
            &[0.9857787708290803, -1.99999999978906, 3.019999757900533, 0.49630489945616096, -0.24347964063546607, 1.4931206769645717],
            &[0.14999999731779096, -9.536743311722162e-09, -0.15999999284744248, 0.2600000025331974, -0.11499999620020387, 0.7200000011920927],
            &[0.011124998937547197, 0.2043999959945677, 0.0063999940872190575, 0.4951000046744943, 0.031106248947791754, 1.0954000045776366],
        ],
    );
}

#[test]
fn parameters_follow_mxnet() {
    assert_create_err("sgd_update", &[], &["lr"]);
    assert_create_err(
        "sgd_mom_update",
        &[("lr", "0.1"), ("mom", "0.9")],
        &["momentum"],
    );
    let op = make_op("adam_update", &[("lr", "0.01"), ("lazy_update", "False")]);
    assert_eq!(
        op.attrs(),
        vec![
            ("lr".to_string(), "0.01".to_string()),
            ("lazy_update".to_string(), "False".to_string())
        ]
    );
    assert_eq!(op.input_names(), ["weight", "grad", "mean", "var"]);
    let specs = crate::registry::lookup("adam_update").unwrap().params();
    let names: Vec<&str> = specs.iter().map(|s| s.name).collect();
    assert_eq!(
        names,
        [
            "lr",
            "beta1",
            "beta2",
            "epsilon",
            "wd",
            "rescale_grad",
            "clip_gradient",
            "lazy_update"
        ]
    );
    assert_eq!(specs[0].default, None);
    // As MXNet documents it (`epsilon : float, optional, default=1e-08`).
    assert_eq!(specs[3].default.as_deref(), Some("1e-08"));
}

#[test]
fn shapes_dtypes_and_gradients() {
    let op = make_op("sgd_mom_update", &[("lr", "0.1")]);
    let mut bad = [
        t(&W, DType::F32),
        HostTensor::from_f32(&[6], G.map(|g| g as f32).to_vec()),
        t(&M, DType::F32),
    ];
    assert!(run(op.as_ref(), &mut bad, false).is_err(), "shape mismatch");
    let mut ints = [
        HostTensor::from_vec(&[2], vec![1i32, 2]),
        HostTensor::from_vec(&[2], vec![1i32, 2]),
        HostTensor::from_vec(&[2], vec![0i32, 0]),
    ];
    let err = run(op.as_ref(), &mut ints, false).unwrap_err();
    assert!(err.to_string().contains("sgd_mom_update"), "{err}");
    // No gradient: MXNet registers none.
    let err = check_gradient(
        &op,
        &[t(&W, DType::F64), t(&G, DType::F64), t(&M, DType::F64)],
        &GradCheck::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("gradient"), "{err}");
}

/// `mx.nd.multi_sgd_update(w0, g0, w1, g1, out=[w0, w1], num_weights=2, ...)` and the momentum
/// form with `m0`, `m1`; weight 1 is `W[:4]` with gradient `G[2:]` and momentum `M[1:5]`.
fn multi(dtype: DType, momentum: bool, params: &[(&str, &str)], want: [&[f64]; 4]) {
    let name = if momentum {
        "multi_sgd_mom_update"
    } else {
        "multi_sgd_update"
    };
    let mut attrs = params.to_vec();
    attrs.push(("num_weights", "2"));
    if momentum {
        attrs.push(("momentum", "0.9"));
    }
    let op = make_op(name, &attrs);
    let v = |values: &[f64]| HostTensor::from_f64_as(&[values.len()], values, dtype);
    let mut inputs = if momentum {
        vec![v(&W), v(&G), v(&M), v(&W[..4]), v(&G[2..]), v(&M[1..5])]
    } else {
        vec![v(&W), v(&G), v(&W[..4]), v(&G[2..])]
    };
    let out = run(op.as_ref(), &mut inputs, false).unwrap();
    let what = format!("{name} {dtype} {params:?}");
    assert_eq!(out.len(), 2);
    assert_bits(&out[0], want[0], &what);
    assert_bits(&out[1], want[1], &what);
    if momentum {
        assert_eq!(op.mutate_inputs(), vec![2, 5]);
        assert_bits(&inputs[2], want[2], &format!("{what} mom_0"));
        assert_bits(&inputs[5], want[3], &format!("{what} mom_1"));
    }
}

#[test]
#[rustfmt::skip]
fn multi_sgd_matches_mxnet() {
    let plain = [("lrs", "(0.1, 0.05)"), ("wds", "(0.05, 0.0)")];
    let clipped = [
        ("lrs", "(0.1, 0.05)"),
        ("wds", "(0.05, 0.1)"),
        ("rescale_grad", "0.5"),
        ("clip_gradient", "0.6"),
    ];
    let f = DType::F32;
    multi(
        f,
        false,
        &plain,
        [
            &[0.9449999928474426, -2.2899999618530273, 3.384999990463257, 0.48750001192092896, -0.17875000834465027, 1.2725000381469727],
            &[1.2000000476837158, -2.005000114440918, 3.0350000858306885, 0.38999998569488525],
            &[],
            &[],
        ],
    );
    multi(
        f,
        true,
        &plain,
        [
            &[1.034999966621399, -2.4700000286102295, 3.384999990463257, 0.7575000524520874, -0.22374999523162842, 1.9024999141693115],
            &[1.0199999809265137, -2.005000114440918, 3.305000066757202, 0.3449999988079071],
            &[0.034999992698431015, -0.4699999988079071, 0.38499999046325684, 0.257500022649765, 0.026250001043081284, 0.4024999737739563],
            &[0.02000001072883606, -0.005000000353902578, 0.3050000071525574, -0.1550000011920929],
        ],
    );
    multi(
        f,
        false,
        &clipped,
        [
            &[0.9700000286102295, -2.049999952316284, 3.0450000762939453, 0.4925000071525574, -0.21375000476837158, 1.4325000047683716],
            &[1.024999976158142, -1.9924999475479126, 3.002500057220459, 0.4675000011920929],
            &[],
            &[],
        ],
    );
    multi(
        f,
        true,
        &clipped,
        [
            &[1.059999942779541, -2.2300000190734863, 3.0450000762939453, 0.7625000476837158, -0.25874999165534973, 2.0625],
            &[0.8450000286102295, -1.9924999475479126, 3.2725000381469727, 0.42250001430511475],
            &[0.059999994933605194, -0.22999998927116394, 0.04500000178813934, 0.26250001788139343, -0.008749999105930328, 0.5625],
            &[-0.1549999862909317, 0.007500000298023224, 0.27250000834465027, -0.07750000059604645],
        ],
    );
    let d = DType::F64;
    multi(
        d,
        false,
        &plain,
        [
            &[0.9449999991059304, -2.290000004172325, 3.3850000055134295, 0.48749999977648256, -0.1787499989196658, 1.272499996498227],
            &[1.2000000029802322, -2.0050000000745056, 3.0350000005215407, 0.3899999983608723],
            &[],
            &[],
        ],
    );
    multi(
        d,
        true,
        &plain,
        [
            &[1.0349999967217445, -2.4699999994039534, 3.3850000055134295, 0.7574999926239252, -0.22374999772757292, 1.9024999798089266],
            &[1.0200000077486038, -2.0050000000745056, 3.304999993368983, 0.3449999995529651],
            &[0.034999996721744545, -0.46999999940395354, 0.3850000055134296, 0.25749999262392526, 0.026250002272427075, 0.40249997980892654],
            &[0.020000007748603804, -0.005000000074505806, 0.30499999336898326, -0.15500000044703485],
        ],
    );
    multi(
        d,
        false,
        &clipped,
        [
            &[0.9699999994784594, -2.0500000029802323, 3.0450000028312205, 0.4924999998509884, -0.21374999944120646, 1.432499996498227],
            &[1.0250000014901162, -1.9924999997392296, 3.0024999998137356, 0.46749999828636646],
            &[],
            &[],
        ],
    );
    multi(
        d,
        true,
        &clipped,
        [
            &[1.0599999970942735, -2.2299999982118606, 3.0450000028312205, 0.762499992698431, -0.25874999824911354, 2.0624999798089263],
            &[0.8450000062584877, -1.9924999997392296, 3.272499992661178, 0.42249999947845934],
            &[0.059999997094273574, -0.2299999982118607, 0.04500000283122066, 0.26249999269843105, -0.008749998249113565, 0.5624999798089265],
            &[-0.1549999937415123, 0.0075000002607703235, 0.27249999266117814, -0.07750000052154066],
        ],
    );
}

#[test]
fn multi_sgd_checks_its_lists() {
    let err = create(
        "multi_sgd_update",
        &[("lrs", "(0.1, 0.2)"), ("wds", "(0, 0)")],
        None,
    )
    .unwrap_err();
    assert!(err.to_string().contains("lrs"), "{err}");
    let err = create(
        "multi_sgd_update",
        &[("lrs", "(0.1,)"), ("wds", "(0, 0)")],
        None,
    )
    .unwrap_err();
    assert!(err.to_string().contains("wds"), "{err}");
    let err = create(
        "multi_sgd_mom_update",
        &[("lrs", "()"), ("wds", "()"), ("num_weights", "0")],
        None,
    )
    .unwrap_err();
    assert!(err.to_string().contains("num_weights"), "{err}");
    let op = make_op(
        "multi_sgd_mom_update",
        &[
            ("lrs", "(0.1, 0.2)"),
            ("wds", "(0, 0)"),
            ("num_weights", "2"),
        ],
    );
    assert_eq!(
        op.input_names(),
        ["weight_0", "grad_0", "mom_0", "weight_1", "grad_1", "mom_1"]
    );
    assert_eq!(op.num_outputs(), 2);
    // Each weight's group has one shape (groups may differ) and one dtype.
    let mut bad = vec![
        HostTensor::from_f32(&[2], vec![1.0, 2.0]),
        HostTensor::from_f32(&[3], vec![1.0, 2.0, 3.0]),
        HostTensor::from_f32(&[2], vec![0.0, 0.0]),
        HostTensor::from_f32(&[1], vec![1.0]),
        HostTensor::from_f32(&[1], vec![1.0]),
        HostTensor::from_f32(&[1], vec![0.0]),
    ];
    assert!(run(op.as_ref(), &mut bad, false).is_err());
    bad[1] = HostTensor::from_vec(&[2], vec![1.0f64, 2.0]);
    let err = run(op.as_ref(), &mut bad, false).unwrap_err();
    assert!(err.to_string().contains("dtype"), "{err}");
}

#[test]
fn gpu_matches_cpu() {
    use crate::check::gpu::{compare_with_cpu, test_device};
    let dev = test_device().unwrap();
    // Every parameter: weight decay, rescaling, clipping off / on / at zero, lazy_update.
    let common: &[&[(&str, &str)]] = &[
        &[("lr", "0.1")],
        &[("lr", "0.05"), ("wd", "0.01"), ("rescale_grad", "0.5")],
        &[
            ("lr", "0.2"),
            ("wd", "0.1"),
            ("clip_gradient", "0.3"),
            ("lazy_update", "false"),
        ],
        &[("lr", "0.2"), ("clip_gradient", "0")],
    ];
    for n in [0, 1, 37, 1000] {
        // Gradients up to ±4, so that clipping matters; NaN passes through the clip.
        let (w, mut g) = (
            xorshift_f32(&[n], 1, -1.0, 1.0),
            xorshift_f32(&[n], 2, -4.0, 4.0),
        );
        if n > 1 {
            let mut v = g.to_f32();
            v[1] = f32::NAN;
            g = HostTensor::from_f32(&[n], v);
        }
        let (m, v) = (
            xorshift_f32(&[n], 3, -0.5, 0.5),
            xorshift_f32(&[n], 4, -1.0, 1.0),
        );
        let v = HostTensor::from_f32(&[n], v.to_f32().iter().map(|x| x.abs()).collect());
        for attrs in common {
            let what = format!("n={n} {attrs:?}");
            // One rounding per operation in the same order; a GPU may fuse a multiply-add.
            let (rtol, atol) = (1e-6, 1e-7);
            let op = make_op("sgd_update", attrs);
            compare_with_cpu(
                op.as_ref(),
                &dev,
                &[w.clone(), g.clone()],
                false,
                rtol,
                atol,
            )
            .unwrap_or_else(|e| panic!("sgd_update {what}: {e}"));
            let mut mom_attrs = attrs.to_vec();
            mom_attrs.push(("momentum", "0.9"));
            let op = make_op("sgd_mom_update", &mom_attrs);
            let ins = [w.clone(), g.clone(), m.clone()];
            compare_with_cpu(op.as_ref(), &dev, &ins, false, rtol, atol)
                .unwrap_or_else(|e| panic!("sgd_mom_update {what}: {e}"));
            let mut adam_attrs = attrs.to_vec();
            adam_attrs.extend([("beta1", "0.8"), ("beta2", "0.99"), ("epsilon", "1e-6")]);
            let op = make_op("adam_update", &adam_attrs);
            let ins = [w.clone(), g.clone(), m.clone(), v.clone()];
            compare_with_cpu(op.as_ref(), &dev, &ins, false, rtol, atol)
                .unwrap_or_else(|e| panic!("adam_update {what}: {e}"));
        }
    }
    // The multi-weight forms: two weights with their own rates and sizes.
    let (w0, g0, m0) = (
        xorshift_f32(&[5], 5, -1.0, 1.0),
        xorshift_f32(&[5], 6, -4.0, 4.0),
        xorshift_f32(&[5], 7, -0.5, 0.5),
    );
    let (w1, g1, m1) = (
        xorshift_f32(&[3], 8, -1.0, 1.0),
        xorshift_f32(&[3], 9, -4.0, 4.0),
        xorshift_f32(&[3], 10, -0.5, 0.5),
    );
    for clip in ["-1", "0.5"] {
        let attrs = [
            ("lrs", "(0.1, 0.2)"),
            ("wds", "(0.01, 0.0)"),
            ("rescale_grad", "0.5"),
            ("clip_gradient", clip),
            ("num_weights", "2"),
        ];
        let op = make_op("multi_sgd_update", &attrs);
        let ins = [w0.clone(), g0.clone(), w1.clone(), g1.clone()];
        compare_with_cpu(op.as_ref(), &dev, &ins, false, 1e-6, 1e-7)
            .unwrap_or_else(|e| panic!("multi_sgd_update clip {clip}: {e}"));
        let mut attrs = attrs.to_vec();
        attrs.push(("momentum", "0.9"));
        let op = make_op("multi_sgd_mom_update", &attrs);
        let ins = [
            w0.clone(),
            g0.clone(),
            m0.clone(),
            w1.clone(),
            g1.clone(),
            m1.clone(),
        ];
        compare_with_cpu(op.as_ref(), &dev, &ins, false, 1e-6, 1e-7)
            .unwrap_or_else(|e| panic!("multi_sgd_mom_update clip {clip}: {e}"));
    }
}
