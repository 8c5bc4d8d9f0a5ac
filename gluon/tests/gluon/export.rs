//! Naming and export against MXNet 1.9.1's own Gluon: the same small nets exported by both
//! must give the same graph JSON (ops, names, attributes and variable hints) and the same
//! parameter names and shapes; MXNet's `SymbolBlock.imports` of mxr's files must give mxr's
//! outputs; `save_parameters` uses Gluon's structural names.

use mxr::gluon::{Block, HybridBlock, SymbolBlock};
use mxr::nd;
use mxr_test_support::json::compact_graph;
use serde_json::{Value, json};

use super::common::{
    assert_close, cnn, cpu, embed, indices, mlp, mxnet_python, pools, ramp, scratch, upsample,
    values,
};

/// Builds the nets of `common.rs` in the same order (so the same counters), exports them as
/// `ref_<net>`, loads mxr's `mxr_<net>` exports with `SymbolBlock.imports` and runs them.
const SCRIPT: &str = r#"
import sys, json
import numpy as np
import mxnet as mx
from mxnet import nd, gluon
from mxnet.gluon import nn
d = sys.argv[1]
def ramp(shape):
    n = int(np.prod(shape))
    return nd.array(((np.arange(n) % 7) - 3) / 10.0).reshape(shape)
def indices(shape):
    return nd.array(np.arange(int(np.prod(shape))) % 7).reshape(shape)
def mlp():
    net = nn.HybridSequential()
    with net.name_scope():
        net.add(nn.Dense(4, activation='relu'))
        net.add(nn.Dense(3))
    return net
def cnn():
    net = nn.HybridSequential()
    net.add(nn.Conv2D(2, 3, in_channels=1), nn.BatchNorm(), nn.Activation('relu'),
            nn.MaxPool2D(), nn.Flatten(), nn.Dropout(0.5), nn.Dense(3, in_units=18))
    return net
def pools():
    net = nn.HybridSequential()
    net.add(nn.Conv2D(3, 3, strides=2, padding=1, in_channels=2, use_bias=False,
                      activation='relu'),
            nn.LeakyReLU(0.1), nn.AvgPool2D(2), nn.GlobalAvgPool2D(), nn.Dense(2),
            nn.HybridLambda('tanh'))
    return net
def upsample():
    net = nn.HybridSequential()
    with net.name_scope():
        net.add(nn.Conv2DTranspose(4, 3, strides=2, padding=1, output_padding=1),
                nn.LayerNorm(),
                nn.Conv2DTranspose(2, 2, strides=2, groups=2, use_bias=False, in_channels=4),
                nn.LayerNorm(axis=1))
    return net
def embed():
    net = nn.HybridSequential()
    with net.name_scope():
        net.add(nn.Embedding(10, 4), nn.Dense(3, flatten=False))
    return net
out = {}
nets = [('mlp', mlp, (2, 5), ramp), ('cnn', cnn, (2, 1, 8, 8), ramp),
        ('pools', pools, (2, 2, 8, 8), ramp), ('embed', embed, (2, 5), indices),
        ('upsample', upsample, (2, 3, 4, 4), ramp)]
for name, make, shape, data in nets:
    net = make()
    net.initialize()
    net.hybridize()
    net(data(shape))
    net.export(d + '/ref_' + name)
    out[name + '_json'] = open(d + '/ref_' + name + '-symbol.json').read()
    p = mx.nd.load(d + '/ref_' + name + '-0000.params')
    out[name + '_params'] = sorted([k, list(v.shape)] for k, v in p.items())
    net.save_parameters(d + '/ref_' + name + '.params')
    out[name + '_structural'] = sorted(mx.nd.load(d + '/ref_' + name + '.params').keys())
    blk = gluon.SymbolBlock.imports(d + '/mxr_' + name + '-symbol.json', ['data'],
                                    d + '/mxr_' + name + '-0000.params')
    out[name + '_out'] = blk(data(shape)).asnumpy().ravel().tolist()
print(json.dumps(out))
"#;

fn param_list(path: &std::path::Path) -> Value {
    let mut list: Vec<Value> = match nd::load(path).unwrap() {
        nd::Loaded::Named(named) => named.iter().map(|(k, v)| json!([k, v.shape()])).collect(),
        nd::Loaded::List(_) => panic!("unnamed parameters"),
    };
    list.sort_by_key(|v| v.to_string());
    Value::Array(list)
}

