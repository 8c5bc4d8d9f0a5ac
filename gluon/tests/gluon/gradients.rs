//! Autograd against the executor, hybridized against imperative, deferred shapes.

use mxr::exec::GradReq;
use mxr::gluon::nn::{BatchNorm, Conv2D, Dense};
use mxr::gluon::{Block, HybridBlock, autograd};
use mxr::nd::NDArray;

use super::common::{assert_close, cnn, cnn_with_dropout, cpu, mlp, ramp, set_ramp_params, values};

#[test]
fn record_gradients_equal_the_executors() {
    for (net, shape) in [
        (mlp(), vec![2, 5]),
        (cnn_with_dropout(0.0), vec![2, 1, 8, 8]),
    ] {
        net.initialize("xavier", cpu()).unwrap();
        let x = ramp(&shape);
        net.call(&x).unwrap(); // shapes inferred
        set_ramp_params(&net);
        let y = {
            let _rec = autograd::record();
            net.call(&x).unwrap()
        };
        autograd::backward(&[&y]).unwrap();
        // The same graph through the executor, in training mode, head gradient ones.
        let symbol = net.trace(1).unwrap();
        let params = net.collect_params();
        let mut args = Vec::new();
        let mut grads = Vec::new();
        let mut reqs = Vec::new();
        for name in symbol.list_arguments() {
            if name == "data" {
                args.push(x.copy().unwrap());
                grads.push(None);
                reqs.push(GradReq::Null);
            } else {
                let p = params.by_name(&name).unwrap();
                args.push(p.data().unwrap().copy().unwrap());
                grads.push(Some(NDArray::zeros(p.data().unwrap().shape()).unwrap()));
                reqs.push(GradReq::Write);
            }
        }
        let aux: Vec<NDArray> = symbol
            .list_auxiliary_states()
            .iter()
            .map(|n| params.by_name(n).unwrap().data().unwrap().copy().unwrap())
            .collect();
        let mut exec = symbol.bind(cpu(), args, grads, &reqs, aux).unwrap();
        exec.forward(true).unwrap();
        let ones = NDArray::ones(y.shape()).unwrap();
        exec.backward(&[ones]).unwrap();
        let grad_dict = exec.grad_dict();
        for p in params.values() {
            if p.grad_req() == GradReq::Null {
                continue;
            }
            let want = values(&grad_dict[p.name()]);
            assert_close(&values(&p.grad().unwrap()), &want, 1e-5, p.name());
        }
    }
}

#[test]
fn hybridized_forward_equals_imperative() {
    let net = cnn();
    net.initialize("xavier", cpu()).unwrap();
    let x = ramp(&[4, 1, 8, 8]);
    let imperative = values(&net.call(&x).unwrap());
    net.hybridize(true);
    let first = values(&net.call(&x).unwrap());
    let second = values(&net.call(&x).unwrap());
    assert_close(&first, &imperative, 1e-5, "hybridized");
    assert_eq!(first, second, "bound graph rerun");
    // A new batch size binds a second graph; parameters updated in place are seen.
    let x2 = ramp(&[3, 1, 8, 8]);
    let y2 = values(&net.call(&x2).unwrap());
    net.hybridize(false);
    assert_close(&y2, &values(&net.call(&x2).unwrap()), 1e-5, "batch 3");
}

#[test]
fn deferred_shapes_are_inferred_at_the_first_forward() {
    let dense = Dense::new(4);
    assert_eq!(dense.weight().shape(), [4, 0]);
    dense.initialize("xavier", cpu()).unwrap();
    assert!(dense.weight().is_deferred());
    dense.call(&NDArray::ones(&[2, 3, 5]).unwrap()).unwrap();
    assert_eq!(dense.weight().shape(), [4, 15]); // flatten: 3 * 5
    let conv = Conv2D::new(6, &[3, 3]).groups(2);
    conv.initialize("xavier", cpu()).unwrap();
    let y = conv.call(&NDArray::ones(&[1, 4, 5, 5]).unwrap()).unwrap();
    assert_eq!(conv.weight().shape(), [6, 2, 3, 3]);
    assert_eq!(y.shape(), &[1, 6, 3, 3]);
    let bn = BatchNorm::new();
    bn.initialize("xavier", cpu()).unwrap();
    bn.call(&NDArray::ones(&[2, 7, 3]).unwrap()).unwrap();
    assert_eq!(bn.running_var().shape(), [7]);
    assert_eq!(values(&bn.running_var().data().unwrap()), vec![1.0; 7]);
}

