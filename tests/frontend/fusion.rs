//! The executor's fused inference program (`mxr::exec`'s fusion): fused and unfused executors
//! agree on ResNet-style graphs and on the conformance cases; parameters changed after the first
//! inference (with no wait) and training through another executor that shares the arrays are
//! seen by the next inference; switched off and on per executor.

use mxr::engine::Context;
use mxr::exec::{Executor, GradReq};
use mxr::nd::NDArray;
use mxr::sym::{self, Symbol};

use crate::conformance::fixture;

/// Deterministic values in [lo, hi).
fn values(n: usize, seed: u64, lo: f32, hi: f32) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            lo + (hi - lo) * ((s >> 40) as f32 / (1u64 << 24) as f32)
        })
        .collect()
}

fn conv(x: &Symbol, name: &str, k: usize, f: usize, s: usize, bias: bool) -> Symbol {
    sym::convolution(x, &[k, k], f)
        .param("stride", &[s, s][..])
        .param("pad", &[k / 2, k / 2][..])
        .param("no_bias", !bias)
        .name(name)
        .build()
        .unwrap()
}

fn bn(x: &Symbol, name: &str, fix_gamma: bool) -> Symbol {
    sym::batch_norm(x)
        .param("fix_gamma", fix_gamma)
        .param("eps", 1e-5)
        .name(name)
        .build()
        .unwrap()
}

fn relu(x: &Symbol, name: &str) -> Symbol {
    sym::activation(x, "relu").name(name).build().unwrap()
}

fn add(a: &Symbol, b: &Symbol, name: &str) -> Symbol {
    sym::elemwise_add(a, b).name(name).build().unwrap()
}

/// A small ResNet: a plain-input 7×7/2 stem with BatchNorm and ReLU, max pooling, a basic
/// block with an identity shortcut, a strided block with a projection shortcut, a
/// convolution with a bias and no BatchNorm, global average pooling and a classifier; and a
/// second output reading an intermediate activation (which must not be fused away).
fn small_resnet() -> Symbol {
    let data = Symbol::variable("data");
    let x = relu(
        &bn(&conv(&data, "stem", 7, 16, 2, false), "stem_bn", false),
        "stem_relu",
    );
    let x = sym::pooling(&x, &[3, 3], "max")
        .param("stride", &[2, 2][..])
        .param("pad", &[1, 1][..])
        .name("pool0")
        .build()
        .unwrap();
    let y = relu(
        &bn(&conv(&x, "b1c1", 3, 16, 1, false), "b1bn1", false),
        "b1r1",
    );
    let y = bn(&conv(&y, "b1c2", 3, 16, 1, false), "b1bn2", true);
    let x = relu(&add(&y, &x, "b1add"), "b1r2");
    let y = relu(
        &bn(&conv(&x, "b2c1", 3, 40, 2, false), "b2bn1", false),
        "b2r1",
    );
    let y = bn(&conv(&y, "b2c2", 3, 40, 1, false), "b2bn2", false);
    let short = bn(&conv(&x, "b2down", 1, 40, 2, false), "b2bnd", false);
    let x = relu(&add(&short, &y, "b2add"), "b2r2");
    let x = relu(&conv(&x, "head", 3, 24, 1, true), "head_relu");
    let side = sym::pooling(&x, &[1, 1], "avg")
        .param("global_pool", true)
        .name("gap")
        .build()
        .unwrap();
    let out = sym::fully_connected(&sym::flatten(&side).build().unwrap(), 10)
        .name("fc")
        .build()
        .unwrap();
    Symbol::group([out, x])
}

/// Binds `net` for inference on `data_shape` with seeded parameters (positive variances).
fn bind(net: &Symbol, data_shape: &[usize], fusion: bool) -> Executor {
    let mut exe = net
        .simple_bind(Context::cpu(0), &[("data", data_shape)], GradReq::Null, &[])
        .unwrap();
    exe.set_fusion(fusion);
    fill(&exe, 1);
    exe
}

/// `net` bound twice as [`bind`] does: with fusion, and without.
fn fused_and_plain(net: &Symbol, data_shape: &[usize]) -> (Executor, Executor) {
    (bind(net, data_shape, true), bind(net, data_shape, false))
}

