//! Operator plugins (plugins/): the example cdylibs loaded with `mxr::plugin::load`, used from
//! NDArray, Symbol (and its JSON), executors and the `mxr` tool, gradients checked against
//! finite differences, and every failure mode reported as an error with the process alive.
//!
//! The libraries are the workspace's own cdylib members (crate types cdylib + rlib).
//! `cargo build --workspace` puts them in target/<profile>/; `cargo test --workspace` builds
//! them (for their doc tests) in target/<profile>/deps/, beside this test binary. The newest
//! copy found there is used; when there is none (e.g. after `cargo test --test frontend`
//! alone), they are built once into target/plugin-tests/ (a separate target dir, so the outer
//! cargo's lock is not in the way).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use mxr::engine::Context;
use mxr::exec::GradReq;
use mxr::nd::{self, NDArray};
use mxr::operators::check::{self, GradCheck, HostTensor};
use mxr::operators::registry;
use mxr::sym::{NameManager, Symbol};

#[path = "plugins_errors.rs"]
mod errors;
#[path = "plugins_tool.rs"]
mod tool;

const PACKAGES: [(&str, &str); 4] = [
    ("mxr-plugin-example-swish", "mxr_plugin_example_swish"),
    (
        "mxr-plugin-example-scale-shift",
        "mxr_plugin_example_scale_shift",
    ),
    ("mxr-plugin-test-faulty", "mxr_plugin_test_faulty"),
    (
        "mxr-plugin-test-abi-mismatch",
        "mxr_plugin_test_abi_mismatch",
    ),
];

/// target/<profile>/ (this binary is target/<profile>/deps/frontend-<hash>).
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    exe.parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps/<binary>")
        .to_path_buf()
}

fn lib_file(dir: &Path, lib: &str) -> PathBuf {
    dir.join(format!(
        "{}{lib}{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    ))
}

/// Where every plugin library was found or built.
#[derive(Debug)]
enum Found {
    /// The workspace's build: each library's newest copy.
    Workspace(Vec<(String, PathBuf)>),
    /// Built by the tests into this directory.
    Built(PathBuf),
}

fn newest(dir: &Path, lib: &str) -> Option<PathBuf> {
    [lib_file(dir, lib), lib_file(&dir.join("deps"), lib)]
        .into_iter()
        .filter_map(|p| Some((std::fs::metadata(&p).ok()?.modified().ok()?, p)))
        .max()
        .map(|(_, p)| p)
}

fn found() -> &'static Found {
    static FOUND: OnceLock<Found> = OnceLock::new();
    FOUND.get_or_init(|| {
        let dir = profile_dir();
        let libs: Option<Vec<(String, PathBuf)>> = PACKAGES
            .iter()
            .map(|(_, lib)| Some((lib.to_string(), newest(&dir, lib)?)))
            .collect();
        if let Some(libs) = libs {
            return Found::Workspace(libs);
        }
        let target = dir.parent().expect("target/").join("plugin-tests");
        let mut cmd = Command::new(env!("CARGO"));
        cmd.arg("build")
            .arg("--target-dir")
            .arg(&target)
            .current_dir(env!("CARGO_MANIFEST_DIR"));
        for (pkg, _) in PACKAGES {
            cmd.args(["-p", pkg]);
        }
        let profile = dir.file_name().and_then(|n| n.to_str()).unwrap_or("debug");
        if profile == "release" {
            cmd.arg("--release");
        }
        let status = cmd.status().expect("cargo runs");
        assert!(status.success(), "building the plugins failed");
        Found::Built(target.join(profile))
    })
}

fn plugin_path(lib: &str) -> PathBuf {
    match found() {
        Found::Workspace(libs) => libs
            .iter()
            .find(|(l, _)| l == lib)
            .map(|(_, p)| p.clone())
            .expect("a listed plugin"),
        Found::Built(dir) => lib_file(dir, lib),
    }
}

fn load(lib: &str) -> mxr::plugin::Plugin {
    mxr::plugin::load(plugin_path(lib)).expect("the plugin loads")
}

fn swish() -> mxr::plugin::Plugin {
    load("mxr_plugin_example_swish")
}

fn scale_shift() -> mxr::plugin::Plugin {
    load("mxr_plugin_example_scale_shift")
}

fn faulty() -> mxr::plugin::Plugin {
    load("mxr_plugin_test_faulty")
}

fn close(a: &[f32], b: &[f64], tol: f64) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| (f64::from(*x) - y).abs() <= tol * (1.0 + y.abs()))
}

