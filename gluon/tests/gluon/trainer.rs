//! The Trainer against the executor loop, and the losses against MXNet's formulas.

use mxr::exec::GradReq;
use mxr::gluon::loss::{
    L1Loss, L2Loss, Loss, SigmoidBinaryCrossEntropyLoss, SoftmaxCrossEntropyLoss,
};
use mxr::gluon::{Block, HybridBlock, Trainer, autograd};
use mxr::nd::NDArray;
use mxr::optim::{Sgd, Updater};
use mxr::sym::Symbol;

use super::common::{assert_close, cpu, mlp, param_values, ramp, set_ramp_params, values};

/// Three SGD steps (momentum 0.9) on the L2 loss of the MLP through `Trainer`, hybridized or
/// not, and through a bound executor and an `Updater`: the same weights.
#[test]
fn trainer_sgd_matches_the_executor_loop() {
    let batches: Vec<(NDArray, NDArray)> = (0..3)
        .map(|k| {
            let x = ramp(&[4 + k, 5]);
            let y = ramp(&[4 + k + 1, 3])
                .slice(1, 5 + k)
                .unwrap()
                .copy()
                .unwrap();
            (x, y)
        })
        .collect();
    let options = [("learning_rate", 0.1), ("momentum", 0.9)];
    let mut finals = Vec::new();
    for hybridize in [false, true] {
        let net = mlp();
        net.initialize("xavier", cpu()).unwrap();
        net.call(&batches[0].0).unwrap();
        set_ramp_params(&net);
        net.hybridize(hybridize);
        let mut trainer = Trainer::new(&net.collect_params(), "sgd", &options).unwrap();
        let loss = L2Loss::new();
        for (x, y) in &batches {
            let l = {
                let _rec = autograd::record();
                loss.loss(&net.call(x).unwrap(), y).unwrap()
            };
            autograd::backward(&[&l]).unwrap();
            trainer.step(x.shape()[0]).unwrap();
        }
        finals.push(param_values(&net));
    }
    // The executor loop on the traced symbol.
    let net = mlp();
    net.initialize("xavier", cpu()).unwrap();
    net.call(&batches[0].0).unwrap();
    set_ramp_params(&net);
    let loss_sym = L2Loss::new()
        .forward_symbol(&[net.trace(1).unwrap(), Symbol::variable("label")])
        .unwrap()
        .remove(0);
    let params = net.collect_params();
    let weights: Vec<NDArray> = params
        .values()
        .map(|p| p.data().unwrap().copy().unwrap())
        .collect();
    let mut updater = Updater::new(Sgd::new().learning_rate(0.1).momentum(0.9));
    for (x, y) in &batches {
        let names = loss_sym.list_arguments();
        let mut args = Vec::new();
        let mut grads = Vec::new();
        let mut reqs = Vec::new();
        for name in &names {
            match name.as_str() {
                "data" => args.push(x.clone()),
                "label" => args.push(y.clone()),
                _ => {
                    let i = params.keys().iter().position(|k| k == name).unwrap();
                    args.push(weights[i].clone());
                }
            }
            let is_param = name != "data" && name != "label";
            grads.push(is_param.then(|| NDArray::zeros(args.last().unwrap().shape()).unwrap()));
            reqs.push(if is_param {
                GradReq::Write
            } else {
                GradReq::Null
            });
        }
        let mut exec = loss_sym.bind(cpu(), args, grads, &reqs, vec![]).unwrap();
        exec.forward(true).unwrap();
        exec.backward(&[NDArray::ones(&[x.shape()[0]]).unwrap()])
            .unwrap();
        updater.optimizer_mut().core_mut().rescale_grad = 1.0 / x.shape()[0] as f64;
        let grad_dict = exec.grad_dict();
        for (i, name) in params.keys().iter().enumerate() {
            updater.update(i, &grad_dict[name], &weights[i]).unwrap();
        }
    }
    for (run, got) in finals.iter().enumerate() {
        for (i, w) in weights.iter().enumerate() {
            assert_close(
                &got[i],
                &values(w),
                1e-5,
                &format!("run {run} parameter {i}"),
            );
        }
    }
}

