//! The W8 networks (Gluon model zoo's resnet18_v1, mobilenet1_0, resnet50_v2, exported by
//! benches/mxnet/export_zoo.py) give MXNet 1.9.1's outputs element by element, through the
//! fused inference program and the unfused executor. Needs MXNet in `.venv` (as the other
//! interop tests; CI installs it). Images are 64×64 (the networks pool globally) to keep the
//! debug build quick.

use std::path::{Path, PathBuf};
use std::process::Command;

use mxr::engine::Context;
use mxr::exec::GradReq;
use mxr::nd::{self, NDArray};

/// MXNet's side: for each net, load the checkpoint, bind for (2, 3, 64, 64), forward in
/// inference on the ramp input, save the output as `<dir>/<net>-expected.params`.
const REFERENCE: &str = r#"
import os, sys
os.environ.setdefault('OMP_NUM_THREADS', '1')
import numpy as np, mxnet as mx
sys.path.insert(0, sys.argv[1])
import export_zoo
out = sys.argv[2]
shape = (2, 3, 64, 64)
n = int(np.prod(shape))
data = (((np.arange(n) * 7919) % 1000) / 1000.0 - 0.5).astype(np.float32).reshape(shape)
for name in sys.argv[3:]:
    prefix = export_zoo.export(name, out)
    sym, args, aux = mx.model.load_checkpoint(prefix, 0)
    exe = sym.simple_bind(mx.cpu(), grad_req='null', data=shape)
    exe.copy_params_from(args, aux, allow_extra_params=True)
    exe.arg_dict['data'][:] = data
    y = exe.forward(is_train=False)[0]
    mx.nd.save(os.path.join(out, name + '-expected.params'), {'output': y})
"#;

const NETS: [&str; 3] = ["resnet18_v1", "mobilenet1_0", "resnet50_v2"];

fn zoo_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/zoo-test")
}

#[test]
fn the_w8_networks_match_mxnet_element_by_element() {
    let Some(python) = super::params::mxnet_python() else {
        return;
    };
    let dir = zoo_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let scripts = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/mxnet");
    let out = Command::new(&python)
        .arg("-c")
        .arg(REFERENCE)
        .arg(&scripts)
        .arg(&dir)
        .args(NETS)
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "MXNet failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let shape = [2usize, 3, 64, 64];
    let ramp: Vec<f32> = (0..shape.iter().product::<usize>())
        .map(|i| ((i * 7919) % 1000) as f32 / 1000.0 - 0.5)
        .collect();
    for name in NETS {
        let prefix = dir.join(name);
        let (symbol, args, aux) = mxr::sym::load_checkpoint(prefix.to_str().unwrap(), 0).unwrap();
        let want = match nd::load(dir.join(format!("{name}-expected.params"))).unwrap() {
            nd::Loaded::Named(v) => v.into_iter().next().unwrap().1,
            nd::Loaded::List(_) => panic!("a named output"),
        };
        let want = want.to_vec::<f32>().unwrap();
        let scale = want.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let mut fused_convolutions = Vec::new();
        // Fused layer by layer, fused with every run of convolutions chained image by image
        // (whatever the activations' size), unfused.
        for (fusion, chains) in [(true, None), (true, Some(0)), (false, None)] {
            let mut exe = symbol
                .simple_bind(Context::cpu(0), &[("data", &shape)], GradReq::Null, &[])
                .unwrap();
            exe.set_fusion(fusion);
            exe.set_fusion_chains(chains);
            let (arg_dict, aux_dict) = (exe.arg_dict(), exe.aux_dict());
            let copy = |pairs: &[(String, NDArray)],
                        dict: &std::collections::HashMap<String, NDArray>| {
                for (n, v) in pairs {
                    if let Some(dst) = dict.get(n) {
                        dst.assign(v).unwrap();
                    }
                }
            };
            copy(&args, &arg_dict);
            copy(&aux, &aux_dict);
            arg_dict["data"].assign_slice(&ramp).unwrap();
            exe.forward(false).unwrap();
            let got = exe.outputs()[0].to_vec::<f32>().unwrap();
            assert_eq!(got.len(), want.len(), "{name}");
            for (i, (a, b)) in got.iter().zip(&want).enumerate() {
                assert!(
                    (a - b).abs() <= 1e-4 * scale,
                    "{name} (fusion {fusion}, chains {chains:?}) output[{i}]: {a}, MXNet {b} \
                     (max |MXNet| {scale})"
                );
            }
            fused_convolutions.push(exe.fused_convolutions());
            let program = exe.inference_debug_str().unwrap_or_default();
            // Batch 2 chains on one or two kernel threads (each takes whole images).
            let chained = chains.is_some() && mxr_kernels::cpu::parallel::num_threads() <= 2;
            assert_eq!(program.contains("_fused_chain"), chained, "{name}");
        }
        assert!(fused_convolutions[0] > 0, "{name}: the fused program ran");
        assert_eq!(fused_convolutions[1], fused_convolutions[0], "{name}");
        assert_eq!(fused_convolutions[2], 0, "{name}");
    }
}