fn sigmoid(v: f64) -> f64 {
    1.0 / (1.0 + (-v).exp())
}

/// d swish(x; beta) / dx.
fn swish_grad(x: f64, beta: f64) -> f64 {
    let s = sigmoid(beta * x);
    s + beta * x * s * (1.0 - s)
}

#[test]
fn loading_reports_the_operators_and_is_idempotent() {
    let p = swish();
    assert_eq!(p.op_names(), ["swish"]);
    assert!(p.ops()[0].has_backward);
    assert_eq!(
        mxr::plugin::load(p.path()).unwrap(),
        p,
        "a second load is the same plugin"
    );
    assert!(registry::lookup("swish").unwrap().is_dynamic());
    assert!(registry::lookup("_backward_swish").unwrap().is_backward());
    assert_eq!(
        registry::origin("swish").as_deref(),
        Some(p.path().to_str().unwrap())
    );
    assert!(registry::ops().iter().any(|d| d.name == "swish"));
    assert!(mxr::plugin::loaded().contains(&p));
    let spec = &registry::lookup("swish").unwrap().params()[0];
    assert_eq!(
        (spec.name, spec.type_name.as_str(), spec.default.as_deref()),
        ("beta", "float", Some("1.0"))
    );
}

#[test]
fn cuda_source_is_carried_through_the_abi() {
    let p = swish();
    let cuda = p.ops()[0].cuda.as_ref().expect("swish ships a CUDA kernel");
    assert_eq!(cuda.kernel, "swish_forward");
    assert!(cuda.source.contains("__global__ void swish_forward"));
    assert_eq!(mxr::plugin::cuda_source("swish").as_ref(), Some(cuda));
    scale_shift();
    assert_eq!(mxr::plugin::cuda_source("scale_shift"), None);
}

#[test]
fn swish_from_ndarray_matches_hand_computed_values() {
    swish();
    let x = NDArray::from_vec(&[4], vec![-1.0f32, 0.0, 1.0, 2.0]).unwrap();
    let y = nd::invoke("swish", &[&x], &[]).unwrap();
    // x · sigmoid(x), by hand: -1/(1+e), 0, e/(1+e), 2e²/(1+e²).
    let want = [-0.268_941_421_4, 0.0, 0.731_058_578_6, 1.761_594_156_0];
    assert!(close(&y[0].to_vec::<f32>().unwrap(), &want, 1e-6), "{y:?}");
    let y = nd::invoke("swish", &[&x], &[("beta", "2")]).unwrap();
    assert!((y[0].to_vec::<f32>().unwrap()[2] - 0.880_797_1).abs() < 1e-6);
    // float64 too.
    let x64 = NDArray::from_vec(&[1], vec![1.0f64]).unwrap();
    let y = nd::invoke("swish", &[&x64], &[]).unwrap();
    assert!((y[0].to_vec::<f64>().unwrap()[0] - 0.731_058_578_630_004_9).abs() < 1e-12);
}

#[test]
fn swish_gradient_by_hand_and_by_finite_differences() {
    swish();
    let op = registry::create("swish", &[], None).unwrap();
    let x = HostTensor::from_f32(&[4], vec![-1.0, 0.0, 1.0, 2.0]);
    let g = HostTensor::from_f32(&[4], vec![1.0; 4]);
    let grads = check::gradients(&op, &[x], &[g], false, 0).unwrap();
    // s + x·s·(1−s) with s = sigmoid(x), by hand.
    let want = [0.072_329_488_2, 0.5, 0.927_670_511_8, 1.090_784_248_8];
    assert!(close(&grads[0].as_ref().unwrap().to_f32(), &want, 1e-6));

    for beta in ["0.7", "1.0", "2.5"] {
        let op = registry::create("swish", &[("beta", beta)], None).unwrap();
        let x = HostTensor::from_f32(&[2, 3], vec![-2.0, -0.5, 0.1, 0.3, 1.0, 3.0]);
        check::check_gradient(&op, &[x], &GradCheck::default()).unwrap();
    }
}

