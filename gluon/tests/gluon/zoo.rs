//! The model zoo against MXNet 1.9.1's own (`gluon.model_zoo.vision`): for each network, made
//! in its own test (so on a fresh thread, whose name counters start from zero as in a fresh
//! Python interpreter), the export's graph JSON equals MXNet's export of the same network
//! (`benches/mxnet/export_zoo.py`, the repository's copy of the bench's script: ops, names,
//! attributes, variable hints), the parameter
//! file has the same names and shapes, the structural names and gradient requests are
//! MXNet's; MXNet's `SymbolBlock.imports` of mxr's export gives mxr's outputs; with MXNet's
//! parameters loaded, the network gives MXNet's outputs, hybridized and imperatively alike.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use mxr::engine::Context;
use mxr::exec::GradReq;
use mxr::gluon::model_zoo::vision::{self, ResNetOptions};
use mxr::gluon::{Block, HybridBlock};
use mxr::nd::{self, NDArray};
use mxr_test_support::json::compact_graph;
use mxr_test_support::python::run_python_json;
use serde_json::{Value, json};

use super::common::{assert_close, cpu, mxnet_python, scratch, values};

/// The networks compared, as MXNet's function names.
const NETS: [&str; 4] = [
    "resnet18_v1",
    "resnet50_v2",
    "mobilenet1_0",
    "mobilenet_v2_1_0",
];

/// The input of the value comparisons: small, as every network here allows (the parameters'
/// shapes do not depend on it).
const INPUT: [usize; 4] = [1, 3, 32, 32];

/// Exports MXNet's references with export_zoo.py's `export` (Xavier magnitude 2 from a fixed
/// seed, random BatchNorm statistics; skipped where the files exist), draws the input, and
/// prints per network MXNet's output on it (its export loaded by `SymbolBlock.imports`), its
/// structural parameter names with their gradient requests.
const SCRIPT: &str = r#"
import sys, json
import numpy as np
import mxnet as mx
from mxnet import gluon
from mxnet.gluon.model_zoo import vision
sys.path.insert(0, sys.argv[1])
import export_zoo
ref, nets = sys.argv[2], sys.argv[3].split(',')
shape = tuple(int(s) for s in sys.argv[4].split(','))
x = mx.nd.array(np.random.RandomState(7).uniform(-1, 1, shape))
mx.nd.save(ref + '/zoo_input.params', {'x': x})
out = {}
for name in nets:
    export_zoo.NETS.setdefault(name, getattr(vision, name))
    prefix = export_zoo.export(name, ref)
    blk = gluon.SymbolBlock.imports(prefix + '-symbol.json', ['data'], prefix + '-0000.params')
    out[name + '_out'] = blk(x).asnumpy().ravel().tolist()
    params = getattr(vision, name)()._collect_params_with_prefix()
    out[name + '_grad_req'] = sorted([k, p.grad_req] for k, p in params.items())
print(json.dumps(out))
"#;

/// Loads the export `argv[1]` with `SymbolBlock.imports` and prints its output on the array `x`
/// of the file `argv[2]`.
const IMPORTS: &str = r#"
import sys, json
import mxnet as mx
from mxnet import gluon
prefix = sys.argv[1]
blk = gluon.SymbolBlock.imports(prefix + '-symbol.json', ['data'], prefix + '-0000.params')
print(json.dumps(blk(mx.nd.load(sys.argv[2])['x']).asnumpy().ravel().tolist()))
"#;

/// A JSON array of numbers as `f32`s.
fn floats(v: &Value) -> Vec<f32> {
    let Some(list) = v.as_array() else {
        panic!("not an array: {v}");
    };
    list.iter().map(|v| v.as_f64().unwrap() as f32).collect()
}

