//! Behaviour checked against MXNet 1.9.1 by hand (the values in the assertions are MXNet's
//! answers to the same calls): JSON layout details, variable versions, composition, naming and
//! attribute scopes, inference errors, deferred errors, threads.

use std::collections::BTreeMap;

use mxr_test_support::json::compact_graph;
use serde_json::{Value, json};

use crate::DType;
use crate::sym::{
    self as sym, AttrScope, NameManager, OpBuilder, Symbol, batch_norm, fully_connected,
};

fn var(name: &str) -> Symbol {
    Symbol::variable(name)
}

#[test]
fn json_layout_matches_dmlc_for_long_arrays() {
    let _names = NameManager::scope();
    let vars: Vec<Symbol> = (0..11).map(|i| var(&format!("v{i}"))).collect();
    let c = OpBuilder::new("concat")
        .args(&vars)
        .param("dim", 0)
        .build()
        .unwrap();
    let json = c.to_json().unwrap();
    // MXNet 1.9.1: more than 10 inputs / ids are written one per line.
    let inputs: String = (0..11)
        .map(|i| format!("\n        [{i}, 0, 0]"))
        .collect::<Vec<_>>()
        .join(", ");
    let concat_node = format!(
        "    {{\n      \"op\": \"Concat\", \n      \"name\": \"concat0\", \n      \"attrs\": {{\n        \
         \"dim\": \"0\", \n        \"num_args\": \"11\"\n      }}, \n      \"inputs\": [{inputs}\n      ]\n    }}\n  ], "
    );
    assert!(json.contains(&concat_node), "{json}");
    let ids: String = (0..11)
        .map(|i| format!("\n    {i}"))
        .collect::<Vec<_>>()
        .join(", ");
    assert!(
        json.contains(&format!("\"arg_nodes\": [{ids}\n  ], ")),
        "{json}"
    );
    assert!(json.ends_with("\n  ], \n  \"heads\": [[11, 0, 0]], \n  \"attrs\": {\"mxnet_version\": [\"int\", 10901]}\n}"));
    let g = Symbol::group(&vars);
    let heads: String = (0..11)
        .map(|i| format!("\n    [{i}, 0, 0]"))
        .collect::<Vec<_>>()
        .join(", ");
    assert!(
        g.to_json()
            .unwrap()
            .contains(&format!("\"heads\": [{heads}\n  ], "))
    );
    // Strings: dmlc escapes \r \n \\ \t " and nothing else; keys are written raw.
    let v = Symbol::var("da\"ta\n\t\\/é")
        .attr("__x\ty__", "a\"b\nc\\d/é")
        .build()
        .unwrap();
    let r = sym::relu(&v).name("r\"1").build().unwrap();
    let json = r.to_json().unwrap();
    assert!(json.contains("\"name\": \"da\\\"ta\\n\\t\\\\/é\", \n      \"attrs\": {\"__x\ty__\": \"a\\\"b\\nc\\\\d/é\"}"), "{json}");
    assert_eq!(Symbol::from_json(&json).unwrap().to_json().unwrap(), json);
}