/// Seeds every argument and auxiliary state of `exe`.
fn fill(exe: &Executor, seed: u64) {
    let mut names: Vec<(String, NDArray)> = exe.arg_dict().into_iter().collect();
    names.extend(exe.aux_dict());
    names.sort_by(|a, b| a.0.cmp(&b.0));
    for (k, (name, a)) in names.iter().enumerate() {
        let s = seed * 1000 + k as u64;
        let v = if name.ends_with("moving_var") || name.ends_with("gamma") {
            values(a.size(), s, 0.5, 1.5)
        } else if name.ends_with("weight") {
            values(a.size(), s, -0.3, 0.3)
        } else {
            values(a.size(), s, -0.5, 0.5)
        };
        a.assign_slice(&v).unwrap();
    }
}

/// Asserts `|a − b| <= 1e-5 · max|b|` element by element (the tolerance).
fn assert_close(what: &str, got: &NDArray, want: &NDArray) {
    assert_eq!(got.shape(), want.shape(), "{what}");
    let (g, w) = (got.to_vec::<f32>().unwrap(), want.to_vec::<f32>().unwrap());
    let scale = w.iter().fold(0.0f32, |m, v| m.max(v.abs())).max(1e-30);
    for (i, (a, b)) in g.iter().zip(&w).enumerate() {
        assert!(
            (a - b).abs() <= 1e-5 * scale,
            "{what}[{i}]: fused {a}, unfused {b} (max |b| {scale})"
        );
    }
}

fn outputs_agree(fused: &Executor, plain: &Executor) {
    for (k, (a, b)) in fused.outputs().iter().zip(plain.outputs()).enumerate() {
        assert_close(&format!("output {k}"), a, &b);
    }
}

#[test]
fn fused_and_unfused_executors_agree_on_a_resnet() {
    let net = small_resnet();
    for shape in [[1, 3, 29, 31], [3, 3, 32, 32]] {
        let (mut fused, mut plain) = fused_and_plain(&net, &shape);
        for _ in 0..2 {
            fused.forward(false).unwrap();
            plain.forward(false).unwrap();
            outputs_agree(&fused, &plain);
        }
        // stem, b1c1, b1c2 (+ add + relu), b2c1, b2c2 (+ add + relu), b2down, head (+ relu).
        assert_eq!(fused.fused_convolutions(), 7);
        assert_eq!(plain.fused_convolutions(), 0);
    }
}

#[test]
fn training_forward_and_executors_with_gradients_are_not_fused() {
    let net = small_resnet();
    let mut exe = bind(&net, &[1, 3, 16, 16], true);
    exe.forward(true).unwrap();
    assert_eq!(
        exe.fused_convolutions(),
        0,
        "a training forward builds nothing"
    );
    exe.forward(false).unwrap();
    assert_eq!(exe.fused_convolutions(), 7);
    let mut with_grads = net
        .simple_bind(
            Context::cpu(0),
            &[("data", &[1, 3, 16, 16])],
            GradReq::Write,
            &["data"],
        )
        .unwrap();
    // The training forward moved exe's moving statistics: start from exe's state.
    let (args, aux) = (exe.arg_dict(), exe.aux_dict());
    for (name, a) in with_grads
        .arg_dict()
        .into_iter()
        .chain(with_grads.aux_dict())
    {
        a.assign(args.get(&name).or(aux.get(&name)).unwrap())
            .unwrap();
    }
    with_grads.forward(false).unwrap();
    assert_eq!(with_grads.fused_convolutions(), 0);
    outputs_agree(&exe, &with_grads);
}

#[test]
fn parameters_assigned_after_an_inference_are_folded_again() {
    let (mut fused, mut plain) = fused_and_plain(&small_resnet(), &[2, 3, 24, 24]);
    fused.forward(false).unwrap();
    let before = fused.outputs()[0].to_vec::<f32>().unwrap();
    // No wait between these writes and the next forward: the folds must be ordered after them.
    for (exe, seed) in [(&fused, 7), (&plain, 7)] {
        let args = exe.arg_dict();
        let aux = exe.aux_dict();
        args["b1bn1_gamma"]
            .assign_slice(&values(16, seed, 2.0, 3.0))
            .unwrap();
        args["b2c2_weight"]
            .assign(&(&args["b2c2_weight"] * -1.5))
            .unwrap();
        aux["b2bnd_moving_var"].assign_scalar(4.0).unwrap();
        aux["stem_bn_moving_mean"].assign_scalar(0.25).unwrap();
        args["head_bias"].assign_scalar(1.0).unwrap();
    }
    fused.forward(false).unwrap();
    plain.forward(false).unwrap();
    outputs_agree(&fused, &plain);
    assert_ne!(
        fused.outputs()[0].to_vec::<f32>().unwrap(),
        before,
        "the change shows"
    );
    // Data written after the forward is read by the next one, as always.
    let data = values(2 * 3 * 24 * 24, 99, -1.0, 1.0);
    for exe in [&mut fused, &mut plain] {
        exe.arg_dict()["data"].assign_slice(&data).unwrap();
        exe.forward(false).unwrap();
    }
    outputs_agree(&fused, &plain);
}