/// MXNet's side, made once per test binary: the folder of the references (`MXR_ZOO_DIR`, else
/// `zoo-ref` in Cargo's folder for test files, where later runs find them) and the script's
/// output. `None` (after a skip notice) without MXNet.
fn mxnet_side() -> Option<&'static (PathBuf, Value)> {
    static SIDE: OnceLock<Option<(PathBuf, Value)>> = OnceLock::new();
    SIDE.get_or_init(|| {
        let python = mxnet_python()?;
        let dir = std::env::var_os("MXR_ZOO_DIR").map_or_else(
            || Path::new(env!("CARGO_TARGET_TMPDIR")).join("zoo-ref"),
            PathBuf::from,
        );
        std::fs::create_dir_all(&dir).unwrap();
        let bench = Path::new(env!("CARGO_MANIFEST_DIR")).join("../benches/mxnet");
        assert!(
            bench.join("export_zoo.py").exists(),
            "{}/export_zoo.py is missing",
            bench.display()
        );
        let shape: Vec<String> = INPUT.iter().map(usize::to_string).collect();
        let args = [
            bench.to_str().unwrap(),
            dir.to_str().unwrap(),
            &NETS.join(","),
            &shape.join(","),
        ];
        let out = run_python_json(&python, SCRIPT, &args);
        Some((dir, out))
    })
    .as_ref()
}

/// The names and shapes in a parameter file, sorted.
fn names_and_shapes(path: &Path) -> Vec<(String, Vec<usize>)> {
    let nd::Loaded::Named(named) = nd::load(path).unwrap() else {
        panic!("{}: unnamed arrays", path.display());
    };
    let mut list: Vec<_> = named
        .into_iter()
        .map(|(k, v)| (k, v.shape().to_vec()))
        .collect();
    list.sort();
    list
}

fn grad_req_name(req: GradReq) -> &'static str {
    match req {
        GradReq::Null => "null",
        GradReq::Write => "write",
        GradReq::Add => "add",
    }
}

/// The array `name` of a parameter file.
fn load_named(path: &Path, name: &str) -> NDArray {
    let nd::Loaded::Named(named) = nd::load(path).unwrap() else {
        panic!("{}: unnamed arrays", path.display());
    };
    named.into_iter().find(|(k, _)| k == name).unwrap().1
}

