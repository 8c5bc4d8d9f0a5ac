//! MXNet 1.9.1's recorded results (tests/fixtures/conformance/cases): every case's graph is
//! run through the registry on NDArrays (forward in the case's mode, then the gradient graphs
//! of the operators), and outputs, gradients and auxiliary states are compared with MXNet's
//! under the case's tolerances.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use mxr::engine::Context;
use mxr::exec::{Executor, GradReq};
use mxr::nd::tape::Tape;
use mxr::nd::{self, NDArray};
use mxr::operators::registry::{self, Entry};
use serde_json::Value;

/// `path` under tests/fixtures/conformance, MXNet 1.9.1's recorded files.
pub(crate) fn fixture(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/conformance")
        .join(path)
}

fn cases_dir() -> PathBuf {
    fixture("cases")
}

fn named(path: &Path) -> HashMap<String, NDArray> {
    match nd::load(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())) {
        nd::Loaded::Named(v) => v.into_iter().collect(),
        nd::Loaded::List(_) => panic!("{}: expected a dict", path.display()),
    }
}

fn close(what: &str, got: &NDArray, want: &NDArray, rtol: f64, atol: f64) -> Result<(), String> {
    if got.shape() != want.shape() {
        return Err(format!(
            "{what}: shape {:?}, MXNet {:?}",
            got.shape(),
            want.shape()
        ));
    }
    let g = got.to_vec::<f32>().map_err(|e| format!("{what}: {e}"))?;
    let w = want.to_vec::<f32>().map_err(|e| format!("{what}: {e}"))?;
    for (i, (a, b)) in g.iter().zip(&w).enumerate() {
        let (a, b) = (f64::from(*a), f64::from(*b));
        let within = (a - b).abs() <= atol + rtol * b.abs();
        if !within {
            return Err(format!("{what}[{i}]: {a}, MXNet {b}"));
        }
    }
    Ok(())
}

/// One fixture case: its graph, values and settings (case.json).
struct Case {
    symbol: Value,
    inputs: HashMap<String, NDArray>,
    expected: HashMap<String, NDArray>,
    is_train: bool,
    backward: bool,
    rtol: f64,
    atol: f64,
    no_grad: Vec<String>,
}

impl Case {
    fn load(dir: &Path) -> Result<Case, String> {
        let read = |f: &str| std::fs::read_to_string(dir.join(f)).map_err(|e| format!("{f}: {e}"));
        let symbol: Value =
            serde_json::from_str(&read("symbol.json")?).map_err(|e| e.to_string())?;
        let case: Value = serde_json::from_str(&read("case.json")?).map_err(|e| e.to_string())?;
        Ok(Case {
            symbol,
            inputs: named(&dir.join("inputs.params")),
            expected: named(&dir.join("expected.params")),
            is_train: case["is_train"].as_bool().unwrap_or(false),
            backward: case["backward"].as_bool().unwrap_or(false),
            rtol: case["rtol"].as_f64().unwrap_or(1e-4),
            atol: case["atol"].as_f64().unwrap_or(1e-5),
            no_grad: case["no_grad"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(String::from)
                        .collect()
                })
                .unwrap_or_default(),
        })
    }
}

impl Case {
    /// Compares `got` with MXNet's value `key` (`output:0`, `grad:w`, ...), which must exist.
    fn check(&self, key: &str, got: &NDArray) -> Result<(), String> {
        let want = self.expected.get(key).ok_or(format!("no expected {key}"))?;
        close(key, got, want, self.rtol, self.atol)
    }

    /// Compares `got` with MXNet's value `key` where the case has one.
    fn check_if_expected(&self, key: &str, got: &NDArray) -> Result<(), String> {
        match self.expected.get(key) {
            Some(want) => close(key, got, want, self.rtol, self.atol),
            None => Ok(()),
        }
    }
}

