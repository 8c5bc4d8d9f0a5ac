//! Random graphs of registry operators give identical results (bit for bit, errors included)
//! under the threaded engine and the naive engine. The engine kind is chosen once per process
//! (`MXR_ENGINE`), so each engine runs the same proptest cases (a fixed seed) in a child
//! process; each case evaluates its graph imperatively (`nd::invoke`, node by node) and as a
//! bound executor, and prints a digest of every result; the parent compares the two listings.

use std::cell::RefCell;
use std::fmt::Write as _;
use std::time::Duration;

use mxr::engine::Context;
use mxr::exec::GradReq;
use mxr::nd::{self, NDArray};
use mxr::operators::check::infer_shapes;
use mxr::operators::registry::{self, OpRef, Resource, Shape};
use mxr::sym::Symbol;
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed, TestRunner};

use crate::run_child;

const CASES: u32 = 300;

#[test]
fn random_graphs_agree_across_engines() {
    let listing = |engine: &str| {
        let out = run_child(
            "graphs::child",
            &[("MXR_ENGINE", engine.to_string())],
            Duration::from_secs(300),
        );
        let lines: Vec<String> = out
            .lines()
            .filter_map(|l| l.split_once("graph case ").map(|(_, rest)| rest.to_owned()))
            .collect();
        assert_eq!(lines.len(), CASES as usize, "{engine}: {out}");
        lines
    };
    let naive = listing("naive");
    let threaded = listing("threaded");
    let mut nodes = 0;
    let mut errors = 0;
    for (a, b) in naive.iter().zip(&threaded) {
        assert_eq!(a, b, "naive and threaded engines disagree");
        nodes += a.matches("node ").count();
        errors += a.matches("error").count();
    }
    eprintln!(
        "random graphs: {CASES} graphs, {nodes} operator nodes, identical under both engines \
         ({errors} results are errors, identical too)"
    );
    assert!(nodes > CASES as usize * 2, "too few nodes: {nodes}");
}

/// Operators a random graph draws from: every registered, user-facing operator with one or
/// two inputs, one visible output, default parameters, no random numbers and no mutated inputs
/// (and not this binary's fault operator).
fn operators() -> Vec<OpRef> {
    registry::ops()
        .iter()
        .filter(|d| !d.is_backward() && !d.name.starts_with("_robust"))
        .filter_map(|d| d.instantiate(&[], Some(2)).ok())
        .filter(|op| {
            (1..=2).contains(&op.num_inputs())
                && op.num_visible_outputs() == 1
                && op.mutate_inputs().is_empty()
                && !op.resources().contains(&Resource::Random)
        })
        .collect()
}

/// A digest of an array's result: its dtype, shape and a hash of its bytes, or the error.
fn digest(a: &NDArray) -> String {
    match a.wait_to_read() {
        Err(e) => format!("error({e})"),
        Ok(()) => {
            let bytes = match a.dtype() {
                mxr::DType::F32 => a.to_vec::<f32>().map(|v| {
                    v.iter()
                        .flat_map(|x| x.to_bits().to_le_bytes())
                        .collect::<Vec<u8>>()
                }),
                mxr::DType::I64 => a
                    .to_vec::<i64>()
                    .map(|v| v.iter().flat_map(|x| x.to_le_bytes()).collect()),
                mxr::DType::I32 => a
                    .to_vec::<i32>()
                    .map(|v| v.iter().flat_map(|x| x.to_le_bytes()).collect()),
                other => Ok(format!("{other}").into_bytes()),
            };
            match bytes {
                Err(e) => format!("error({e})"),
                Ok(bytes) => {
                    let hash = bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
                        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
                    });
                    format!("{}{:?}#{hash:016x}", a.dtype(), a.shape())
                }
            }
        }
    }
}