#[test]
fn an_executor_infers_while_another_sharing_its_arrays_trains() {
    let head = sym::softmax_output(&small_resnet().output(0).unwrap())
        .name("softmax")
        .build()
        .unwrap();
    let shape = [2usize, 3, 20, 20];
    let mut train = head
        .simple_bind(
            Context::cpu(0),
            &[("data", &shape), ("softmax_label", &[2])],
            GradReq::Write,
            &["data", "softmax_label"],
        )
        .unwrap();
    fill(&train, 3);
    train.arg_dict()["softmax_label"]
        .assign_slice(&[1.0f32, 7.0])
        .unwrap();
    // Two inference executors over the same arrays: fused and unfused.
    let bind_shared = |fusion: bool| {
        let reqs = vec![GradReq::Null; train.arg_arrays().len()];
        let grads = vec![None; reqs.len()];
        let mut exe = head
            .bind(
                Context::cpu(0),
                train.arg_arrays().to_vec(),
                grads,
                &reqs,
                train.aux_arrays().to_vec(),
            )
            .unwrap();
        exe.set_fusion(fusion);
        exe
    };
    let mut fused = bind_shared(true);
    let mut plain = bind_shared(false);
    let params: Vec<(NDArray, NDArray)> = train
        .arg_arrays()
        .iter()
        .zip(train.grad_arrays())
        .filter_map(|(w, g)| g.clone().map(|g| (w.clone(), g)))
        .collect();
    let mut seen = Vec::new();
    for _ in 0..3 {
        train.forward(true).unwrap();
        train.backward(&[]).unwrap();
        for (w, g) in &params {
            w.assign(&(w - &(g * 0.5))).unwrap();
        }
        // No wait: the folds read the updated weights and moving statistics.
        fused.forward(false).unwrap();
        plain.forward(false).unwrap();
        outputs_agree(&fused, &plain);
        seen.push(fused.outputs()[0].to_vec::<f32>().unwrap());
    }
    assert!(
        seen.windows(2).all(|w| w[0] != w[1]),
        "each step changes the inference"
    );
    assert_eq!(fused.fused_convolutions(), 7);
}

#[test]
fn fused_executors_match_mxnet_on_the_conformance_convolutions() {
    let dir = fixture("cases");
    let mut checked = 0;
    for case in ["conv_3x3_s1_p1", "conv_5x5_s2", "conv_no_bias", "net_lenet"] {
        let case_dir = dir.join(case);
        let symbol = Symbol::load(case_dir.join("symbol.json")).unwrap();
        let inputs = match mxr::nd::load(case_dir.join("inputs.params")).unwrap() {
            mxr::nd::Loaded::Named(v) => v,
            mxr::nd::Loaded::List(_) => panic!("named inputs"),
        };
        let expected = match mxr::nd::load(case_dir.join("expected.params")).unwrap() {
            mxr::nd::Loaded::Named(v) => v,
            mxr::nd::Loaded::List(_) => panic!("named outputs"),
        };
        let data = inputs
            .iter()
            .find(|(k, _)| k == "arg:data")
            .unwrap()
            .1
            .clone();
        let mut runs = Vec::new();
        for fusion in [true, false] {
            let mut shapes: Vec<(&str, &[usize])> = vec![("data", data.shape())];
            let label;
            if let Some((_, l)) = inputs.iter().find(|(k, _)| k == "arg:softmax_label") {
                label = l.shape().to_vec();
                shapes.push(("softmax_label", &label));
            }
            let mut exe = symbol
                .simple_bind(Context::cpu(0), &shapes, GradReq::Null, &[])
                .unwrap();
            exe.set_fusion(fusion);
            let (args, aux) = (exe.arg_dict(), exe.aux_dict());
            for (key, value) in &inputs {
                let target = match key.split_once(':') {
                    Some(("arg", n)) => args.get(n),
                    Some(("aux", n)) => aux.get(n),
                    _ => None,
                };
                if let Some(t) = target {
                    t.assign(value).unwrap();
                }
            }
            exe.forward(false).unwrap();
            assert_eq!(exe.fused_convolutions() > 0, fusion, "{case}");
            runs.push(exe.outputs()[0].clone());
        }
        let want = &expected.iter().find(|(k, _)| k == "output:0").unwrap().1;
        assert_close(&format!("{case} fused vs unfused"), &runs[0], &runs[1]);
        let (g, w) = (
            runs[0].to_vec::<f32>().unwrap(),
            want.to_vec::<f32>().unwrap(),
        );
        for (i, (a, b)) in g.iter().zip(&w).enumerate() {
            assert!(
                (a - b).abs() <= 1e-4 + 1e-3 * b.abs(),
                "{case}[{i}]: {a}, MXNet {b}"
            );
        }
        checked += 1;
    }
    assert_eq!(checked, 4);
}

