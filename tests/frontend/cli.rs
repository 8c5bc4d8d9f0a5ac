//! The `mxr` command-line tool.

use std::process::Command;

use crate::conformance::fixture;

fn mxr(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_mxr"))
        .args(args)
        .output()
        .expect("the mxr binary runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn ops_lists_every_operator_with_parameters() {
    let (ok, out, _) = mxr(&["ops"]);
    assert!(ok);
    for op in [
        "FullyConnected",
        "Convolution",
        "SoftmaxOutput",
        "_plus_scalar",
        "BatchNorm",
    ] {
        assert!(out.lines().any(|l| l.starts_with(op)), "{op} missing");
    }
    let (ok, out, _) = mxr(&["ops", "reshape"]);
    assert!(ok);
    assert!(out.starts_with("Reshape (aliases: reshape"), "{out}");
    assert!(
        out.contains("shape:") && out.contains("reverse: boolean, default False"),
        "{out}"
    );
}

#[test]
fn errors_are_one_line_and_a_failure_status() {
    let (ok, _, err) = mxr(&["ops", "NoSuchOp"]);
    assert!(!ok);
    assert!(err.starts_with("mxr: unknown operator `NoSuchOp`"), "{err}");
    let (ok, _, err) = mxr(&["frobnicate"]);
    assert!(!ok);
    assert!(err.contains("unknown command `frobnicate`"), "{err}");
}

fn case(name: &str) -> std::path::PathBuf {
    fixture("cases").join(name)
}

#[test]
fn inspect_and_infer_shape_print_json() {
    let symbol = case("batchnorm_train").join("symbol.json");
    let (ok, out, err) = mxr(&["inspect", "--symbol", symbol.to_str().unwrap()]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        v["auxiliary_states"],
        serde_json::json!(["bn_moving_mean", "bn_moving_var"])
    );
    assert_eq!(v["outputs"], serde_json::json!(["bn_output"]));
    let symbol = case("fullyconnected").join("symbol.json");
    let (ok, out, err) = mxr(&[
        "infer-shape",
        "--symbol",
        symbol.to_str().unwrap(),
        "--shape",
        "data=8,5",
    ]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["arg_shapes"][1], serde_json::json!(["fc_weight", [6, 5]]));
    assert_eq!(v["out_shapes"], serde_json::json!([[8, 6]]));
}

#[test]
fn exec_reproduces_a_conformance_case() {
    let dir = case("batchnorm_train");
    let out = std::env::temp_dir().join(format!("mxr-cli-{}.params", std::process::id()));
    let (ok, _, err) = mxr(&[
        "exec",
        "--symbol",
        dir.join("symbol.json").to_str().unwrap(),
        "--inputs",
        dir.join("inputs.params").to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
        "--train",
        "--backward",
    ]);
    assert!(ok, "{err}");
    let got = match mxr::nd::load(&out).unwrap() {
        mxr::nd::Loaded::Named(v) => v,
        mxr::nd::Loaded::List(_) => panic!("named"),
    };
    let want = match mxr::nd::load(dir.join("expected.params")).unwrap() {
        mxr::nd::Loaded::Named(v) => v,
        mxr::nd::Loaded::List(_) => panic!("named"),
    };
    for (key, w) in &want {
        let g = &got
            .iter()
            .find(|(k, _)| k == key)
            .unwrap_or_else(|| panic!("{key}"))
            .1;
        let (g, w) = (g.to_vec::<f32>().unwrap(), w.to_vec::<f32>().unwrap());
        for (a, b) in g.iter().zip(&w) {
            assert!((a - b).abs() <= 1e-4 + 1e-3 * b.abs(), "{key}: {a} vs {b}");
        }
    }
    let _ = std::fs::remove_file(&out);
    let (ok, _, err) = mxr(&[
        "exec",
        "--symbol",
        "/nonexistent.json",
        "--inputs",
        "x",
        "--output",
        "y",
    ]);
    assert!(!ok);
    assert!(
        err.starts_with("mxr: ") && err.contains("/nonexistent.json"),
        "{err}"
    );
}

/// MXNet's docs MLP (784 → 128 → 64 → 10 as in ./train, here on 10 features), saved to a
/// temporary file for the tool.
fn mlp_symbol_file() -> std::path::PathBuf {
    use mxr::sym::{self, Symbol};
    let _names = mxr::sym::NameManager::scope();
    let data = Symbol::variable("data");
    let fc1 = sym::fully_connected(&data, 128)
        .name("fc1")
        .build()
        .unwrap();
    let act1 = sym::activation(&fc1, "relu").name("relu1").build().unwrap();
    let fc2 = sym::fully_connected(&act1, 64).name("fc2").build().unwrap();
    let act2 = sym::activation(&fc2, "relu").name("relu2").build().unwrap();
    let fc3 = sym::fully_connected(&act2, 10).name("fc3").build().unwrap();
    let net = sym::softmax_output(&fc3).name("softmax").build().unwrap();
    let path = std::env::temp_dir().join(format!("mxr-cli-mlp-{}.json", std::process::id()));
    net.save(&path).unwrap();
    path
}

/// `mxr infer-shape --symbol F --shape ... [--partial]`: (success, stdout, stderr).
fn infer(symbol: &std::path::Path, shapes: &[&str], partial: bool) -> (bool, String, String) {
    let mut args = vec!["infer-shape", "--symbol", symbol.to_str().unwrap()];
    for s in shapes {
        args.extend(["--shape", s]);
    }
    if partial {
        args.push("--partial");
    }
    mxr(&args)
}

#[test]
fn infer_shape_partial_gives_mxnets_partial_shapes() {
    let symbol = mlp_symbol_file();
    // The expected JSON is what MXNet 1.9.1 answers for the same symbol (.venv/bin/python:
    // `net.infer_shape_partial(data=(0, 10))` and `net.infer_shape_partial(softmax_label=(32,))`
    // with net the MLP above), written the tool's way: unknown shapes `[]`, unknown dims 0.
    let batch_unknown = serde_json::json!({
        "arg_shapes": [["data", [0, 10]], ["fc1_weight", [128, 10]], ["fc1_bias", [128]],
                       ["fc2_weight", [64, 128]], ["fc2_bias", [64]], ["fc3_weight", [10, 64]],
                       ["fc3_bias", [10]], ["softmax_label", [0]]],
        "out_shapes": [[0, 10]],
        "aux_shapes": [],
    });
    let label_only = serde_json::json!({
        "arg_shapes": [["data", []], ["fc1_weight", []], ["fc1_bias", []], ["fc2_weight", []],
                       ["fc2_bias", []], ["fc3_weight", []], ["fc3_bias", []],
                       ["softmax_label", [32]]],
        "out_shapes": [[]],
        "aux_shapes": [],
    });
    for (shape, want) in [
        ("data=0,10", batch_unknown),
        ("softmax_label=32", label_only),
    ] {
        let (ok, out, err) = infer(&symbol, &[shape], true);
        assert!(ok, "{shape}: {err}");
        let got: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(got, want, "{shape}");
        // Without --partial what stays unknown is an error naming it.
        let (ok, _, err) = infer(&symbol, &[shape], false);
        assert!(!ok);
        assert!(
            err.contains("cannot decide the shape") && err.contains("data"),
            "{err}"
        );
    }
    // Fully known: the same answer either way.
    let full = infer(&symbol, &["data=8,10"], false);
    assert!(full.0, "{}", full.2);
    assert_eq!(infer(&symbol, &["data=8,10"], true), full);
    // Contradictory shapes are reported as the full inference reports them (MXNet: "Error in
    // operator softmax: Shape inconsistent, Provided = [7], inferred shape=[8]").
    for conflict in [
        &["data=8,10", "softmax_label=7"][..],
        &["data=0,10", "fc1_weight=128,11"],
    ] {
        let (ok, out, err) = infer(&symbol, conflict, true);
        assert!(!ok && out.is_empty(), "{conflict:?}: {out}");
        assert!(err.contains("conflicts with"), "{err}");
        assert_eq!(infer(&symbol, conflict, false), (false, out, err));
    }
    std::fs::remove_file(&symbol).unwrap();
}

#[test]
fn every_command_has_help_and_refuses_unknown_options() {
    let commands: [(&str, &[&str]); 4] = [
        ("ops", &["NAME"]),
        ("inspect", &["--symbol"]),
        ("infer-shape", &["--symbol", "--shape", "--partial"]),
        (
            "exec",
            &[
                "--symbol",
                "--inputs",
                "--output",
                "--train",
                "--backward",
                "--ctx",
            ],
        ),
    ];
    for (command, options) in commands {
        for help in ["--help", "-h"] {
            let (ok, out, err) = mxr(&[command, help]);
            assert!(ok, "{command} {help}: {err}");
            assert!(out.starts_with(&format!("usage: mxr {command}")), "{out}");
            for option in options.iter().chain(&["--plugin"]) {
                assert!(
                    out.contains(option),
                    "{command} --help lacks {option}:\n{out}"
                );
            }
            assert!(out.lines().all(|l| l.chars().count() <= 88), "{out}");
        }
        // Help comes first, whatever else is on the line.
        let (ok, out, _) = mxr(&[command, "--no-such-option", "--help"]);
        assert!(ok && out.starts_with("usage:"));
        let (ok, _, err) = mxr(&[command, "--no-such-option"]);
        assert!(!ok);
        assert!(
            err.contains(&format!("`mxr {command}` has no option --no-such-option")),
            "{err}"
        );
    }
    // The overview names every command and how to get its help.
    let (ok, out, _) = mxr(&["--help"]);
    assert!(ok);
    for (command, _) in commands {
        assert!(out.contains(&format!("mxr {command}")), "{out}");
    }
    assert!(out.contains("mxr COMMAND --help"), "{out}");
    let (ok, _, err) = mxr(&["infer-shape", "--symbol"]);
    assert!(!ok && err.contains("--symbol needs a value"), "{err}");
    let (ok, _, err) = mxr(&["ops", "FullyConnected", "extra"]);
    assert!(!ok && err.contains("unexpected argument `extra`"), "{err}");
}

#[test]
fn onnx_export_then_import_keeps_the_checkpoint() {
    use mxr::nd::NDArray;
    use mxr::sym::{self, Symbol};
    let dir = std::env::temp_dir().join(format!("mxr-cli-onnx-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let conv = Symbol::op(
        "Convolution",
        &[("", &Symbol::variable("data"))],
        &[("kernel", "(3, 3)"), ("num_filter", "4"), ("pad", "(1, 1)")],
        Some("conv"),
    )
    .unwrap();
    let bn = Symbol::op(
        "BatchNorm",
        &[("", &conv)],
        &[("fix_gamma", "False")],
        Some("bn"),
    );
    let net = sym::activation(&bn.unwrap(), "relu")
        .name("relu")
        .build()
        .unwrap();
    let (arg_shapes, _, aux_shapes) = net.infer_shape(&[("data", &[2, 3, 8, 8])]).unwrap();
    let filled = |names: Vec<String>, shapes: Vec<Vec<usize>>| -> Vec<(String, NDArray)> {
        names
            .into_iter()
            .zip(shapes)
            .filter(|(n, _)| n != "data")
            .enumerate()
            .map(|(i, (n, s))| {
                let values = (0..s.iter().product::<usize>())
                    .map(|j| 0.5 + (i * 7 + j) as f32 * 0.01)
                    .collect();
                (n, NDArray::from_vec(&s, values).unwrap())
            })
            .collect()
    };
    let args = filled(net.list_arguments(), arg_shapes);
    let aux = filled(net.list_auxiliary_states(), aux_shapes);
    let prefix = dir.join("net").to_string_lossy().into_owned();
    sym::save_checkpoint(&prefix, 0, &net, &args, &aux).unwrap();
    let model = dir.join("net.onnx");
    let (ok, out, err) = mxr(&[
        "onnx",
        "export",
        "--symbol",
        &format!("{prefix}-symbol.json"),
        "--params",
        &format!("{prefix}-0000.params"),
        "--shape",
        "data=2,3,8,8",
        "--out",
        model.to_str().unwrap(),
    ]);
    assert!(ok && out.contains("opset 13"), "{out}{err}");
    let back = dir.join("back").to_string_lossy().into_owned();
    let (ok, out, err) = mxr(&["onnx", "import", model.to_str().unwrap(), "--out", &back]);
    assert!(
        ok && out.contains("(4 arguments, 2 auxiliary states)"),
        "{out}{err}"
    );
    let (sym2, args2, aux2) = sym::load_checkpoint(&back, 0).unwrap();
    assert_eq!(sym2.list_arguments(), net.list_arguments());
    assert_eq!(sym2.list_auxiliary_states(), net.list_auxiliary_states());
    for ((n1, a1), (n2, a2)) in args.iter().chain(&aux).zip(args2.iter().chain(&aux2)) {
        assert_eq!(n1, n2);
        assert_eq!(
            a1.to_vec::<f32>().unwrap(),
            a2.to_vec::<f32>().unwrap(),
            "{n1}"
        );
    }
    let (ok, _, err) = mxr(&["onnx", "import", "--out", &back]);
    assert!(!ok && err.contains("missing the model"), "{err}");
    let (ok, _, err) = mxr(&["onnx", "convert", "--out", &back]);
    assert!(!ok && err.contains("expected `mxr onnx import"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}