#[test]
fn scale_shift_values_parameters_and_inferred_weight_shapes() {
    scale_shift();
    let data = NDArray::from_vec(&[2, 3], vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
    let gamma = NDArray::from_vec(&[3], vec![1.0f32, -1.0, 0.5]).unwrap();
    let beta = NDArray::from_vec(&[3], vec![0.0f32, 1.0, -2.0]).unwrap();
    let invoke =
        |inputs: &[&NDArray], params: &[(&str, &str)]| nd::invoke("scale_shift", inputs, params);
    let y = invoke(&[&data, &gamma, &beta], &[("alpha", "2")]).unwrap();
    // 2·gamma[c]·x + beta[c], by hand.
    assert_eq!(
        y[0].to_vec::<f32>().unwrap(),
        vec![2.0, -3.0, 1.0, 8.0, -9.0, 4.0]
    );
    let y = invoke(&[&data, &gamma, &beta], &[("alpha", "2"), ("relu", "True")]).unwrap();
    assert_eq!(
        y[0].to_vec::<f32>().unwrap(),
        vec![2.0, 0.0, 1.0, 8.0, 0.0, 4.0]
    );

    // Parameters are checked by the host against the plugin's declarations.
    let err = invoke(&[&data, &gamma, &beta], &[]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "operator scale_shift: required parameter `alpha` (float) is missing"
    );
    let err = invoke(&[&data, &gamma, &beta], &[("alpha", "1"), ("gain", "2")]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "operator scale_shift: unknown parameter `gain`; valid parameters: alpha, axis, relu"
    );
    // ... and parsed by the plugin.
    let err = invoke(
        &[&data, &gamma, &beta],
        &[("alpha", "1"), ("relu", "maybe")],
    )
    .unwrap_err();
    assert!(
        err.to_string().contains(
            "operator scale_shift (plugin): parameter parsing (create) failed: parameter \
             `relu`: \"maybe\" is not a boolean"
        ),
        "{err}"
    );
    // Shape errors from the plugin name the operator and the input shapes.
    let bad_gamma = NDArray::from_vec(&[2], vec![1.0f32, 1.0]).unwrap();
    let err = invoke(&[&data, &bad_gamma, &beta], &[("alpha", "1")])
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("operator scale_shift: gamma has shape (2,), expected (3,)"),
        "{err}"
    );
    assert!(err.contains("data=(2, 3), gamma=(2,), beta=(3,)"), "{err}");

    // A symbol binds with only the data's shape: gamma and beta come from the plugin.
    let _names = NameManager::scope();
    let x = Symbol::variable("data");
    let s = Symbol::op(
        "scale_shift",
        &[("", &x)],
        &[("alpha", "0.5"), ("axis", "-1")],
        None,
    )
    .unwrap();
    assert_eq!(
        s.list_arguments(),
        ["data", "scale_shift0_gamma", "scale_shift0_beta"]
    );
    let (args, outs, _) = s.infer_shape(&[("data", &[4, 5])]).unwrap();
    assert_eq!(args, vec![vec![4, 5], vec![5], vec![5]]);
    assert_eq!(outs, vec![vec![4, 5]]);
}

#[test]
fn dtype_errors_name_the_operator() {
    swish();
    scale_shift();
    let ints = NDArray::from_vec(&[2], vec![1i32, 2]).unwrap();
    let err = nd::invoke("swish", &[&ints], &[]).unwrap()[0]
        .to_vec::<i32>()
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(
            "operator swish (plugin): the forward kernel failed: swish supports float32 and \
             float64, not int32"
        ),
        "{err}"
    );
    // The plugin's type inference (the default: one dtype for all) reports a mix.
    let data = NDArray::from_vec(&[1, 2], vec![1.0f32, 2.0]).unwrap();
    let gamma = NDArray::from_vec(&[2], vec![1.0f64, 2.0]).unwrap();
    let beta = NDArray::from_vec(&[2], vec![0.0f32, 0.0]).unwrap();
    let err = nd::invoke("scale_shift", &[&data, &gamma, &beta], &[("alpha", "1")])
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "operator scale_shift: mixed dtypes float64 and float32; input types: data=float32, \
         gamma=float64, beta=float32"
    );
}