/// One graph: steps `(op, input a, input b)` over the values so far, starting from two
/// variables of shape `(rows, cols)`. Returns the case's listing line.
fn evaluate(ops: &[OpRef], steps: &[(u16, u16, u16)], rows: usize, cols: usize) -> String {
    let shape = [rows, cols];
    // Values: (node id in the JSON, imperative array, shape).
    let x: Vec<NDArray> = (0..2)
        .map(|k| {
            let values: Vec<f32> = (0..rows * cols)
                .map(|i| ((i * 7 + k * 3) % 11) as f32 / 4.0 - 1.2)
                .collect();
            NDArray::from_vec(&shape, values).expect("an input")
        })
        .collect();
    let mut values: Vec<(usize, NDArray, Vec<usize>)> = vec![
        (0, x[0].clone(), shape.to_vec()),
        (1, x[1].clone(), shape.to_vec()),
    ];
    let mut nodes = vec![
        r#"{"op": "null", "name": "x0", "inputs": []}"#.to_string(),
        r#"{"op": "null", "name": "x1", "inputs": []}"#.to_string(),
    ];
    let mut line = String::new();
    for &(o, a, b) in steps {
        let op = &ops[usize::from(o) % ops.len()];
        let picks: Vec<usize> = [a, b][..op.num_inputs()]
            .iter()
            .map(|&i| usize::from(i) % values.len())
            .collect();
        let given: Vec<Shape> = picks.iter().map(|&i| Shape::known(&values[i].2)).collect();
        let Ok((ins, outs)) = infer_shapes(op.as_ref(), &given) else {
            continue;
        };
        let Some(out) = outs[0].dims() else { continue };
        if ins.iter().zip(&given).any(|(a, b)| a != b) || out.iter().product::<usize>() > 4096 {
            continue;
        }
        let attrs: Vec<(String, String)> = op.attrs();
        let pairs: Vec<(&str, &str)> = attrs
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let inputs: Vec<&NDArray> = picks.iter().map(|&i| &values[i].1).collect();
        let Ok(mut result) = nd::invoke(op.name(), &inputs, &pairs) else {
            continue;
        };
        let id = nodes.len();
        let attr_json: Vec<String> = attrs.iter().map(|(k, v)| format!("{k:?}: {v:?}")).collect();
        let input_json: Vec<String> = picks
            .iter()
            .map(|&i| format!("[{}, 0, 0]", values[i].0))
            .collect();
        nodes.push(format!(
            r#"{{"op": "{}", "name": "n{id}", "attrs": {{{}}}, "inputs": [{}]}}"#,
            op.name(),
            attr_json.join(", "),
            input_json.join(", ")
        ));
        let _ = write!(line, "node {} {}; ", op.name(), digest(&result[0]));
        values.push((id, result.remove(0), out));
    }
    // The same graph bound as an executor, every operator node an output.
    let heads: Vec<String> = (2..nodes.len()).map(|id| format!("[{id}, 0, 0]")).collect();
    if heads.is_empty() {
        return line;
    }
    let json = format!(
        r#"{{"nodes": [{}], "arg_nodes": [0, 1], "heads": [{}], "attrs": {{"mxnet_version": ["int", 10901]}}}}"#,
        nodes.join(",\n"),
        heads.join(", ")
    );
    let symbol = Symbol::from_json(&json).unwrap_or_else(|e| panic!("{e}\n{json}"));
    let args = symbol.list_arguments();
    let shapes: Vec<(&str, &[usize])> = args.iter().map(|a| (a.as_str(), &shape[..])).collect();
    match symbol.simple_bind(Context::cpu(0), &shapes, GradReq::Null, &[]) {
        Err(e) => {
            let _ = write!(line, "bind error({e})");
        }
        Ok(mut exec) => {
            for (name, arg) in args.iter().zip(exec.arg_arrays()) {
                let k = usize::from(name == "x1");
                let values = x[k].to_vec::<f32>().expect("inputs");
                arg.assign_slice(&values).expect("assign");
            }
            match exec.forward(false) {
                Err(e) => {
                    let _ = write!(line, "forward error({e})");
                }
                Ok(()) => {
                    line.push_str("executor ");
                    let imperative: Vec<String> =
                        values[2..].iter().map(|v| digest(&v.1)).collect();
                    for (out, expected) in exec.outputs().iter().zip(&imperative) {
                        let d = digest(out);
                        // Both paths run the same kernels on the same values.
                        assert_eq!(
                            &d, expected,
                            "executor and imperative results differ:\n{json}"
                        );
                        line.push_str(&d);
                        line.push(' ');
                    }
                }
            }
        }
    }
    line
}

#[test]
#[ignore = "run in a child process per engine by random_graphs_agree_across_engines"]
fn child() {
    let ops = operators();
    let config = Config {
        cases: CASES,
        failure_persistence: None,
        rng_seed: RngSeed::Fixed(0x0067_7261_7068),
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    let strategy = (
        vec((any::<u16>(), any::<u16>(), any::<u16>()), 1..16),
        1usize..5,
        1usize..6,
    );
    let case = RefCell::new(0);
    runner
        .run(&strategy, |(steps, rows, cols)| {
            let line = evaluate(&ops, &steps, rows, cols);
            let mut n = case.borrow_mut();
            println!("graph case {n}: ({rows}, {cols}) {line}");
            *n += 1;
            Ok(())
        })
        .expect("every case evaluates");
    nd::waitall().expect("no unobserved error");
}
