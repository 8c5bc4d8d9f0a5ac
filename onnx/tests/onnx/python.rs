//! MXNet (with its ONNX exporter) and onnxruntime from Python, for the comparisons: the
//! scripts write raw little-endian float32 files that the tests read.

use std::path::{Path, PathBuf};
use std::process::Command;

use mxr_test_support::{Missing, skip};

/// The repository root (the workspace's, one above this crate).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A Python that runs `check`: `$var` (which must work), else `root/venv/bin/python`; `None`
/// after [`skip`] when there is none.
fn python(var: &str, venv: &str, check: &str, install: &str) -> Option<PathBuf> {
    let explicit = std::env::var_os(var).map(PathBuf::from);
    let python = explicit
        .clone()
        .unwrap_or_else(|| root().join(venv).join("bin/python"));
    let works = Command::new(&python)
        .args(["-c", check])
        .output()
        .is_ok_and(|o| o.status.success());
    match (works, explicit) {
        (true, _) => Some(python),
        (false, Some(p)) => panic!("{var}={} cannot run {check:?}", p.display()),
        (false, None) => {
            skip(Missing::Onnx, install);
            None
        }
    }
}

/// MXNet 1.9.1 with onnx 1.14.1 (its exporter): `.venv` or `$MXR_MXNET_PYTHON`.
pub(crate) fn mxnet() -> Option<PathBuf> {
    python(
        "MXR_MXNET_PYTHON",
        ".venv",
        "import mxnet, onnx.helper",
        "MXNet's ONNX exporter is not installed (python3 -m venv .venv && .venv/bin/pip install \
         mxnet==1.9.1 onnx==1.14.1 'numpy<1.24'; or set MXR_MXNET_PYTHON)",
    )
}

/// onnxruntime: `.venv-ort` or `$MXR_ONNXRUNTIME_PYTHON`.
pub(crate) fn onnxruntime() -> Option<PathBuf> {
    python(
        "MXR_ONNXRUNTIME_PYTHON",
        ".venv-ort",
        "import onnxruntime",
        "onnxruntime is not installed (python3 -m venv .venv-ort && .venv-ort/bin/pip install \
         onnxruntime==1.16.3 'numpy<2'; or set MXR_ONNXRUNTIME_PYTHON)",
    )
}

/// Runs `script` with `args`; its stdout, or a panic with its stderr.
pub(crate) fn run(python: &Path, script: &str, args: &[&str]) -> String {
    mxr_test_support::python::run_python(python, script, args)
}

/// MXNet builds the docs' MLP or LeNet with its Symbol API (seeded weights), saves the
/// checkpoint `DIR/NET-symbol.json` + `DIR/NET-0000.params`, exports `DIR/NET.onnx` with
/// `mx.onnx.export_model`, and writes a seeded input (`DIR/input.f32`) and its own forward
/// output on it (`DIR/mxnet.f32`). Prints the input shape as JSON.
pub(crate) const MXNET_NETS: &str = r#"
import json, sys
import numpy as np
import mxnet as mx

net_name, d = sys.argv[1], sys.argv[2]
data = mx.sym.var('data')
if net_name == 'mlp':
    shape = (4, 784)
    fc1 = mx.sym.FullyConnected(data, num_hidden=128, name='fc1')
    act1 = mx.sym.Activation(fc1, act_type='relu', name='relu1')
    fc2 = mx.sym.FullyConnected(act1, num_hidden=64, name='fc2')
    act2 = mx.sym.Activation(fc2, act_type='relu', name='relu2')
    fc3 = mx.sym.FullyConnected(act2, num_hidden=10, name='fc3')
    net = mx.sym.SoftmaxOutput(fc3, name='softmax')
elif net_name == 'lenet':
    shape = (2, 1, 28, 28)
    c1 = mx.sym.Convolution(data, kernel=(5, 5), num_filter=20, name='conv1')
    t1 = mx.sym.Activation(c1, act_type='tanh', name='tanh1')
    p1 = mx.sym.Pooling(t1, pool_type='max', kernel=(2, 2), stride=(2, 2), name='pool1')
    c2 = mx.sym.Convolution(p1, kernel=(5, 5), num_filter=50, name='conv2')
    t2 = mx.sym.Activation(c2, act_type='tanh', name='tanh2')
    p2 = mx.sym.Pooling(t2, pool_type='max', kernel=(2, 2), stride=(2, 2), name='pool2')
    f = mx.sym.Flatten(p2, name='flatten')
    fc1 = mx.sym.FullyConnected(f, num_hidden=500, name='fc1')
    t3 = mx.sym.Activation(fc1, act_type='tanh', name='tanh3')
    fc2 = mx.sym.FullyConnected(t3, num_hidden=10, name='fc2')
    net = mx.sym.SoftmaxOutput(fc2, name='softmax')
else:
    raise SystemExit('unknown net ' + net_name)

rng = np.random.RandomState(7)
arg_shapes, _, aux_shapes = net.infer_shape(data=shape)
args = {}
for name, s in zip(net.list_arguments(), arg_shapes):
    if name in ('data', 'softmax_label'):
        continue
    args[name] = mx.nd.array(rng.uniform(-0.3, 0.3, s).astype(np.float32))
x = rng.uniform(-1, 1, shape).astype(np.float32)
mx.model.save_checkpoint(d + '/' + net_name, 0, net, args, {})
# MXNet 1.9.1's exporter skips the label variable without keeping its slot in its output
# table, and then fails reading SoftmaxOutput's inputs; given as a parameter, the label is
# written as an (unread) initializer instead.
label = {'softmax_label': mx.nd.zeros(shape[0])}
mx.onnx.export_model(net, dict(args, **label), [shape], np.float32, d + '/' + net_name + '.onnx')
exe = net.bind(mx.cpu(), dict(args, data=mx.nd.array(x), softmax_label=mx.nd.zeros(shape[0])))
out = exe.forward(is_train=False)[0].asnumpy()
x.tofile(d + '/input.f32')
out.astype(np.float32).tofile(d + '/mxnet.f32')
print(json.dumps({'input': list(shape), 'output': list(out.shape)}))
"#;

