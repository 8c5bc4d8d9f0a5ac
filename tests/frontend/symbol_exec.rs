//! Symbols bound to executors: EXAMPLES.md scenarios 11 and 12, and a checkpoint round trip.

use mxr::engine::Context;
use mxr::exec::GradReq;
use mxr::nd::NDArray;
use mxr::sym::{self, NameManager, Symbol};

#[test]
fn scenario_11_bind_and_run() {
    let _names = NameManager::scope();
    let (a, b) = (Symbol::variable("A"), Symbol::variable("B"));
    let c = &a * &b;
    let args = vec![
        NDArray::ones(&[3]).unwrap() * 4.0,
        NDArray::ones(&[3]).unwrap() * 2.0,
    ];
    let mut exe = c
        .bind(
            Context::cpu(0),
            args,
            vec![None, None],
            &[GradReq::Null; 2],
            vec![],
        )
        .unwrap();
    exe.forward(false).unwrap();
    assert_eq!(exe.outputs()[0].to_vec::<f32>().unwrap(), vec![8.0; 3]);
}

#[test]
fn scenario_12_gradients() {
    let _names = NameManager::scope();
    let (a, b) = (Symbol::variable("A"), Symbol::variable("B"));
    let d = (&a * 5.0 + &b) / 2.0 + 1.0;
    assert_eq!(d.list_outputs(), vec!["_plusscalar0_output"]);
    let mut exe = d
        .simple_bind(
            Context::cpu(0),
            &[("A", &[4]), ("B", &[4])],
            GradReq::Write,
            &[],
        )
        .unwrap();
    exe.arg_dict()["A"].assign_scalar(1.0).unwrap();
    exe.arg_dict()["B"].assign_scalar(1.0).unwrap();
    exe.forward(true).unwrap();
    assert_eq!(exe.outputs()[0].to_vec::<f32>().unwrap(), vec![4.0; 4]);
    exe.backward(&[NDArray::ones(&[4]).unwrap()]).unwrap();
    let grads = exe.grad_dict();
    assert_eq!(grads["A"].to_vec::<f32>().unwrap(), vec![2.5; 4]);
    assert_eq!(grads["B"].to_vec::<f32>().unwrap(), vec![0.5; 4]);
}

#[test]
fn a_perceptron_trains_a_step_from_a_symbol() {
    let _names = NameManager::scope();
    let data = Symbol::variable("data");
    let fc1 = sym::fully_connected(&data, 8).name("fc1").build().unwrap();
    let act = sym::activation(&fc1, "relu").name("relu1").build().unwrap();
    let fc2 = sym::fully_connected(&act, 3).name("fc2").build().unwrap();
    let net = sym::softmax_output(&fc2).name("out").build().unwrap();
    assert_eq!(
        net.list_arguments(),
        vec![
            "data",
            "fc1_weight",
            "fc1_bias",
            "fc2_weight",
            "fc2_bias",
            "out_label"
        ]
    );
    let mut exe = net
        .simple_bind(
            Context::cpu(0),
            &[("data", &[4, 5]), ("out_label", &[4])],
            GradReq::Write,
            &["data", "out_label"],
        )
        .unwrap();
    exe.arg_dict()["fc1_weight"].assign_scalar(0.1).unwrap();
    exe.arg_dict()["fc2_weight"].assign_scalar(0.1).unwrap();
    exe.arg_dict()["data"].assign_scalar(1.0).unwrap();
    exe.forward(true).unwrap();
    exe.backward(&[]).unwrap();
    let probs = exe.outputs()[0].to_vec::<f32>().unwrap();
    assert!(
        probs.iter().all(|p| (p - 1.0 / 3.0).abs() < 1e-6),
        "{probs:?}"
    );
    // Label 0 everywhere: d(logit 0) = p - 1 < 0 summed over 4 rows, for fc2_bias[0].
    let db = exe.grad_dict()["fc2_bias"].to_vec::<f32>().unwrap();
    assert!((db[0] - 4.0 * (1.0 / 3.0 - 1.0)).abs() < 1e-5, "{db:?}");
}

/// `hard_sigmoid` (CONTRIBUTING.md's worked example) from every frontend: MXNet's symbol JSON,
/// bound and run forward and backward, and `nd::invoke`. References from MXNet 1.9.1:
/// `mx.sym.hard_sigmoid(mx.sym.var('data'), alpha=0.7, beta=0.1, name='hs')`, its `tojson()`,
/// and `simple_bind(data=(8,))` run on `X` with head gradient `G`.
#[test]
fn hard_sigmoid_from_mxnet_json_binds_and_differentiates() {
    const X: [f32; 8] = [-4.0, -2.5, -1.0, 0.0, 0.3, 1.7, 2.5, 3.0];
    const G: [f32; 8] = [1.0, 2.0, -1.0, 0.5, -3.0, 0.25, 4.0, -2.0];
    let json = "{\n  \"nodes\": [\n    {\n      \"op\": \"null\", \n      \"name\": \"data\", \n      \
                \"inputs\": []\n    }, \n    {\n      \"op\": \"hard_sigmoid\", \n      \
                \"name\": \"hs\", \n      \"attrs\": {\n        \"alpha\": \"0.7\", \n        \
                \"beta\": \"0.1\"\n      }, \n      \"inputs\": [[0, 0, 0]]\n    }\n  ], \n  \
                \"arg_nodes\": [0], \n  \"node_row_ptr\": [0, 1, 2], \n  \"heads\": [[1, 0, 0]], \n  \
                \"attrs\": {\"mxnet_version\": [\"int\", 10901]}\n}";
    let net = Symbol::from_json(json).unwrap();
    assert_eq!(net.to_json().unwrap(), json);
    assert_eq!(net.list_outputs(), vec!["hs_output"]);
    let mut exe = net
        .simple_bind(Context::cpu(0), &[("data", &[8])], GradReq::Write, &[])
        .unwrap();
    exe.arg_dict()["data"]
        .assign(&NDArray::from_vec(&[8], X.to_vec()).unwrap())
        .unwrap();
    exe.forward(true).unwrap();
    let want_y = [0.0, 0.0, 0.0, 0.1, 0.31, 1.0, 1.0, 1.0];
    assert_eq!(exe.outputs()[0].to_vec::<f32>().unwrap(), want_y);
    exe.backward(&[NDArray::from_vec(&[8], G.to_vec()).unwrap()])
        .unwrap();
    let want_dx = [0.0, 0.0, 0.0, 0.35, -2.1, 0.0, 0.0, 0.0];
    assert_eq!(exe.grad_dict()["data"].to_vec::<f32>().unwrap(), want_dx);
    let x = NDArray::from_vec(&[8], X.to_vec()).unwrap();
    let y = mxr::nd::invoke("hard_sigmoid", &[&x], &[("alpha", "0.7"), ("beta", "0.1")]).unwrap();
    assert_eq!(y[0].to_vec::<f32>().unwrap(), want_y);
    let err = mxr::nd::invoke("hard_sigmoid", &[&x], &[("beta", "high")]).unwrap_err();
    assert!(
        err.to_string().contains("hard_sigmoid") && err.to_string().contains("`beta`"),
        "{err}"
    );
}
