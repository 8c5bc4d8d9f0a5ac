//! The executor: memory planning, gradient requests, shared weights, threads, bind errors.

use mxr::engine::Context;
use mxr::exec::{Executor, GradReq, Graph};
use mxr::nd::{self, NDArray};
use mxr::operators::registry::{Entry, create};

/// Adds a node of operator `op` with `params` to `g`; its first output.
fn node(g: &mut Graph, op: &str, params: &[(&str, &str)], name: &str, inputs: &[Entry]) -> Entry {
    g.add(create(op, params, None).unwrap(), name, inputs)
        .unwrap()[0]
}

/// `fc{i}`: FullyConnected with `hidden` outputs on `x` and new variables `fc{i}_weight` and
/// `fc{i}_bias`.
fn fully_connected(g: &mut Graph, i: usize, hidden: &str, x: Entry) -> Entry {
    let name = format!("fc{i}");
    let w = g.variable(&format!("{name}_weight"));
    let b = g.variable(&format!("{name}_bias"));
    node(
        g,
        "FullyConnected",
        &[("num_hidden", hidden)],
        &name,
        &[x, w, b],
    )
}

fn relu_chain(n: usize) -> Graph {
    let mut g = Graph::default();
    let mut x = g.variable("data");
    for i in 0..n {
        x = node(
            &mut g,
            "Activation",
            &[("act_type", "relu")],
            &format!("relu{i}"),
            &[x],
        );
    }
    g.outputs.push(x);
    g
}

/// data -> n x FullyConnected(hidden, no bias) [-> relu], output the last.
fn fc_chain(n: usize, hidden: usize, relu: bool) -> Graph {
    let mut g = Graph::default();
    let mut x = g.variable("data");
    for i in 0..n {
        let w = g.variable(&format!("fc{i}_weight"));
        let params = [("num_hidden", &*hidden.to_string()), ("no_bias", "True")];
        x = node(
            &mut g,
            "FullyConnected",
            &params,
            &format!("fc{i}"),
            &[x, w],
        );
        if relu {
            x = node(&mut g, "relu", &[], &format!("relu{i}"), &[x]);
        }
    }
    g.outputs.push(x);
    g
}

fn cpu() -> Context {
    Context::cpu(0)
}

#[test]
fn a_relu_chain_runs_in_one_block() {
    let g = relu_chain(10);
    let data = nd::random_uniform(-1.0, 1.0, &[64, 64]).unwrap();
    let mut exe = Executor::bind(
        &g,
        cpu(),
        vec![data.clone()],
        vec![None],
        &[GradReq::Null],
        vec![],
    )
    .unwrap();
    let m = exe.memory();
    assert_eq!(m.blocks, 1, "{m}");
    assert_eq!(m.planned_bytes, 64 * 64 * 4);
    assert_eq!(m.naive_bytes, 10 * 64 * 64 * 4);
    exe.forward(false).unwrap();
    let want: Vec<f32> = data
        .to_vec::<f32>()
        .unwrap()
        .iter()
        .map(|v| v.max(0.0))
        .collect();
    assert_eq!(exe.outputs()[0].to_vec::<f32>().unwrap(), want);
}