#[test]
fn an_executor_switches_between_fused_and_unfused_runs() {
    let (mut exe, mut plain) = fused_and_plain(&small_resnet(), &[2, 3, 18, 18]);
    plain.forward(false).unwrap();
    exe.forward(false).unwrap();
    outputs_agree(&exe, &plain);
    // The unfused path again (its intermediates were handed back while fused), then fused.
    exe.set_fusion(false);
    exe.forward(false).unwrap();
    outputs_agree(&exe, &plain);
    exe.set_fusion(true);
    exe.forward(false).unwrap();
    outputs_agree(&exe, &plain);
    // A training forward between inferences (BatchNorm on batch statistics, moving statistics
    // updated in both executors alike).
    exe.forward(true).unwrap();
    plain.forward(true).unwrap();
    outputs_agree(&exe, &plain);
    exe.forward(false).unwrap();
    plain.forward(false).unwrap();
    outputs_agree(&exe, &plain);
    assert_eq!(exe.fused_convolutions(), 7);
}

/// The operators of `exe`'s inference program, in order (from its debug string).
fn program_ops(exe: &Executor) -> Vec<String> {
    exe.inference_debug_str()
        .expect("a program")
        .lines()
        .filter_map(|l| l.strip_prefix("Op:"))
        .map(|l| l.split(',').next().unwrap_or("").to_string())
        .collect()
}

/// MobileNet's pattern: depthwise 3×3 (strides 1 and 2) and pointwise 1×1 convolutions, each
/// with BatchNorm and ReLU, global pooling and a classifier.
fn small_mobilenet() -> Symbol {
    let data = Symbol::variable("data");
    let mut x = relu(
        &bn(&conv(&data, "stem", 3, 16, 2, false), "stem_bn", false),
        "stem_r",
    );
    for (i, (c, f, s)) in [(16, 32, 1), (32, 48, 2), (48, 48, 1)]
        .into_iter()
        .enumerate()
    {
        let dw = sym::convolution(&x, &[3, 3], c)
            .param("stride", &[s, s][..])
            .param("pad", &[1, 1][..])
            .param("num_group", c)
            .param("no_bias", true)
            .name(&format!("dw{i}"))
            .build()
            .unwrap();
        x = relu(&bn(&dw, &format!("dw{i}_bn"), false), &format!("dw{i}_r"));
        let pw = conv(&x, &format!("pw{i}"), 1, f, 1, false);
        x = relu(&bn(&pw, &format!("pw{i}_bn"), false), &format!("pw{i}_r"));
    }
    let gap = sym::pooling(&x, &[1, 1], "avg")
        .param("global_pool", true)
        .name("gap")
        .build()
        .unwrap();
    sym::fully_connected(&sym::flatten(&gap).build().unwrap(), 7)
        .name("fc")
        .build()
        .unwrap()
}

/// ResNet-v2's pre-activation pattern: BatchNorm + ReLU before each convolution (standalone,
/// on blocked data), a BatchNorm on the input image (unfused, NCHW), the shortcut added
/// after the last convolution, and an addition of two plain activations.
fn small_resnet_v2() -> Symbol {
    let data = Symbol::variable("data");
    let x = bn(&data, "data_bn", true);
    let x = conv(&x, "stem", 3, 32, 1, false);
    let pre = relu(&bn(&x, "pre_bn", false), "pre_r");
    let y = relu(
        &bn(&conv(&pre, "c1", 1, 16, 1, false), "c1_bn", false),
        "c1_r",
    );
    let y = relu(
        &bn(&conv(&y, "c2", 3, 16, 1, false), "c2_bn", false),
        "c2_r",
    );
    let y = conv(&y, "c3", 1, 32, 1, false);
    let x = add(&y, &x, "add1");
    let post = relu(&bn(&x, "post_bn", false), "post_r");
    // Two activations that no convolution produces last: a standalone blocked addition.
    let z = add(&post, &pre, "add2");
    sym::pooling(&z, &[2, 2], "max")
        .param("stride", &[2, 2][..])
        .name("pool")
        .build()
        .unwrap()
}