/// Values from MXNet 1.9.1:
/// ```python
/// p = nd.array([[1., -2., 3.], [0.5, 0., -1.]]); l = nd.array([[0., 1., 1.], [1., 0., 1.]])
/// gluon.loss.L2Loss()(p, l); gluon.loss.L1Loss()(p, l)
/// gluon.loss.SigmoidBinaryCrossEntropyLoss()(p, l)
/// gluon.loss.SoftmaxCrossEntropyLoss(sparse_label=False)(p, l / 2)
/// gluon.loss.SoftmaxCrossEntropyLoss()(p, nd.array([2, 0]))
/// gluon.loss.SoftmaxCrossEntropyLoss()(p, nd.array([2, 0]))
/// ```
#[test]
fn losses_match_mxnet() {
    let p = NDArray::from_vec(&[2, 3], vec![1.0f32, -2.0, 3.0, 0.5, 0.0, -1.0]).unwrap();
    let l = NDArray::from_vec(&[2, 3], vec![0.0f32, 1.0, 1.0, 1.0, 0.0, 1.0]).unwrap();
    let half = NDArray::from_vec(&[2, 3], vec![0.0f32, 0.5, 0.5, 0.5, 0.0, 0.5]).unwrap();
    let l2 = values(&L2Loss::new().loss(&p, &l).unwrap());
    assert_close(&l2, &[2.3333333, 0.7083333], 1e-6, "L2Loss");
    let l1 = values(&L1Loss::new().loss(&p, &l).unwrap());
    assert_close(&l1, &[2.0, 0.8333333], 1e-6, "L1Loss");
    let bce = values(&SigmoidBinaryCrossEntropyLoss::new().loss(&p, &l).unwrap());
    assert_close(
        &bce,
        &[1.1629257, 0.82682866],
        1e-5,
        "SigmoidBinaryCrossEntropyLoss",
    );
    let sce = SoftmaxCrossEntropyLoss::new().sparse_label(false);
    let sce = values(&sce.loss(&p, &half).unwrap());
    assert_close(
        &sce,
        &[2.632842, 1.3541296],
        1e-5,
        "SoftmaxCrossEntropyLoss",
    );
    // gluon.loss.SoftmaxCrossEntropyLoss()(p, nd.array([2, 0]))
    let labels = NDArray::from_vec(&[2], vec![2.0f32, 0.0]).unwrap();
    let sparse = values(&SoftmaxCrossEntropyLoss::new().loss(&p, &labels).unwrap());
    // MXNet's float32 log_softmax is 2.4e-5 off the exact 0.1328452 (mxr: 0.1328453).
    assert_close(&sparse, &[0.13284211, 0.60412955], 3e-5, "sparse labels");
}

/// Through a local KVStore (`update_on_kvstore`) the steps give the same weights as locally.
#[test]
fn trainer_through_a_kvstore_matches_the_local_trainer() {
    let x = ramp(&[4, 5]);
    let y = ramp(&[4, 3]);
    let mut finals = Vec::new();
    for through_kv in [false, true] {
        let net = mlp();
        net.initialize("xavier", cpu()).unwrap();
        net.call(&x).unwrap();
        set_ramp_params(&net);
        let options = [("learning_rate", 0.05), ("wd", 0.01)];
        let mut trainer = Trainer::new(&net.collect_params(), "adam", &options).unwrap();
        if through_kv {
            trainer = trainer.kvstore(mxr::kv::KVStore::create("local").unwrap());
        }
        for _ in 0..3 {
            let l = {
                let _rec = autograd::record();
                L2Loss::new().loss(&net.call(&x).unwrap(), &y).unwrap()
            };
            autograd::backward(&[&l]).unwrap();
            trainer.step(4).unwrap();
        }
        finals.push(param_values(&net));
    }
    for (i, (a, b)) in finals[0].iter().zip(&finals[1]).enumerate() {
        assert_close(b, a, 1e-6, &format!("parameter {i}"));
    }
}