#[test]
fn plugin_kernels_run_on_many_threads_at_once() {
    swish();
    let handles: Vec<_> = (0..4)
        .map(|t| {
            std::thread::spawn(move || {
                for i in 0..50 {
                    let v = (t * 50 + i) as f32 / 100.0 - 1.0;
                    let x = NDArray::from_vec(&[64], vec![v; 64]).unwrap();
                    let y = nd::invoke("swish", &[&x], &[("beta", "0.5")]).unwrap();
                    let want = f64::from(v) * sigmoid(0.5 * f64::from(v));
                    assert!(close(&y[0].to_vec::<f32>().unwrap(), &vec![want; 64], 1e-6));
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("no thread failed");
    }
}

#[test]
fn scale_shift_gradients_match_finite_differences() {
    scale_shift();
    let data = HostTensor::from_f32(
        &[2, 3, 2],
        vec![
            0.5, -1.0, 2.0, 0.25, -0.75, 1.5, 1.25, -2.0, 0.8, -0.3, 0.6, 1.1,
        ],
    );
    let gamma = HostTensor::from_f32(&[3], vec![1.5, -0.5, 0.75]);
    let beta = HostTensor::from_f32(&[3], vec![0.1, -0.2, 0.35]);
    // Channels on axis 1 (gamma, beta of shape (3,)), and on axis 2 (shape (2,)).
    let (gamma2, beta2) = (
        HostTensor::from_f32(&[2], vec![0.9, -1.2]),
        HostTensor::from_f32(&[2], vec![0.05, 0.4]),
    );
    for (attrs, weights) in [
        (vec![("alpha", "2")], [&gamma, &beta]),
        (vec![("alpha", "0.5"), ("relu", "True")], [&gamma, &beta]),
        (vec![("alpha", "-1.5"), ("axis", "2")], [&gamma2, &beta2]),
        (vec![("alpha", "1.5"), ("axis", "-1")], [&gamma2, &beta2]),
    ] {
        let op = registry::create("scale_shift", &attrs, None).unwrap();
        let inputs = vec![data.clone(), weights[0].clone(), weights[1].clone()];
        check::check_gradient(&op, &inputs, &GradCheck::default())
            .unwrap_or_else(|e| panic!("{attrs:?}: {e}"));
    }
}

/// y = swish(scale_shift(data, gamma, beta, alpha=2)): the executor's backward pass runs both
/// plugins' backward kernels.
fn two_plugin_net() -> Symbol {
    swish();
    scale_shift();
    let (data, gamma, beta) = (
        Symbol::variable("data"),
        Symbol::variable("gamma"),
        Symbol::variable("beta"),
    );
    let z = Symbol::op(
        "scale_shift",
        &[("", &data), ("gamma", &gamma), ("beta", &beta)],
        &[("alpha", "2")],
        Some("ss"),
    )
    .unwrap();
    Symbol::op("swish", &[("", &z)], &[], Some("act")).unwrap()
}

const DATA: [f32; 6] = [1.0, 2.0, 3.0, -0.5, 0.25, -1.0];
const GAMMA: [f32; 3] = [0.5, -0.25, 1.0];
const BETA: [f32; 3] = [0.0, 0.5, -0.5];

/// The net's output and gradients (head gradient 1), computed here in f64.
fn two_plugin_expected() -> (Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>) {
    let (mut y, mut dx, mut dg, mut db) = (vec![], vec![], vec![0.0; 3], vec![0.0; 3]);
    for (k, &x) in DATA.iter().enumerate() {
        let c = k % 3;
        let (x, g, b) = (f64::from(x), f64::from(GAMMA[c]), f64::from(BETA[c]));
        let z = 2.0 * g * x + b;
        y.push(z * sigmoid(z));
        let d = swish_grad(z, 1.0);
        dx.push(d * 2.0 * g);
        dg[c] += d * 2.0 * x;
        db[c] += d;
    }
    (y, dx, dg, db)
}

fn arrays() -> Vec<NDArray> {
    vec![
        NDArray::from_vec(&[2, 3], DATA.to_vec()).unwrap(),
        NDArray::from_vec(&[3], GAMMA.to_vec()).unwrap(),
        NDArray::from_vec(&[3], BETA.to_vec()).unwrap(),
    ]
}

#[test]
fn executor_backward_runs_the_plugin_backward_kernels() {
    let _names = NameManager::scope();
    let net = two_plugin_net();
    assert_eq!(net.list_arguments(), ["data", "gamma", "beta"]);
    let grads = vec![
        Some(NDArray::zeros(&[2, 3]).unwrap()),
        Some(NDArray::zeros(&[3]).unwrap()),
        Some(NDArray::zeros(&[3]).unwrap()),
    ];
    let mut exe = net
        .bind(
            Context::cpu(0),
            arrays(),
            grads,
            &[GradReq::Write; 3],
            vec![],
        )
        .unwrap();
    exe.forward(true).unwrap();
    exe.backward(&[NDArray::ones(&[2, 3]).unwrap()]).unwrap();
    let (y, dx, dg, db) = two_plugin_expected();
    let out = exe.outputs()[0].to_vec::<f32>().unwrap();
    assert!(close(&out, &y, 1e-6), "{out:?} vs {y:?}");
    let g: Vec<Vec<f32>> = exe
        .grad_arrays()
        .iter()
        .map(|g| g.as_ref().unwrap().to_vec::<f32>().unwrap())
        .collect();
    assert!(close(&g[0], &dx, 1e-5), "{:?} vs {dx:?}", g[0]);
    assert!(close(&g[1], &dg, 1e-5), "{:?} vs {dg:?}", g[1]);
    assert!(close(&g[2], &db, 1e-5), "{:?} vs {db:?}", g[2]);
}

#[test]
fn symbol_json_names_plugin_operators_and_loads_back() {
    let _names = NameManager::scope();
    let net = two_plugin_net();
    let json = net.to_json().unwrap();
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let ops: Vec<&str> = v["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["op"].as_str().unwrap())
        .collect();
    assert_eq!(ops, ["null", "null", "null", "scale_shift", "swish"]);
    assert_eq!(v["nodes"][3]["attrs"]["alpha"], "2");
    let back = Symbol::from_json(&json).unwrap();
    assert_eq!(back.to_json().unwrap(), json);
    let mut exe = back
        .bind(
            Context::cpu(0),
            arrays(),
            vec![None, None, None],
            &[GradReq::Null; 3],
            vec![],
        )
        .unwrap();
    exe.forward(false).unwrap();
    let (y, ..) = two_plugin_expected();
    assert!(close(&exe.outputs()[0].to_vec::<f32>().unwrap(), &y, 1e-6));
}

#[test]
fn auxiliary_states_are_updated_by_the_plugin() {
    faulty();
    let _names = NameManager::scope();
    let data = Symbol::variable("data");
    let t = Symbol::op("tally", &[("", &data)], &[], Some("t")).unwrap();
    assert_eq!(t.list_arguments(), ["data"]);
    assert_eq!(t.list_auxiliary_states(), ["t_total"]);
    let x = NDArray::from_vec(&[3], vec![1.0f32, 2.0, 3.0]).unwrap();
    let mut exe = t
        .bind(
            Context::cpu(0),
            vec![x.clone()],
            vec![Some(NDArray::zeros(&[3]).unwrap())],
            &[GradReq::Write],
            vec![NDArray::zeros(&[1]).unwrap()],
        )
        .unwrap();
    exe.forward(true).unwrap();
    exe.forward(true).unwrap();
    exe.forward(false).unwrap();
    assert_eq!(exe.aux_arrays()[0].to_vec::<f32>().unwrap(), vec![12.0]);
    assert_eq!(
        exe.outputs()[0].to_vec::<f32>().unwrap(),
        vec![1.0, 2.0, 3.0]
    );
    exe.backward(&[NDArray::from_vec(&[3], vec![0.5f32, -1.0, 2.0]).unwrap()])
        .unwrap();
    assert_eq!(
        exe.grad_arrays()[0]
            .as_ref()
            .unwrap()
            .to_vec::<f32>()
            .unwrap(),
        vec![0.5, -1.0, 2.0]
    );

    // Imperatively, the state is an input the operator writes.
    let total = NDArray::from_vec(&[1], vec![1.0f32]).unwrap();
    {
        let _train = nd::train_mode(true);
        nd::invoke("tally", &[&x, &total], &[]).unwrap();
    }
    assert_eq!(total.to_vec::<f32>().unwrap(), vec![7.0]);
}