/// The nets, in the order both sides build them.
const NAMES: [&str; 5] = ["mlp", "cnn", "pools", "embed", "upsample"];

#[test]
fn export_matches_mxnet_and_mxnet_imports_it() {
    let dir = scratch("export");
    let nets = [
        (mlp(), ramp(&[2, 5])),
        (cnn(), ramp(&[2, 1, 8, 8])),
        (pools(), ramp(&[2, 2, 8, 8])),
        (embed(), indices(&[2, 5])),
        (upsample(), ramp(&[2, 3, 4, 4])),
    ];
    let mut outputs = Vec::new();
    for ((net, x), name) in nets.iter().zip(NAMES) {
        net.initialize("xavier", cpu()).unwrap();
        net.hybridize(true);
        let y = net.call(x).unwrap();
        let prefix = dir.join(format!("mxr_{name}"));
        net.export(prefix.to_str().unwrap(), 0).unwrap();
        net.save_parameters(&dir.join(format!("mxr_{name}.params")))
            .unwrap();
        outputs.push(values(&y));
    }
    let Some(python) = mxnet_python() else { return };
    let want = mxr_test_support::python::run_python_json(&python, SCRIPT, &[dir.to_str().unwrap()]);
    for (i, name) in NAMES.iter().enumerate() {
        let ours = std::fs::read_to_string(dir.join(format!("mxr_{name}-symbol.json"))).unwrap();
        let theirs = want[format!("{name}_json")].as_str().unwrap();
        assert_eq!(
            compact_graph(&ours),
            compact_graph(theirs),
            "{name}: graph JSON"
        );
        let params = param_list(&dir.join(format!("mxr_{name}-0000.params")));
        assert_eq!(
            params,
            want[format!("{name}_params")],
            "{name}: exported parameters"
        );
        let mut structural: Vec<String> =
            match nd::load(dir.join(format!("mxr_{name}.params"))).unwrap() {
                nd::Loaded::Named(named) => named.into_iter().map(|(k, _)| k).collect(),
                nd::Loaded::List(_) => panic!("unnamed"),
            };
        structural.sort();
        assert_eq!(
            json!(structural),
            want[format!("{name}_structural")],
            "{name}: save_parameters"
        );
        let theirs: Vec<f32> = want[format!("{name}_out")]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap() as f32)
            .collect();
        assert_close(
            &outputs[i],
            &theirs,
            1e-5,
            &format!("{name}: MXNet's imports of mxr's export"),
        );
    }
}

#[test]
fn symbol_block_imports_an_export_and_parameters_round_trip() {
    let dir = scratch("imports");
    let net = cnn();
    net.initialize("xavier", cpu()).unwrap();
    let x = ramp(&[2, 1, 8, 8]);
    let y = values(&net.call(&x).unwrap());
    let prefix = dir.join("net");
    net.export(prefix.to_str().unwrap(), 3).unwrap();
    let block = SymbolBlock::imports(
        &dir.join("net-symbol.json"),
        &["data"],
        Some(&dir.join("net-0003.params")),
        cpu(),
    )
    .unwrap();
    assert_close(&values(&block.call(&x).unwrap()), &y, 1e-6, "imported");
    // Structural names back into a fresh net of the same structure.
    net.save_parameters(&dir.join("net.params")).unwrap();
    let again = cnn();
    again
        .load_parameters(&dir.join("net.params"), cpu())
        .unwrap();
    assert_close(&values(&again.call(&x).unwrap()), &y, 1e-6, "reloaded");
    // Full names (an export's `arg:`/`aux:` file) load too.
    let third = cnn();
    let (old, new) = (net.collect_params().keys(), third.collect_params().keys());
    let rename = |k: &str| {
        let (kind, name) = k.split_at(4);
        let at = old.iter().position(|o| o == name).unwrap();
        format!("{kind}{}", new[at])
    };
    let renamed: Vec<(String, nd::NDArray)> = match nd::load(dir.join("net-0003.params")).unwrap() {
        nd::Loaded::Named(named) => named.into_iter().map(|(k, v)| (rename(&k), v)).collect(),
        nd::Loaded::List(_) => panic!("unnamed"),
    };
    nd::save_named(dir.join("full.params"), &renamed).unwrap();
    third
        .load_parameters(&dir.join("full.params"), cpu())
        .unwrap();
    assert_close(&values(&third.call(&x).unwrap()), &y, 1e-6, "full names");
}