#[test]
fn an_fc_chain_ping_pongs_between_two_blocks_and_trains_with_less_than_naive() {
    let g = fc_chain(10, 32, false);
    let args: Vec<NDArray> = std::iter::once(NDArray::ones(&[8, 32]).unwrap())
        .chain((0..10).map(|_| nd::random_uniform(-0.2, 0.2, &[32, 32]).unwrap()))
        .collect();
    let inference = Executor::bind(
        &g,
        cpu(),
        args.clone(),
        vec![None; 11],
        &[GradReq::Null; 11],
        vec![],
    )
    .unwrap();
    assert_eq!(inference.memory().blocks, 2, "{}", inference.memory());
    let g = fc_chain(10, 32, true);
    let mut reqs = vec![GradReq::Write; 11];
    reqs[0] = GradReq::Null;
    let grads: Vec<Option<NDArray>> = args
        .iter()
        .zip(&reqs)
        .map(|(a, r)| (*r == GradReq::Write).then(|| NDArray::zeros(a.shape()).unwrap()))
        .collect();
    let mut exe = Executor::bind(&g, cpu(), args.clone(), grads, &reqs, vec![]).unwrap();
    let m = exe.memory();
    assert!(m.planned_bytes * 2 < m.naive_bytes, "{m}");
    exe.forward(true).unwrap();
    exe.backward(&[NDArray::ones(&[8, 32]).unwrap()]).unwrap();

    // The same gradients through the imperative graph.
    let mut ig = nd::tape::Tape::new(true);
    let entries: Vec<Entry> = g
        .arguments()
        .iter()
        .zip(&args)
        .map(|(&n, a)| ig.variable(&g.nodes[n].name, a.clone()))
        .collect();
    let mut by_node = std::collections::HashMap::new();
    for (&n, e) in g.arguments().iter().zip(&entries) {
        by_node.insert(n, *e);
    }
    for (n, node) in g.nodes.iter().enumerate() {
        if let Some(op) = &node.op {
            let ins: Vec<Entry> = node.inputs.iter().map(|e| by_node[&e.node]).collect();
            let out = ig.apply(op.clone(), &node.name, &ins).unwrap()[0];
            by_node.insert(n, out);
        }
    }
    let head = by_node[&g.outputs[0].node];
    let grads = ig
        .backward(&[(head, Some(NDArray::ones(&[8, 32]).unwrap()))])
        .unwrap();
    for (i, e) in entries.iter().enumerate().skip(1) {
        let want = grads[e.node].as_ref().unwrap().to_vec::<f32>().unwrap();
        let got = exe.grad_arrays()[i]
            .as_ref()
            .unwrap()
            .to_vec::<f32>()
            .unwrap();
        for (a, b) in got.iter().zip(&want) {
            assert!(
                (a - b).abs() <= 1e-5 + 1e-4 * b.abs(),
                "weight {i}: {a} vs {b}"
            );
        }
    }
    assert!(exe.debug_str().contains("Total"));
}

#[test]
fn grad_req_add_accumulates_and_null_leaves_alone() {
    // y = a * b
    let mut g = Graph::default();
    let a = g.variable("a");
    let b = g.variable("b");
    let y = node(&mut g, "elemwise_mul", &[], "y", &[a, b]);
    g.outputs.push(y);
    let ga = NDArray::full(&[2], 100.0).unwrap();
    let mut exe = Executor::bind(
        &g,
        cpu(),
        vec![
            NDArray::full(&[2], 3.0).unwrap(),
            NDArray::full(&[2], 4.0).unwrap(),
        ],
        vec![Some(ga.clone()), None],
        &[GradReq::Add, GradReq::Null],
        vec![],
    )
    .unwrap();
    for _ in 0..2 {
        exe.forward(true).unwrap();
        exe.backward(&[NDArray::ones(&[2]).unwrap()]).unwrap();
    }
    assert_eq!(ga.to_vec::<f32>().unwrap(), vec![108.0, 108.0]);
    // Not a loss: a head gradient is required.
    let err = exe.backward(&[]).unwrap_err().to_string();
    assert!(err.contains("head gradient 0"), "{err}");
}

#[test]
fn executors_share_weights_and_serve_many_threads() {
    let g = fc_chain(3, 16, true);
    let weights: Vec<NDArray> = (0..3)
        .map(|_| nd::random_uniform(-0.3, 0.3, &[16, 16]).unwrap())
        .collect();
    let inputs: Vec<NDArray> = (0..8)
        .map(|_| nd::random_uniform(-1.0, 1.0, &[4, 16]).unwrap())
        .collect();
    let bind = |data: &NDArray| {
        let args: Vec<NDArray> = std::iter::once(data.clone())
            .chain(weights.iter().cloned())
            .collect();
        Executor::bind(&g, cpu(), args, vec![None; 4], &[GradReq::Null; 4], vec![]).unwrap()
    };
    let expected: Vec<Vec<f32>> = inputs
        .iter()
        .map(|x| {
            let mut exe = bind(x);
            exe.forward(false).unwrap();
            exe.outputs()[0].to_vec::<f32>().unwrap()
        })
        .collect();
    std::thread::scope(|s| {
        for (x, want) in inputs.iter().zip(&expected) {
            let exe = bind(x);
            s.spawn(move || {
                let mut exe = exe;
                for _ in 0..20 {
                    exe.forward(false).unwrap();
                    assert_eq!(&exe.outputs()[0].to_vec::<f32>().unwrap(), want);
                }
            });
        }
    });
    // A change to the shared weights is seen by every executor bound to them.
    weights[0].assign_scalar(0.0).unwrap();
    let mut exe = bind(&inputs[0]);
    exe.forward(false).unwrap();
    assert!(
        exe.outputs()[0]
            .to_vec::<f32>()
            .unwrap()
            .iter()
            .all(|v| *v == 0.0)
    );
}

