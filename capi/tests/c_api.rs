//! libmxr from C: C programs compiled with the system compiler (`cc`) against the headers in
//! `capi/include` (and MXNet's own `c_predict_api.h`), linked to `libmxr.so` and run.
//!
//! `MXR_C_RUNNER` (for example `valgrind --error-exitcode=99`) runs each C program under a tool.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use mxr_frontend::engine::Context;
use mxr_frontend::exec::GradReq;
use mxr_frontend::nd;
use mxr_frontend::sym::Symbol;

mod support;
use support::lib_dir;

/// The workspace root.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A scratch folder for one test, under the target folder (`<target>/<profile>/capi-tests/`):
/// each run overwrites the last one's files, and `cargo clean` removes them.
fn scratch(name: &str) -> PathBuf {
    let dir = lib_dir().join("capi-tests").join(name);
    std::fs::create_dir_all(&dir).expect("create a scratch folder");
    dir
}

/// The MXNet-trained conformance checkpoint: (symbol JSON, parameters).
fn checkpoint() -> (PathBuf, PathBuf) {
    let model = root().join("tests/fixtures/conformance/model");
    (
        model.join("fashion_mlp-symbol.json"),
        model.join("fashion_mlp-0003.params"),
    )
}

/// Compiles `sources` with `cc` against `includes` and libmxr; returns the executable.
fn compile(name: &str, sources: &[PathBuf], includes: &[PathBuf]) -> PathBuf {
    let out = scratch(name).join(name);
    let lib = lib_dir();
    let mut cc = Command::new("cc");
    cc.args([
        "-std=c99", "-O1", "-g", "-Wall", "-Wextra", "-Werror", "-pthread",
    ]);
    for dir in includes {
        cc.arg("-I").arg(dir);
    }
    cc.args(sources).arg("-L").arg(&lib).arg("-lmxr");
    cc.arg(format!("-Wl,-rpath,{}", lib.display()))
        .arg("-o")
        .arg(&out);
    let status = cc.status().expect("run cc");
    assert!(status.success(), "cc failed on {sources:?}");
    out
}

/// A command running a compiled C program (under `MXR_C_RUNNER` when set), in its scratch
/// folder.
fn command(exe: &Path) -> Command {
    let runner = std::env::var("MXR_C_RUNNER").unwrap_or_default();
    let mut words = runner.split_whitespace();
    let mut cmd = match words.next() {
        Some(tool) => {
            let mut c = Command::new(tool);
            c.args(words).arg(exe);
            c
        }
        None => Command::new(exe),
    };
    cmd.current_dir(exe.parent().expect("the scratch folder"));
    cmd
}