#[test]
fn versions_count_mutations_like_mxnet() {
    let _names = NameManager::scope();
    let mm = var("mm");
    let bn1 = batch_norm(&var("data"))
        .input("moving_mean", &mm)
        .name("bn1")
        .build()
        .unwrap();
    let bn2 = batch_norm(&bn1)
        .input("moving_mean", &mm)
        .name("bn2")
        .build()
        .unwrap();
    let g = Symbol::group([&bn1, &bn2]);
    assert_eq!(
        g.list_arguments(),
        ["data", "bn1_gamma", "bn1_beta", "bn2_gamma", "bn2_beta"]
    );
    assert_eq!(
        g.list_auxiliary_states(),
        ["mm", "bn1_moving_var", "bn2_moving_var"]
    );
    let c = compact_graph(&g.to_json().unwrap());
    assert_eq!(
        c[0][3],
        json!(["null", "mm", {"__init__": "[\"zero\", {}]"}, []])
    );
    assert_eq!(
        c[0][5][3],
        json!([[0, 0, 0], [1, 0, 0], [2, 0, 0], [3, 0, 1], [4, 0, 1]])
    );
    assert_eq!(
        c[0][9][3],
        json!([[5, 0, 0], [6, 0, 0], [7, 0, 0], [3, 0, 2], [8, 0, 1]])
    );
    assert_eq!(c[2], json!([0, 1, 2, 3, 4, 5, 8, 9, 10, 11, 14]));
    let internals = bn2.get_internals();
    assert_eq!(
        internals.list_outputs(),
        [
            "data",
            "bn1_gamma",
            "bn1_beta",
            "mm",
            "bn1_moving_var",
            "bn1_output",
            "bn2_gamma",
            "bn2_beta",
            "bn2_moving_var",
            "bn2_output"
        ]
    );
    let heads = compact_graph(&internals.to_json().unwrap())[3].clone();
    assert_eq!(heads[3], json!([3, 0, 2]));
    assert_eq!(heads[4], json!([4, 0, 1]));
    // Composing a copy bumps the copied aux variables again (MXNet: versions 2).
    let bn = batch_norm(&var("data")).name("bn").build().unwrap();
    let bnx = bn.compose(&[("data", &var("x"))], Some("bnx")).unwrap();
    let c = compact_graph(&bnx.to_json().unwrap());
    assert_eq!(
        c[0][5][3],
        json!([[0, 0, 0], [1, 0, 0], [2, 0, 0], [3, 0, 2], [4, 0, 2]])
    );
    assert_eq!(
        (bnx.list_outputs(), bn.list_outputs()),
        (vec!["bnx_output".to_owned()], vec!["bn_output".to_owned()])
    );
    // An auxiliary input must be a variable.
    let e = batch_norm(&var("d"))
        .input("moving_mean", &sym::relu(&var("q")).build().unwrap())
        .build();
    assert!(
        e.unwrap_err()
            .to_string()
            .contains("`moving_mean` is mutated")
    );
}

#[test]
fn composition_follows_mxnet() {
    let _names = NameManager::scope();
    // Two variables named `data`: MXNet replaces nothing, but renames the head.
    let g = Symbol::group([
        sym::relu(&var("data")).name("a").build().unwrap(),
        sym::relu(&var("data")).name("b").build().unwrap(),
    ]);
    let g2 = g.compose(&[("data", &var("x"))], Some("zz")).unwrap();
    assert_eq!(g2.list_arguments(), ["data", "data"]);
    assert_eq!(g2.list_outputs(), ["zz_output", "b_output"]);
    assert_eq!(g.list_outputs(), ["a_output", "b_output"]);
    let e = g
        .compose(&[("nope", &var("x"))], None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("`nope`") && e.contains("data"), "{e}");
    let pair = Symbol::group([var("a"), var("b")]);
    let e = g.compose(&[("data", &pair)], None).unwrap_err().to_string();
    assert!(e.contains("`data` has 2 outputs"), "{e}");
    // Atomic composition errors.
    let e = fully_connected(&var("d"), 2)
        .input("nope", &var("x"))
        .build()
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("keyword input `nope` not found") && e.contains("weight, bias"),
        "{e}"
    );
    let e = sym::relu(&pair).build().unwrap_err().to_string();
    assert!(e.contains("2 outputs"), "{e}");
    let e = Symbol::op("relu", &[("", &var("a")), ("", &var("b"))], &[], None).unwrap_err();
    assert!(e.to_string().contains("2 positional inputs"), "{e}");
    let e = fully_connected(&var("d"), 2)
        .param("weight_lr_mult", 2)
        .build()
        .unwrap_err();
    assert!(e.to_string().contains("deprecated"), "{e}");
    let e = Symbol::op("FullyConnected", &[], &[("num_hidden", "x")], None).unwrap_err();
    assert!(e.to_string().contains("num_hidden"), "{e}");
    // Output selection and children.
    let s = sym::split(&var("a"), 3).build().unwrap();
    assert_eq!(
        s.list_outputs(),
        ["split0_output0", "split0_output1", "split0_output2"]
    );
    assert_eq!(
        s.output_by_name("split0_output2").unwrap().list_outputs(),
        ["split0_output2"]
    );
    assert!(s.output(3).is_err() && s.output_by_name("x").is_err());
    assert_eq!(
        s.get_internals().list_outputs(),
        ["a", "split0_output0", "split0_output1", "split0_output2"]
    );
    assert!(var("x").get_children().is_none());
    let fc = fully_connected(&var("x"), 3).name("fc").build().unwrap();
    assert_eq!(
        fc.get_children().unwrap().list_outputs(),
        ["x", "fc_weight", "fc_bias"]
    );
    assert_eq!(s.name().as_deref(), Some("split0"));
    assert_eq!(g.name(), None);
}