/// Builds `name` as the export example does (Xavier magnitude 2, hybridized, one batch of
/// zeros), exports it and compares the files with MXNet's; then loads MXNet's parameters and
/// compares the outputs on MXNet's input, hybridized (with MXNet's, 1e-4 relative) and
/// imperatively (with the hybridized, 1e-5).
fn check_against_mxnet(name: &str) {
    let net = vision::get_model(name, 1000).unwrap();
    net.initialize(r#"["xavier", {"magnitude": 2}]"#, cpu())
        .unwrap();
    net.hybridize(true);
    net.call(&NDArray::zeros(&INPUT).unwrap()).unwrap();
    let dir = scratch(&format!("zoo-{name}"));
    let prefix = dir.join(name);
    net.export(prefix.to_str().unwrap(), 0).unwrap();
    let Some((ref_dir, want)) = mxnet_side() else {
        std::fs::remove_dir_all(&dir).unwrap();
        return;
    };
    let ours = std::fs::read_to_string(dir.join(format!("{name}-symbol.json"))).unwrap();
    let theirs = std::fs::read_to_string(ref_dir.join(format!("{name}-symbol.json"))).unwrap();
    assert_eq!(
        compact_graph(&ours),
        compact_graph(&theirs),
        "{name}: graph JSON"
    );
    let ref_params = ref_dir.join(format!("{name}-0000.params"));
    assert_eq!(
        names_and_shapes(&dir.join(format!("{name}-0000.params"))),
        names_and_shapes(&ref_params),
        "{name}: exported parameters"
    );
    let mut grad_reqs: Vec<Value> = net
        .structural_params()
        .iter()
        .map(|(k, p)| json!([k, grad_req_name(p.grad_req())]))
        .collect();
    grad_reqs.sort_by_key(Value::to_string);
    assert_eq!(
        json!(grad_reqs),
        want[format!("{name}_grad_req")],
        "{name}: structural names and gradient requests"
    );

    // MXNet runs mxr's export (mxr's initial parameters) as mxr does.
    let input = ref_dir.join("zoo_input.params");
    let x = load_named(&input, "x");
    let own = values(&net.call(&x).unwrap());
    let python = mxnet_python().expect("found for the references");
    let args = [prefix.to_str().unwrap(), input.to_str().unwrap()];
    let imported = run_python_json(&python, IMPORTS, &args);
    let what = format!("{name}: MXNet's imports of mxr's export");
    assert_close(&own, &floats(&imported), 1e-4, &what);

    // mxr runs MXNet's parameters as MXNet does.
    net.load_parameters(&ref_params, cpu()).unwrap();
    let hybrid = values(&net.call(&x).unwrap());
    let theirs = floats(&want[format!("{name}_out")]);
    assert_close(&hybrid, &theirs, 1e-4, &format!("{name}: MXNet's outputs"));
    net.hybridize(false);
    let imperative = values(&net.call(&x).unwrap());
    assert_close(
        &imperative,
        &hybrid,
        1e-5,
        &format!("{name}: imperative vs hybridized"),
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn resnet18_v1_matches_mxnet() {
    check_against_mxnet("resnet18_v1");
}

#[test]
fn resnet50_v2_matches_mxnet() {
    check_against_mxnet("resnet50_v2");
}

#[test]
fn mobilenet1_0_matches_mxnet() {
    check_against_mxnet("mobilenet1_0");
}

#[test]
fn mobilenet_v2_1_0_matches_mxnet() {
    check_against_mxnet("mobilenet_v2_1_0");
}

#[test]
fn the_family_constructors_name_and_shape_as_mxnet() {
    let ctx = Context::cpu(0);
    let options = ResNetOptions {
        classes: 10,
        thumbnail: true,
    };
    // One thread: the counters go on per class, as in one Python process.
    let nets = [
        vision::resnet18_v2(&options).unwrap(),
        vision::resnet34_v1(&options).unwrap(),
        vision::resnet50_v1(&options).unwrap(),
        vision::resnet18_v2(&options).unwrap(),
    ];
    let prefixes: Vec<&str> = nets.iter().map(|n| n.prefix()).collect();
    assert_eq!(
        prefixes,
        ["resnetv20_", "resnetv10_", "resnetv11_", "resnetv21_"]
    );
    let x = NDArray::zeros(&[2, 3, 8, 8]).unwrap();
    for net in &nets {
        net.initialize("xavier", ctx).unwrap();
        assert_eq!(net.call(&x).unwrap().shape(), &[2, 10], "{}", net.prefix());
    }
    // ResNet-34 V1: 3, 4, 6, 3 basic blocks of two 3×3 convolutions, three projections.
    let convs = nets[1]
        .collect_params()
        .keys()
        .into_iter()
        .filter(|k| k.contains("conv") && k.ends_with("weight"))
        .count();
    assert_eq!(convs, 1 + 2 * 16 + 3);
    let small = vision::get_mobilenet_v2(0.25, 7).unwrap();
    small.initialize("xavier", ctx).unwrap();
    assert_eq!(small.call(&x).unwrap().shape(), &[2, 7]);
    let half = vision::mobilenet0_5(5).unwrap();
    half.initialize("xavier", ctx).unwrap();
    assert_eq!(half.call(&x).unwrap().shape(), &[2, 5]);
    // The centre-less first BatchNorm of a V2 learns neither gamma nor beta.
    let params = nets[0].collect_params();
    for name in ["resnetv20_batchnorm0_beta", "resnetv20_batchnorm0_gamma"] {
        assert_eq!(
            params.by_name(name).unwrap().grad_req(),
            GradReq::Null,
            "{name}"
        );
    }
}

#[test]
fn bad_zoo_arguments_are_errors() {
    // A network called before initialisation names the parameter.
    let net = vision::mobilenet1_0(10).unwrap();
    let e = net
        .call(&NDArray::zeros(&[1, 3, 32, 32]).unwrap())
        .unwrap_err()
        .to_string();
    assert!(e.contains("mobilenet0_conv0_weight"), "{e}");
    let options = ResNetOptions::default();
    let message = |r: Result<vision::ResNet, mxr::gluon::Error>| r.unwrap_err().to_string();
    assert!(message(vision::get_resnet(3, 18, &options)).contains("version: 3"));
    assert!(message(vision::get_resnet(1, 20, &options)).contains("layers: 20"));
    let no_classes = ResNetOptions {
        classes: 0,
        thumbnail: false,
    };
    assert!(message(vision::resnet18_v1(&no_classes)).contains("classes 0"));
    let e = vision::get_model("vgg16", 1000).unwrap_err().to_string();
    assert!(e.contains("vgg16") && e.contains("resnet18_v1"), "{e}");
    let e = vision::get_mobilenet(0.001, 1000).unwrap_err().to_string();
    assert!(e.contains("multiplier 0.001"), "{e}");
    assert!(vision::get_mobilenet_v2(f64::NAN, 10).is_err());
    assert!(vision::mobilenet_v2_1_0(0).is_err());
}