#[test]
fn depthwise_and_pre_activation_networks_stay_blocked_and_agree() {
    for (net, shape, convs) in [
        (small_mobilenet(), [2usize, 3, 23, 23], 7),
        (small_resnet_v2(), [1, 3, 17, 15], 4),
    ] {
        let (mut fused, mut plain) = fused_and_plain(&net, &shape);
        fused.forward(false).unwrap();
        plain.forward(false).unwrap();
        outputs_agree(&fused, &plain);
        assert_eq!(fused.fused_convolutions(), convs);
        let ops = program_ops(&fused);
        // Conversions only at the edges: none between blocked operators.
        let conversions = ops.iter().filter(|o| o.ends_with("_blocked")).count();
        assert!(conversions <= 1, "{ops:?}");
        assert!(
            ops.iter().filter(|o| *o == "_from_blocked").count() <= 1,
            "{ops:?}"
        );
        assert!(ops.iter().any(|o| o == "_blocked_pool"), "{ops:?}");
        if convs == 4 {
            assert!(ops.iter().any(|o| o == "_blocked_batch_norm"), "{ops:?}");
            assert!(ops.iter().any(|o| o == "_blocked_add"), "{ops:?}");
            assert!(
                ops.iter().any(|o| o == "BatchNorm"),
                "the image's BatchNorm: {ops:?}"
            );
        }
    }
}

#[test]
fn chains_run_image_by_image_and_agree_with_layer_by_layer_runs() {
    // Every activation chains (threshold 0); batch 8 splits evenly over 1, 2, 4 or 8 threads.
    for (net, shape, convs) in [
        (small_mobilenet(), [8usize, 3, 23, 23], 7),
        (small_resnet(), [8, 3, 29, 31], 7),
    ] {
        let mut chained = bind(&net, &shape, true);
        chained.set_fusion_chains(Some(0));
        let mut layered = bind(&net, &shape, true);
        layered.set_fusion_chains(None);
        let mut plain = bind(&net, &shape, false);
        for round in 0..2 {
            if round == 1 {
                // New parameters: the chain reads the refolded weights.
                fill(&chained, 7);
                fill(&layered, 7);
                fill(&plain, 7);
            }
            chained.forward(false).unwrap();
            layered.forward(false).unwrap();
            plain.forward(false).unwrap();
            outputs_agree(&chained, &plain);
            outputs_agree(&chained, &layered);
        }
        assert_eq!(chained.fused_convolutions(), convs);
        let ops = program_ops(&chained);
        let chains = ops.iter().filter(|o| *o == "_fused_chain").count();
        let singles = ops.iter().filter(|o| *o == "_fused_conv").count();
        if convs == 7 && shape[2] == 23 {
            // MobileNet: one chain from the stem to the last pointwise convolution.
            assert_eq!((chains, singles), (1, 0), "{ops:?}");
        } else {
            // ResNet: b1c1 → b1c2 (+ residual) and b2c1 → b2c2 (+ the projection as
            // residual) → head chain; the stem (read by pooling) and b2down (its input has two
            // readers) stand alone.
            assert_eq!((chains, singles), (2, 2), "{ops:?}");
        }
        assert!(!program_ops(&layered).iter().any(|o| o == "_fused_chain"));
    }
}

#[test]
fn small_activations_and_single_images_do_not_chain() {
    let net = small_mobilenet();
    // Default threshold (8 MiB): these activations are far smaller.
    let mut small = bind(&net, &[8, 3, 23, 23], true);
    small.forward(false).unwrap();
    assert!(!program_ops(&small).iter().any(|o| o == "_fused_chain"));
    // One image: nothing to split.
    let mut one = bind(&net, &[1, 3, 23, 23], true);
    one.set_fusion_chains(Some(0));
    one.forward(false).unwrap();
    assert!(!program_ops(&one).iter().any(|o| o == "_fused_chain"));
}