#[test]
fn names_and_attributes_follow_mxnet() {
    let _names = NameManager::scope();
    {
        let _net = NameManager::prefix("net_");
        let a = fully_connected(&var("x"), 3).name("fc").build().unwrap();
        let b = fully_connected(&a, 3).build().unwrap();
        let c = b + 1;
        assert_eq!(
            c.list_arguments(),
            [
                "x",
                "net_fc_weight",
                "net_fc_bias",
                "net_fullyconnected0_weight",
                "net_fullyconnected0_bias"
            ]
        );
        assert_eq!(c.list_outputs(), ["net__plusscalar0_output"]);
    }
    let x = var("x");
    assert_eq!((&x + 1).name().as_deref(), Some("_plusscalar0"));
    // An alias is named after itself (MXNet names nodes by the name called).
    let split_name = |op: &str| {
        OpBuilder::new(op)
            .arg(&x)
            .param("num_outputs", 2)
            .build()
            .unwrap()
            .name()
    };
    assert_eq!(split_name("split").as_deref(), Some("split0"));
    assert_eq!(split_name("SliceChannel").as_deref(), Some("slicechannel0"));
    let scalars = -&x * 0.1 + 1e-7 - 2.5e16;
    let c = compact_graph(&scalars.to_json().unwrap());
    let attrs: Vec<Value> = c[0].as_array().unwrap()[1..]
        .iter()
        .map(|n| n[2]["scalar"].clone())
        .collect();
    assert_eq!(
        attrs,
        [
            json!("-1.0"),
            json!("0.1"),
            json!("1e-07"),
            json!("2.5e+16")
        ]
    );
    assert!(x.pow(2).to_json().unwrap().contains("\"scalar\": \"2\""));

    let (v, r) = {
        let _outer = AttrScope::new(&[("ctx_group", "g1")]).unwrap();
        let _inner = AttrScope::new(&[("lr_mult", "0.1"), ("ctx_group", "g2")]).unwrap();
        let v = Symbol::var("w")
            .lr_mult(2.0)
            .wd_mult(0.5)
            .shape(&[3])
            .dtype(DType::F64)
            .init("[\"zero\", {}]")
            .user_attr("__u__", "7")
            .build()
            .unwrap();
        let r = sym::relu(&v).attr("__foo__", "bar").build().unwrap();
        (v, r)
    };
    // MXNet 1.9.1's list_attr() for the same calls.
    let expected = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect()
    };
    assert_eq!(
        v.list_attr(),
        expected(&[
            ("__u__", "7"),
            ("__init__", "[\"zero\", {}]"),
            ("__dtype__", "1"),
            ("__wd_mult__", "0.5"),
            ("wd_mult", "0.5"),
            ("__shape__", "(3,)"),
            ("__lr_mult__", "2.0"),
            ("lr_mult", "2.0"),
            ("__ctx_group__", "g2"),
            ("ctx_group", "g2")
        ])
    );
    assert_eq!(
        r.list_attr(),
        expected(&[
            ("__foo__", "bar"),
            ("__lr_mult__", "0.1"),
            ("lr_mult", "0.1"),
            ("__ctx_group__", "g2"),
            ("ctx_group", "g2")
        ])
    );
    assert_eq!(r.attr("ctx_group").as_deref(), Some("g2"));
    assert_eq!(r.attr("op_name").as_deref(), Some("relu"));
    assert_eq!(v.attr("op_name").as_deref(), Some("null"));
    assert_eq!(r.attr_dict()["w"]["__shape__"], "(3,)");
    assert!(AttrScope::new(&[("weight_lr_mult", "1")]).is_err());
    // Auto-created inputs carry a copy of the operator's attributes.
    let d = var("d");
    let fc = {
        let _scope = AttrScope::new(&[("lr_mult", "0.1")]).unwrap();
        fully_connected(&d, 128).name("fc1").build().unwrap()
    };
    assert_eq!(
        fc.attr_dict()["fc1_weight"],
        expected(&[
            ("num_hidden", "128"),
            ("__lr_mult__", "0.1"),
            ("lr_mult", "0.1")
        ])
    );
    assert_eq!(fc.attr_dict().get("d"), None);
    // set_attr: shared by every symbol holding the node; parameters re-parsed.
    fc.set_attr("num_hidden", "64").unwrap();
    assert_eq!(fc.attr("num_hidden").as_deref(), Some("64"));
    assert!(fc.set_attr("num_hidden", "x").is_err());
    assert!(fc.set_attr("no_bias", "True").is_err());
    assert_eq!(fc.attr("num_hidden").as_deref(), Some("64"));
    fc.set_attr("name", "renamed").unwrap();
    assert_eq!(fc.list_outputs(), ["renamed_output"]);
}