#[test]
fn simple_bind_allocates_from_shapes() {
    // data -> FC(8) -> relu -> FC(3) -> SoftmaxOutput
    let mut g = Graph::default();
    let data = g.variable("data");
    let fc1 = fully_connected(&mut g, 1, "8", data);
    let r = node(&mut g, "relu", &[], "relu1", &[fc1]);
    let fc2 = fully_connected(&mut g, 2, "3", r);
    let label = g.variable("softmax_label");
    let out = node(&mut g, "SoftmaxOutput", &[], "softmax", &[fc2, label]);
    g.outputs.push(out);
    let mut exe = Executor::simple_bind(
        &g,
        cpu(),
        &[("data", &[5, 4]), ("softmax_label", &[5])],
        GradReq::Write,
        &["data", "softmax_label"],
    )
    .unwrap();
    let args = exe.arg_dict();
    assert_eq!(args["fc1_weight"].shape(), &[8, 4]);
    assert_eq!(args["fc2_bias"].shape(), &[3]);
    assert_eq!(exe.grad_dict().len(), 4);
    exe.forward(true).unwrap();
    exe.backward(&[]).unwrap(); // a loss output needs no head gradient
    let probs = exe.outputs()[0].to_vec::<f32>().unwrap();
    assert_eq!(probs.len(), 15);
    assert!((probs[..3].iter().sum::<f32>() - 1.0).abs() < 1e-6);
}

#[test]
fn bind_errors_name_what_is_wrong() {
    let g = fc_chain(2, 4, false);
    let err = Executor::bind(&g, cpu(), vec![], vec![], &[], vec![])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("fc0_weight") && err.contains("fc1_weight"),
        "{err}"
    );
    let args = vec![
        NDArray::zeros(&[2, 3]).unwrap(),
        NDArray::zeros(&[4, 5]).unwrap(), // should be (4, 3)
        NDArray::zeros(&[4, 4]).unwrap(),
    ];
    let err = Executor::bind(&g, cpu(), args, vec![None; 3], &[GradReq::Null; 3], vec![])
        .unwrap_err()
        .to_string();
    assert!(err.contains("fc0") && err.contains("(4, 5)"), "{err}");
    let args = vec![
        NDArray::zeros(&[2, 3]).unwrap(),
        NDArray::zeros(&[4, 3]).unwrap(),
        NDArray::zeros(&[4, 4]).unwrap(),
    ];
    let err = Executor::bind(&g, cpu(), args, vec![None; 3], &[GradReq::Write; 3], vec![])
        .unwrap_err()
        .to_string();
    assert!(err.contains("no gradient array"), "{err}");
    let err = Executor::simple_bind(&g, cpu(), &[("nodata", &[1])], GradReq::Null, &[])
        .unwrap_err()
        .to_string();
    assert!(err.contains("nodata"), "{err}");
}

#[test]
fn reshape_shares_weights_and_caches_plans() {
    let g = fc_chain(2, 4, true);
    let mut exe =
        Executor::simple_bind(&g, cpu(), &[("data", &[5, 3])], GradReq::Write, &["data"]).unwrap();
    exe.arg_dict()["fc0_weight"].assign_scalar(0.5).unwrap();
    exe.arg_dict()["fc1_weight"].assign_scalar(0.25).unwrap();
    exe.arg_dict()["data"].assign_scalar(1.0).unwrap();
    exe.forward(false).unwrap();
    let five = exe.outputs()[0].to_vec::<f32>().unwrap();
    assert_eq!(five, vec![1.5; 20]); // relu(1 * 0.5 * 3) = 1.5, then 1.5 * 0.25 * 4 = 1.5

    let mut small = exe.reshape(&[("data", &[2, 3])]).unwrap();
    assert!(small.arg_dict()["fc0_weight"].shares_storage_with(&exe.arg_dict()["fc0_weight"]));
    assert!(!small.arg_dict()["data"].shares_storage_with(&exe.arg_dict()["data"]));
    small.arg_dict()["data"].assign_scalar(1.0).unwrap();
    small.forward(false).unwrap();
    assert_eq!(small.outputs()[0].shape(), &[2, 4]);
    assert_eq!(small.outputs()[0].to_vec::<f32>().unwrap(), vec![1.5; 8]);
    assert_eq!(small.cached_plans(), 2);
    let again = small.reshape(&[("data", &[5, 3])]).unwrap();
    assert_eq!(again.cached_plans(), 2, "batch 5's plan is reused");
    // A weight whose shape would change is an error naming it.
    let err = exe.reshape(&[("data", &[5, 7])]).unwrap_err().to_string();
    assert!(err.contains("fc0_weight"), "{err}");
}