/// Nested name scopes, a plain Sequential among hybrid blocks, and the global counter outside
/// scopes, with MXNet 1.9.1's names:
/// ```python
/// seq = nn.Sequential()
/// with seq.name_scope():
///     seq.add(nn.Dense(2))
///     inner = nn.HybridSequential()
///     with inner.name_scope():
///         inner.add(nn.Conv2D(2, 3), nn.BatchNorm(), nn.Dense(3, activation='tanh'))
///     seq.add(inner)
///     seq.add(nn.Dense(2))
/// list(seq.collect_params().keys()); sorted(seq._collect_params_with_prefix().keys())
/// nn.Dense(2).prefix
/// ```
#[test]
fn nested_scopes_name_blocks_as_gluon() {
    use mxr::gluon::nn::{BatchNorm, Conv2D, Dense, HybridSequential, Sequential};
    let mut seq = Sequential::new();
    seq.name_scope(|seq| {
        seq.add(Dense::new(2));
        let mut inner = HybridSequential::new();
        inner.name_scope(|inner| {
            inner.add(Conv2D::new(2, &[3, 3]));
            inner.add(BatchNorm::new());
            inner.add(Dense::new(3).activation("tanh"));
        });
        seq.add(inner);
        seq.add(Dense::new(2));
    });
    let inner = "sequential0_hybridsequential0_";
    let mut want = vec![
        "sequential0_dense0_weight".to_owned(),
        "sequential0_dense0_bias".into(),
    ];
    for p in [
        "conv0_weight",
        "conv0_bias",
        "batchnorm0_gamma",
        "batchnorm0_beta",
        "batchnorm0_running_mean",
        "batchnorm0_running_var",
        "dense0_weight",
        "dense0_bias",
    ] {
        want.push(format!("{inner}{p}"));
    }
    want.extend([
        "sequential0_dense1_weight".into(),
        "sequential0_dense1_bias".into(),
    ]);
    assert_eq!(seq.collect_params().keys(), want);
    let mut structural: Vec<String> = seq
        .structural_params()
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    structural.sort();
    let want = [
        "0.bias",
        "0.weight",
        "1.0.bias",
        "1.0.weight",
        "1.1.beta",
        "1.1.gamma",
        "1.1.running_mean",
        "1.1.running_var",
        "1.2.bias",
        "1.2.weight",
        "2.bias",
        "2.weight",
    ];
    assert_eq!(structural, want);
    assert_eq!(Dense::new(2).prefix(), "dense0_");
}

/// An imported export trains: under `record` its gradients are the original network's.
#[test]
fn symbol_block_gradients_equal_the_original_networks() {
    use mxr::gluon::autograd;
    let dir = scratch("symgrad");
    let net = mlp();
    net.initialize("xavier", cpu()).unwrap();
    let x = ramp(&[3, 5]);
    net.call(&x).unwrap();
    let prefix = dir.join("mlp");
    net.export(prefix.to_str().unwrap(), 0).unwrap();
    let block = SymbolBlock::imports(
        &dir.join("mlp-symbol.json"),
        &["data"],
        Some(&dir.join("mlp-0000.params")),
        cpu(),
    )
    .unwrap();
    let mut grads = Vec::new();
    for b in [&net as &dyn Block, &block as &dyn Block] {
        let y = {
            let _rec = autograd::record();
            b.call(&x).unwrap()
        };
        autograd::backward(&[&y]).unwrap();
        let params = b.collect_params();
        let mut g: Vec<(String, Vec<f32>)> = params
            .values()
            .map(|p| (p.name().to_owned(), values(&p.grad().unwrap())))
            .collect();
        g.sort_by(|a, b| a.0.cmp(&b.0));
        grads.push(g);
    }
    assert_eq!(grads[0].len(), grads[1].len());
    for ((name, a), (other, b)) in grads[0].iter().zip(&grads[1]) {
        assert_eq!(name, other);
        assert_close(b, a, 1e-6, name);
    }
}