/// onnxruntime runs `MODEL` on the float32 input `IN` of shape `SHAPE` (comma-separated) fed
/// to the graph's first input, and writes the first output to `OUT`.
pub(crate) const ONNXRUNTIME: &str = r#"
import sys
import numpy as np
import onnxruntime as ort

model, inp, shape, out = sys.argv[1:5]
x = np.fromfile(inp, dtype=np.float32).reshape([int(s) for s in shape.split(',')])
sess = ort.InferenceSession(model, providers=['CPUExecutionProvider'])
name = sess.get_inputs()[0].name
y = sess.run(None, {name: x})[0]
y.astype(np.float32).tofile(out)
print(y.shape)
"#;

/// Reads a raw little-endian float32 file.
pub(crate) fn read_f32(path: &Path) -> Vec<f32> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

/// Writes a raw little-endian float32 file.
pub(crate) fn write_f32(path: &Path, values: &[f32]) {
    let bytes: Vec<u8> = values.iter().flat_map(|x| x.to_le_bytes()).collect();
    std::fs::write(path, bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

/// Runs onnxruntime on `model` with `input` of `shape`; its first output.
pub(crate) fn run_onnxruntime(
    python: &Path,
    model: &Path,
    input: &[f32],
    shape: &[usize],
) -> Vec<f32> {
    let dir = model.parent().expect("a model in a directory");
    let (inp, out) = (dir.join("ort-input.f32"), dir.join("ort-output.f32"));
    write_f32(&inp, input);
    let shape: Vec<String> = shape.iter().map(ToString::to_string).collect();
    run(
        python,
        ONNXRUNTIME,
        &[
            &model.to_string_lossy(),
            &inp.to_string_lossy(),
            &shape.join(","),
            &out.to_string_lossy(),
        ],
    );
    read_f32(&out)
}

/// For each Gluon model-zoo network named (benches/mxnet/export_zoo.py: seeded weights, no
/// download): the MXNet checkpoint `DIR/NAME-symbol.json` + `-0000.params`, its ONNX export
/// by `mx.onnx.export_model` for the input shape (2, 3, 64, 64) as `DIR/NAME.onnx`, the ramp
/// input `DIR/input.f32` and MXNet's output on it `DIR/NAME-mxnet.f32`.
pub(crate) const MXNET_ZOO: &str = r#"
import os, sys
os.environ.setdefault('OMP_NUM_THREADS', '1')
import numpy as np, mxnet as mx
sys.path.insert(0, sys.argv[1])
import export_zoo
d = sys.argv[2]
shape = (2, 3, 64, 64)
n = int(np.prod(shape))
x = (((np.arange(n) * 7919) % 1000) / 1000.0 - 0.5).astype(np.float32).reshape(shape)
x.tofile(os.path.join(d, 'input.f32'))
for name in sys.argv[3:]:
    prefix = export_zoo.export(name, d)
    mx.onnx.export_model(prefix + '-symbol.json', prefix + '-0000.params', [shape], np.float32,
                         os.path.join(d, name + '.onnx'))
    sym, args, aux = mx.model.load_checkpoint(prefix, 0)
    exe = sym.simple_bind(mx.cpu(), grad_req='null', data=shape)
    exe.copy_params_from(args, aux, allow_extra_params=True)
    exe.arg_dict['data'][:] = x
    y = exe.forward(is_train=False)[0].asnumpy()
    y.astype(np.float32).tofile(os.path.join(d, name + '-mxnet.f32'))
"#;

/// onnxruntime on every `NAME.onnx` in `DIR`: input `NAME.in.f32` of the shape in
/// `NAME.shape` (comma-separated) fed to the first graph input, first output to
/// `NAME.ort.f32`.
pub(crate) const ONNXRUNTIME_DIR: &str = r#"
import os, sys
import numpy as np
import onnxruntime as ort

d = sys.argv[1]
for f in sorted(os.listdir(d)):
    if not f.endswith('.onnx'):
        continue
    base = os.path.join(d, f[:-5])
    shape = [int(s) for s in open(base + '.shape').read().split(',')]
    x = np.fromfile(base + '.in.f32', dtype=np.float32).reshape(shape)
    sess = ort.InferenceSession(os.path.join(d, f), providers=['CPUExecutionProvider'])
    y = sess.run(None, {sess.get_inputs()[0].name: x})[0]
    y.astype(np.float32).tofile(base + '.ort.f32')
"#;

/// MXNet loads the checkpoint `PREFIX` (as `mxr onnx import` writes it), binds it for the
/// float32 input `IN` of shape `SHAPE` (comma-separated) and writes its output to `OUT`.
pub(crate) const MXNET_CHECKPOINT: &str = r#"
import sys
import numpy as np
import mxnet as mx

prefix, inp, shape, out = sys.argv[1:5]
shape = tuple(int(s) for s in shape.split(','))
sym, args, aux = mx.model.load_checkpoint(prefix, 0)
exe = sym.simple_bind(mx.cpu(), grad_req='null', data=shape)
exe.copy_params_from(args, aux)
exe.arg_dict['data'][:] = np.fromfile(inp, dtype=np.float32).reshape(shape)
exe.forward(is_train=False)[0].asnumpy().astype(np.float32).tofile(out)
"#;
