//! The `mxr` command-line tool.

use std::process::Command;

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
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/conformance/cases")
        .join(name)
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