#[test]
fn batchnorm_updates_running_statistics_in_training() {
    let bn = BatchNorm::new();
    bn.initialize("xavier", cpu()).unwrap();
    let x = ramp(&[4, 2, 3]);
    bn.call(&x).unwrap(); // predict mode: statistics unchanged
    assert_eq!(values(&bn.running_mean().data().unwrap()), vec![0.0; 2]);
    {
        let _rec = autograd::record();
        bn.call(&x).unwrap();
    }
    let mean = values(&bn.running_mean().data().unwrap());
    // 0.9 * 0 + 0.1 * batch mean: channel c holds ramp values at i = 6k + 3c + j.
    let batch_mean = |c: usize| -> f32 {
        let v: Vec<f32> = (0..4)
            .flat_map(|k| (0..3).map(move |j| 6 * k + 3 * c + j))
            .map(|i| ((i % 7) as f32 - 3.0) / 10.0)
            .collect();
        v.iter().sum::<f32>() / v.len() as f32
    };
    assert_close(
        &mean,
        &[0.1 * batch_mean(0), 0.1 * batch_mean(1)],
        1e-5,
        "running mean",
    );
}

/// A hybridized block under `record` is one tape node whose backward is the executor's: the
/// parameter and input gradients equal the imperative ones, BatchNorm's running statistics
/// move the same way.
#[test]
fn hybridized_record_gradients_equal_imperative() {
    let x = ramp(&[2, 1, 8, 8]);
    let mut runs = Vec::new();
    for hybridize in [false, true] {
        let net = cnn_with_dropout(0.0);
        net.initialize("xavier", cpu()).unwrap();
        net.call(&x).unwrap();
        set_ramp_params(&net);
        net.hybridize(hybridize);
        let x = x.copy().unwrap();
        let dx = autograd::attach_grad(&x).unwrap();
        let y = {
            let _rec = autograd::record();
            // An imperative operator before the block: its gradient flows through the node.
            let x2 = mxr::gluon::Tensor::scalar(&x, "_mul_scalar", 2.0).unwrap();
            net.call(&x2).unwrap()
        };
        autograd::backward(&[&y]).unwrap();
        let mut grads: Vec<Vec<f32>> = net
            .collect_params()
            .values()
            .map(|p| match p.grad_req() {
                GradReq::Null => values(&p.data().unwrap()),
                _ => values(&p.grad().unwrap()),
            })
            .collect();
        grads.push(values(&dx));
        grads.push(values(&y));
        runs.push(grads);
    }
    for (i, (a, b)) in runs[0].iter().zip(&runs[1]).enumerate() {
        assert_close(b, a, 1e-5, &format!("array {i}"));
    }
}

#[test]
fn a_hybridized_block_run_twice_in_one_recording_is_a_clear_error() {
    let net = cnn_with_dropout(0.0);
    net.initialize("xavier", cpu()).unwrap();
    net.hybridize(true);
    let x = ramp(&[2, 1, 8, 8]);
    let (a, b) = {
        let _rec = autograd::record();
        (net.call(&x).unwrap(), net.call(&x).unwrap())
    };
    let err = autograd::backward(&[&a, &b]).unwrap_err().to_string();
    assert!(
        err.contains("hybridsequential0_") && err.contains("ran again"),
        "{err}"
    );
}

#[test]
fn nested_record_keeps_the_outer_recording_and_pause_stops_it() {
    let x = ramp(&[3]);
    let dx = autograd::attach_grad(&x).unwrap();
    let y = {
        let _rec = autograd::record();
        let a = mxr::gluon::Tensor::op(&x, "square", &[]).unwrap();
        let b = {
            let _inner = autograd::record();
            mxr::gluon::Tensor::scalar(&a, "_mul_scalar", 2.0).unwrap()
        };
        assert!(autograd::is_recording());
        {
            let _pause = autograd::pause();
            assert!(!autograd::is_recording());
        }
        mxr::gluon::Tensor::binary(&b, "elemwise_add", &x).unwrap()
    };
    assert!(!autograd::is_recording());
    autograd::backward(&[&y]).unwrap();
    // d(2 x^2 + x)/dx = 4 x + 1
    let want: Vec<f32> = values(&x).iter().map(|v| 4.0 * v + 1.0).collect();
    assert_close(&values(&dx), &want, 1e-6, "nested");
}