#[test]
fn inference_reports_conflicts_and_gaps() {
    let _names = NameManager::scope();
    let x = var("x");
    let fc = fully_connected(&x, 5).name("fc").build().unwrap();
    let e = fc
        .infer_shape(&[("x", &[2, 4]), ("fc_weight", &[5, 3])])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("operator `fc` (FullyConnected)")
            && e.contains("(5, 3)")
            && e.contains("(5, 4)"),
        "{e}"
    );
    let e = fc.infer_shape(&[("y", &[2, 4])]).unwrap_err().to_string();
    assert!(
        e.contains("`y`") && e.contains("x, fc_weight, fc_bias"),
        "{e}"
    );
    let e = fc
        .infer_shape(&[("fc_weight", &[5, 3])])
        .unwrap_err()
        .to_string();
    assert!(e.contains("x: []") && e.contains("fc_bias"), "{e}");
    assert_eq!(
        fc.infer_shape_partial(&[("fc_weight", &[5, 3])]).unwrap().0[1],
        [5, 3]
    );
    assert_eq!(
        x.infer_shape_partial(&[("x", &[2, 0])]).unwrap(),
        (vec![vec![2, 0]], vec![vec![2, 0]], vec![])
    );
    assert!(x.infer_shape(&[("x", &[2, 0])]).is_err());
    // Variables' __shape__ / __dtype__ seed inference; given values take precedence.
    let v = Symbol::var("v")
        .shape(&[2, 3])
        .dtype(DType::F64)
        .build()
        .unwrap();
    let r = sym::relu(&v).build().unwrap();
    assert_eq!(r.infer_shape(&[]).unwrap().1, [vec![2, 3]]);
    assert_eq!(r.infer_shape(&[("v", &[4, 4])]).unwrap().1, [vec![4, 4]]);
    assert_eq!(
        r.infer_type(&[]).unwrap(),
        (vec![DType::F64], vec![DType::F64], vec![])
    );
    let (args, outs, _) = fc.infer_type_partial(&[]).unwrap();
    assert_eq!((args, outs), (vec![None; 3], vec![None]));
    let e = (&r + &x)
        .infer_type(&[("x", DType::F32)])
        .unwrap_err()
        .to_string();
    assert!(e.contains("_plus0"), "{e}");
    // BatchNorm: parameters and auxiliary states follow the channel axis.
    let bn = batch_norm(&var("data")).name("bn").build().unwrap();
    let (args, outs, aux) = bn.infer_shape(&[("data", &[2, 5, 3, 3])]).unwrap();
    assert_eq!(
        (args[1].clone(), outs[0].clone(), aux),
        (vec![5], vec![2, 5, 3, 3], vec![vec![5], vec![5]])
    );
}