/// Runs `run` on every case; fails listing each case that differs from MXNet.
fn check_every_case(path: &str, run: fn(&Path) -> Result<(), String>) {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(cases_dir())
        .expect("fixtures are vendored")
        .map(|d| d.unwrap().path())
        .collect();
    dirs.sort();
    let mut failures = Vec::new();
    for dir in &dirs {
        let case = dir.file_name().unwrap().to_string_lossy().to_string();
        match run(dir) {
            Ok(()) => println!("{path} {case}: ok"),
            Err(e) => {
                println!("{path} {case}: FAILED: {e}");
                failures.push(format!("{case}: {e}"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ from MXNet ({path}):\n{}",
        failures.len(),
        dirs.len(),
        failures.join("\n")
    );
}

/// Runs one case; `Err` describes the first mismatch.
fn run_case(dir: &Path) -> Result<(), String> {
    let Case {
        symbol,
        inputs,
        expected,
        is_train,
        backward,
        rtol,
        atol,
        no_grad,
    } = Case::load(dir)?;

    // The graph parsed once (as the executor path does), replayed node by node imperatively.
    let parsed = graph_from_json(&symbol)?;
    let mut graph = Tape::new(is_train);
    let mut entries: Vec<Vec<Entry>> = Vec::new();
    let mut variables: Vec<(String, Entry, NDArray)> = Vec::new();
    let mut loss_heads = HashMap::new();
    for node in &parsed.nodes {
        let name = node.name.as_str();
        let Some(op) = &node.op else {
            let value = inputs
                .get(&format!("arg:{name}"))
                .or_else(|| inputs.get(&format!("aux:{name}")))
                .ok_or(format!("no input value for {name}"))?
                .copy()
                .map_err(|e| e.to_string())?;
            let e = graph.variable(name, value.clone());
            variables.push((name.to_string(), e, value));
            entries.push(vec![e]);
            continue;
        };
        let ins: Vec<Entry> = node
            .inputs
            .iter()
            .map(|e| entries[e.node][e.output])
            .collect();
        let outs = graph
            .apply(op.clone(), name, &ins)
            .map_err(|e| format!("{name}: {e}"))?;
        for o in &outs {
            loss_heads.insert(*o, op.is_loss());
        }
        entries.push(outs);
    }
    let heads: Vec<Entry> = parsed
        .outputs
        .iter()
        .map(|e| entries[e.node][e.output])
        .collect();
    for (i, h) in heads.iter().enumerate() {
        let want = expected
            .get(&format!("output:{i}"))
            .ok_or(format!("no expected output:{i}"))?;
        close(&format!("output:{i}"), graph.value(*h), want, rtol, atol)?;
    }
    if backward {
        let mut head_grads = Vec::new();
        for (i, h) in heads.iter().enumerate() {
            let g = match inputs.get(&format!("head_grad:{i}")) {
                Some(g) => Some(g.clone()),
                None if loss_heads.get(h) == Some(&true) => None,
                None => return Err(format!("no head_grad:{i} for a non-loss output")),
            };
            head_grads.push((*h, g));
        }
        let grads = graph
            .backward(&head_grads)
            .map_err(|e| format!("backward: {e}"))?;
        for (name, e, _) in &variables {
            let Some(want) = expected.get(&format!("grad:{name}")) else {
                continue;
            };
            if no_grad.contains(name) {
                continue;
            }
            let got = grads[e.node]
                .as_ref()
                .ok_or(format!("grad:{name}: no gradient reached it"))?;
            close(&format!("grad:{name}"), got, want, rtol, atol)?;
        }
    }
    for (name, _, value) in &variables {
        if let Some(want) = expected.get(&format!("aux:{name}")) {
            close(&format!("aux:{name}"), value, want, rtol, atol)?;
        }
    }
    Ok(())
}

/// An executor graph from MXNet symbol JSON (nodes in order, `null` ops as variables).
pub(crate) fn graph_from_json(symbol: &Value) -> Result<mxr::exec::Graph, String> {
    let mut graph = mxr::exec::Graph::default();
    let mut entries: Vec<Vec<Entry>> = Vec::new();
    for node in symbol["nodes"].as_array().ok_or("no nodes")? {
        let name = node["name"].as_str().ok_or("node without name")?;
        let op_name = node["op"].as_str().ok_or("node without op")?;
        if op_name == "null" {
            entries.push(vec![graph.variable(name)]);
            continue;
        }
        let attrs: Vec<(String, String)> = node["attrs"]
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                    .collect()
            })
            .unwrap_or_default();
        let attrs: Vec<(&str, &str)> = attrs
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let ins: Vec<Entry> = node["inputs"]
            .as_array()
            .ok_or("node without inputs")?
            .iter()
            .map(|i| entries[i[0].as_u64().unwrap() as usize][i[1].as_u64().unwrap() as usize])
            .collect();
        let op = registry::create(op_name, &attrs, Some(ins.len())).map_err(|e| e.to_string())?;
        entries.push(graph.add(op, name, &ins).map_err(|e| e.to_string())?);
    }
    for h in symbol["heads"].as_array().ok_or("no heads")? {
        graph
            .outputs
            .push(entries[h[0].as_u64().unwrap() as usize][h[1].as_u64().unwrap() as usize]);
    }
    Ok(graph)
}

/// The same case through the executor: bind (args, gradient arrays for every argument except
/// `no_grad`, aux copies), forward, backward, compare.
fn run_case_bound(dir: &Path) -> Result<(), String> {
    let case = Case::load(dir)?;

    let graph = graph_from_json(&case.symbol)?;
    let value = |prefix: &str, n: usize| -> Result<NDArray, String> {
        let name = &graph.nodes[n].name;
        case.inputs
            .get(&format!("{prefix}:{name}"))
            .ok_or(format!("no {prefix}:{name}"))?
            .copy()
            .map_err(|e| e.to_string())
    };
    let arg_nodes = graph.arguments();
    let aux_nodes = graph.auxiliary_states();
    let args: Vec<NDArray> = arg_nodes
        .iter()
        .map(|&n| value("arg", n))
        .collect::<Result<_, _>>()?;
    let aux: Vec<NDArray> = aux_nodes
        .iter()
        .map(|&n| value("aux", n))
        .collect::<Result<_, _>>()?;
    let reqs: Vec<GradReq> = arg_nodes
        .iter()
        .map(|&n| {
            if case.backward && !case.no_grad.contains(&graph.nodes[n].name) {
                GradReq::Write
            } else {
                GradReq::Null
            }
        })
        .collect();
    let grads: Vec<Option<NDArray>> = args
        .iter()
        .zip(&reqs)
        .map(|(a, r)| (*r == GradReq::Write).then(|| NDArray::zeros(a.shape()).unwrap()))
        .collect();
    let mut exe = Executor::bind(&graph, Context::cpu(0), args, grads, &reqs, aux)
        .map_err(|e| format!("bind: {e}"))?;
    exe.forward(case.is_train)
        .map_err(|e| format!("forward: {e}"))?;
    if case.backward {
        let heads: Vec<NDArray> = (0..graph.outputs.len())
            .map_while(|i| case.inputs.get(&format!("head_grad:{i}")).cloned())
            .collect();
        let heads = if heads.len() == graph.outputs.len() {
            heads
        } else {
            // Loss outputs: MXNet's backward() takes no head gradient; give ones where missing.
            (0..graph.outputs.len())
                .map(|i| match case.inputs.get(&format!("head_grad:{i}")) {
                    Some(g) => g.clone(),
                    None => NDArray::ones(exe.outputs()[i].shape()).unwrap(),
                })
                .collect()
        };
        exe.backward(&heads).map_err(|e| format!("backward: {e}"))?;
    }
    for (i, out) in exe.outputs().iter().enumerate() {
        case.check(&format!("output:{i}"), out)?;
    }
    for (name, g) in exe.grad_dict() {
        case.check_if_expected(&format!("grad:{name}"), &g)?;
    }
    for (name, a) in exe.aux_dict() {
        case.check_if_expected(&format!("aux:{name}"), &a)?;
    }
    Ok(())
}

#[test]
fn every_conformance_case_matches_mxnet_through_the_executor() {
    check_every_case("executor", run_case_bound);
}

#[test]
fn every_conformance_case_matches_mxnet() {
    check_every_case("imperative", run_case);
}