/// Runs a compiled C program; returns its standard output after checking it exited with 0.
fn run(exe: &Path, args: &[&Path]) -> String {
    let output = command(exe).args(args).output().expect("run the C program");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{} exited with {}\nstdout:\n{stdout}\nstderr:\n{}",
        exe.display(),
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// Compiles the C test program `source`, runs it with `args` and checks it printed `expect`.
fn passes(source: &str, args: &[&Path], expect: &str) {
    let name = source.trim_end_matches(".c");
    let exe = compile(name, &[test_source(source)], &[include()]);
    let stdout = run(&exe, args);
    assert!(stdout.contains(expect), "{stdout}");
}

fn include() -> PathBuf {
    root().join("capi/include")
}

fn test_source(name: &str) -> PathBuf {
    root().join("capi/tests/c").join(name)
}

/// Fashion-MNIST's test set, decompressed: (image file, label file).
fn fashion_test_set(dir: &Path, source: &Path) -> (PathBuf, PathBuf) {
    let mut paths = Vec::new();
    for name in ["t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"] {
        let gz = std::fs::File::open(source.join(format!("{name}.gz"))).expect("the dataset");
        let mut bytes = Vec::new();
        flate2::read::GzDecoder::new(gz)
            .read_to_end(&mut bytes)
            .expect("gunzip");
        let path = dir.join(name);
        std::fs::write(&path, bytes).expect("write the decompressed file");
        paths.push(path);
    }
    (paths[0].clone(), paths[1].clone())
}

/// The number of test images the Rust executor classifies right with the checkpoint, at
/// batch 100 as the C example runs.
fn rust_executor_correct(images: &Path, labels: &Path) -> usize {
    let (sym_path, params_path) = checkpoint();
    let symbol = Symbol::load(sym_path).expect("symbol");
    let params = nd::load(params_path).expect("params");
    let mut exec = symbol
        .simple_bind(
            Context::cpu(0),
            &[("data", &[100, 784])],
            GradReq::Null,
            &[],
        )
        .expect("bind");
    let args = exec.arg_dict();
    for name in symbol.list_arguments() {
        if let Some(p) = params.get(&format!("arg:{name}")) {
            args[&name].assign(p).expect("copy a parameter");
        }
    }
    let images = std::fs::read(images).expect("images");
    let labels = std::fs::read(labels).expect("labels");
    let mut correct = 0;
    for start in (0..10_000).step_by(100) {
        let batch: Vec<f32> = images[16 + start * 784..16 + (start + 100) * 784]
            .iter()
            .map(|&p| f32::from(p) / 255.0)
            .collect();
        args["data"].assign_slice(&batch).expect("input");
        exec.forward(false).expect("forward");
        let out = exec.outputs()[0].to_vec::<f32>().expect("output");
        for (b, row) in out.chunks(10).enumerate() {
            let best = (0..10).fold(0, |m, c| if row[c] > row[m] { c } else { m });
            correct += usize::from(best == usize::from(labels[8 + start + b]));
        }
    }
    correct
}

#[test]
fn predict_example_accuracy_equals_the_rust_executor_and_mxnet() {
    let Some(source) = mxr_test_support::fashion_mnist_dir() else {
        return;
    };
    let dir = scratch("predict-example");
    let (images, labels) = fashion_test_set(&dir, &source);
    let exe = compile(
        "predict",
        &[root().join("examples/c/predict.c")],
        &[include()],
    );
    let (sym, params) = checkpoint();
    let stdout = run(&exe, &[&sym, &params, &images, &labels]);
    let correct: usize = stdout
        .lines()
        .find_map(|l| l.strip_prefix("correct "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no `correct N` line in:\n{stdout}"));
    assert!(stdout.contains("of 10000"), "{stdout}");
    assert_eq!(
        correct,
        rust_executor_correct(&images, &labels),
        "C predict API vs Rust executor"
    );
    // What MXNet 1.9.1 measured on this checkpoint (tests/fixtures/conformance/model/expected.json).
    assert_eq!(correct, 8520, "C predict API vs MXNet");
}

#[test]
fn mxnet_own_header_builds_and_links_to_libmxr() {
    let Some(python) = mxr_test_support::python::mxnet_python(&root()) else {
        return;
    };
    // <venv>/bin/python: the wheel's headers are under <venv>/lib/python3.*/site-packages.
    let venv = python
        .parent()
        .and_then(Path::parent)
        .expect("<venv>/bin/python")
        .join("lib");
    let header_dir = std::fs::read_dir(&venv)
        .expect("the venv's lib folder")
        .filter_map(|e| e.ok())
        .map(|e| e.path().join("site-packages/mxnet/include"))
        .find(|p| p.join("mxnet/c_predict_api.h").exists())
        .expect("MXNet's c_predict_api.h in .venv");
    let exe = compile(
        "mxnet-header",
        &[test_source("mxnet_header.c")],
        &[header_dir],
    );
    let (sym, params) = checkpoint();
    let values: Vec<f32> = run(&exe, &[&sym, &params])
        .lines()
        .map(|l| l.parse().expect("a float"))
        .collect();
    assert_eq!(values.len(), 10);
    assert!(
        (values.iter().sum::<f32>() - 1.0).abs() < 1e-4,
        "a softmax row: {values:?}"
    );
}

#[test]
fn every_function_and_error_path_from_c() {
    let (sym, params) = checkpoint();
    passes("every_function.c", &[&sym, &params], "all checks passed");
}

#[test]
fn four_predictors_on_four_threads_equal_one_thread() {
    let (sym, params) = checkpoint();
    passes("threads.c", &[&sym, &params], "4 threads equal 1 thread");
}

#[test]
fn python_ctypes_binds_the_predict_api() {
    let Some(python) = mxr_test_support::python::mxnet_python(&root()) else {
        return;
    };
    let (sym, params) = checkpoint();
    let output = Command::new(&python)
        .arg(root().join("capi/tests/python/predict_smoke.py"))
        .arg(lib_dir().join("libmxr.so"))
        .args([&sym, &params])
        .output()
        .unwrap_or_else(|e| panic!("run {}: {e}", python.display()));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // The same input through the C program compiled against MXNet's header gives the row.
    let exe = compile(
        "ctypes-reference",
        &[test_source("mxnet_header.c")],
        &[include()],
    );
    let row: Vec<f32> = run(&exe, &[&sym, &params])
        .lines()
        .map(|l| l.parse().expect("a float"))
        .collect();
    let argmax = (0..row.len()).fold(0, |m, c| if row[c] > row[m] { c } else { m });
    assert!(
        stdout.contains(&format!("argmax {argmax}\n")),
        "{stdout} vs {row:?}"
    );
    assert!(
        stdout.contains("sum 1.0000") || stdout.contains("sum 0.9999"),
        "{stdout}"
    );
    assert!(stdout.contains("freed handle rejected"), "{stdout}");
}

#[test]
fn operators_by_name_and_params_files_from_c() {
    let file = scratch("imperative-params").join("arrays.params");
    passes("imperative.c", &[&file], "all checks passed");
}

#[test]
fn symbols_and_executors_from_c() {
    let (sym, params) = checkpoint();
    // The program writes a copy of the parameters to its working (scratch) folder.
    passes("symbol_executor.c", &[&sym, &params], "all checks passed");
}

#[test]
fn kvstore_from_c() {
    passes("kvstore.c", &[], "all checks passed");
}

#[test]
fn plugin_loads_and_its_operator_runs_from_c() {
    let dir = support::build("mxr-plugin-example-swish", "libmxr_plugin_example_swish.so");
    let plugin = dir.join("libmxr_plugin_example_swish.so");
    passes("plugin.c", &[&plugin], "all checks passed");
}