#[test]
fn failed_arithmetic_is_deferred() {
    let pair = Symbol::group([var("a"), var("b")]);
    let bad = (&pair + 1) * 2;
    let e = bad.error().expect("failed").to_string();
    assert!(e.contains("2 outputs"), "{e}");
    assert!(bad.check().is_err() && bad.to_json().is_err() && bad.infer_shape(&[]).is_err());
    assert!(bad.list_arguments().is_empty());
    assert!(fully_connected(&bad, 2).build().is_err());
    assert!(Symbol::group([&bad, &var("c")]).error().is_some());
    assert!(format!("{bad:?}").starts_with("<Symbol failed"));
    assert_eq!(format!("{:?}", var("c")), "<Symbol c>");
    assert_eq!(format!("{pair:?}"), "<Symbol group [a, b]>");
}

#[test]
fn symbols_are_shared_across_threads() {
    let _names = NameManager::scope();
    let fc = fully_connected(&var("data"), 4).name("fc").build().unwrap();
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let fc = fc.clone();
            std::thread::spawn(move || {
                // Each thread has its own name counters.
                let y = &fc * 2;
                assert_eq!(y.name().as_deref(), Some("_mulscalar0"));
                fc.infer_shape(&[("data", &[i + 1, 3])]).unwrap().1[0].clone()
            })
        })
        .map(Some)
        .collect();
    for (i, h) in handles.into_iter().enumerate() {
        assert_eq!(h.unwrap().join().unwrap(), [i + 1, 4]);
    }
}

#[test]
fn more_graphs_write_mxnets_json() {
    use super::{activation, convolution, dot, dropout, pooling, reshape, softmax_output, sum};
    type Build = fn() -> crate::Result<Symbol>;
    // Each was compared byte for byte with MXNet 1.9.1's tojson() of the same Python calls;
    // the lengths are MXNet's.
    let cases: Vec<(usize, Build)> = vec![
        (718, || {
            let fc = fully_connected(&var("x"), 3).name("fc").build()?;
            Ok(Symbol::group([&fc, &fc, &var("x")]))
        }),
        (1575, || {
            batch_norm(&var("x"))
                .param("output_mean_var", true)
                .param("fix_gamma", false)
                .param("eps", 1e-5)
                .param("momentum", 0.95)
                .build()
        }),
        (496, || {
            Ok((dropout(&var("x"), 0.3).build()? * 2).get_internals())
        }),
        (754, || {
            let fc = fully_connected(&var("x"), 3).name("fc").build()?;
            let act = activation(&fc, "relu").name("act").build()?;
            let inner = act.get_internals().output_by_name("fc_output")?;
            inner.compose(&[("x", &(var("y") + 1))], None)
        }),
        (544, || {
            let r = reshape(&var("x"), &[-1, 0]).build()?;
            sum(&r)
                .param("axis", [1, 2])
                .param("keepdims", true)
                .param("exclude", false)
                .build()
        }),
        (615, || {
            let w = Symbol::var("w")
                .shape(&[0, 3])
                .lr_mult(0.5)
                .wd_mult(2)
                .init("[\"zero\", {}]")
                .dtype(DType::I32)
                .build()?;
            dot(&var("a"), &w).param("transpose_b", true).build()
        }),
        (1234, || {
            let x = var("x");
            let a = pooling(&x, &[3, 3], "avg")
                .param("stride", [2, 2])
                .param("pad", [1, 1])
                .param("pooling_convention", "full")
                .build()?;
            let b = OpBuilder::new("Pooling")
                .input("data", &x)
                .param("global_pool", true)
                .param("kernel", [1, 1])
                .build()?;
            let c = convolution(&x, &[3, 3], 4)
                .param("no_bias", true)
                .param("stride", [2, 2])
                .param("layout", "NCHW")
                .build()?;
            Ok(Symbol::group([a, b, c]))
        }),
        (989, || {
            let x = var("x");
            Ok((-&x).pow(2) - &x / 0.5 + 3.25 * &x)
        }),
        (1101, || {
            let _p = NameManager::prefix("p_");
            let _a = AttrScope::new(&[("ctx_group", "dev1")])?;
            let fc = fully_connected(&var("x"), 2).name("fc").build()?;
            softmax_output(&fc).name("out").build()
        }),
    ];
    for (i, (len, build)) in cases.into_iter().enumerate() {
        let _names = NameManager::scope();
        let json = build().unwrap().to_json().unwrap();
        assert_eq!(json.len(), len, "case {i}:\n{json}");
        assert_eq!(Symbol::from_json(&json).unwrap().to_json().unwrap(), json);
    }
}

/// Binds `s` on the CPU with `args` (name, shape, values), runs it forward in training mode
/// and backward with head gradient `head`: the first output's values and every argument's
/// gradient by name.
fn forward_backward(
    s: &Symbol,
    args: &[(&str, &[usize], Vec<f32>)],
    head: Vec<f32>,
) -> (Vec<f32>, BTreeMap<String, Vec<f32>>) {
    use crate::exec::GradReq;
    use crate::nd::NDArray;
    let shapes: Vec<(&str, &[usize])> = args.iter().map(|(n, s, _)| (*n, *s)).collect();
    let mut exe = s
        .simple_bind(mxr_engine::Context::cpu(0), &shapes, GradReq::Write, &[])
        .unwrap();
    let arrays = exe.arg_dict();
    for (name, _, values) in args {
        arrays[*name].assign_slice(values).unwrap();
    }
    exe.forward(true).unwrap();
    let out = exe.outputs()[0].clone();
    exe.backward(&[NDArray::from_vec(out.shape(), head).unwrap()])
        .unwrap();
    let grads = exe
        .grad_dict()
        .into_iter()
        .map(|(k, v)| (k, v.to_vec::<f32>().unwrap()))
        .collect();
    (out.to_vec::<f32>().unwrap(), grads)
}

#[test]
fn pick_runs_forward_and_backward_bound_and_on_the_tape() {
    use crate::nd::{NDArray, tape::Tape};
    // x = mx.nd.array(np.arange(6).reshape(3, 2)); i = mx.nd.array([1, 0, 5])
    // mx.nd.pick(x, i, axis=1) = [1, 2, 5]; x.grad after y.backward([10, 20, 30]):
    // [[0, 10], [20, 0], [0, 30]]; i.grad: zeros
    let x: Vec<f32> = (0..6).map(|v| v as f32).collect();
    let p = sym::pick(&var("x"), &var("i"))
        .param("axis", 1)
        .build()
        .unwrap();
    let args = [
        ("x", &[3, 2][..], x.clone()),
        ("i", &[3][..], vec![1.0, 0.0, 5.0]),
    ];
    let (y, grads) = forward_backward(&p, &args, vec![10.0, 20.0, 30.0]);
    assert_eq!(y, [1.0, 2.0, 5.0]);
    assert_eq!(grads["x"], [0.0, 10.0, 20.0, 0.0, 0.0, 30.0]);
    assert_eq!(grads["i"], [0.0; 3]);
    let xs = NDArray::from_vec(&[3, 2], x).unwrap();
    let is = NDArray::from_vec(&[3], vec![1.0f32, 0.0, 5.0]).unwrap();
    assert_eq!(
        crate::nd::pick(&xs, &is, 1)
            .unwrap()
            .to_vec::<f32>()
            .unwrap(),
        y
    );
    let mut tape = Tape::new(true);
    let (xe, ie) = (tape.variable("x", xs), tape.variable("i", is));
    let op = mxr_operators::registry::create("pick", &[("axis", "1")], None).unwrap();
    let ye = tape.apply(op, "pick", &[xe, ie]).unwrap()[0];
    let head = NDArray::from_vec(&[3], vec![10.0f32, 20.0, 30.0]).unwrap();
    let g = tape.backward(&[(ye, Some(head))]).unwrap();
    let gx = g[xe.node].as_ref().unwrap().to_vec::<f32>().unwrap();
    assert_eq!(gx, grads["x"]);
}
