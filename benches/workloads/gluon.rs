//! W4 (c): the docs MLP written with Gluon (`api=gluon`, and hybridized: `api=gluon_hybrid`),
//! with W4's initial weights, batches and update: `autograd::record`, SoftmaxCrossEntropyLoss,
//! `backward`, `Trainer("sgd", lr 0.1).step(128)` (WORKLOADS.md, W4 (c)).

use mxr::engine::Context;
use mxr::gluon::loss::{Loss, SoftmaxCrossEntropyLoss};
use mxr::gluon::nn::{Dense, HybridSequential};
use mxr::gluon::{Block, Trainer, autograd};

use super::*;

/// The Gluon network with `init`'s weights (`fc1_weight`, …, in the layers' order).
fn gluon_mlp(init: &[(String, NDArray)]) -> mxr::gluon::Result<HybridSequential> {
    let mut net = HybridSequential::new();
    net.add(Dense::new(128).activation("relu").in_units(784)?);
    net.add(Dense::new(64).activation("relu").in_units(128)?);
    net.add(Dense::new(10).in_units(64)?);
    net.initialize("zeros", Context::cpu(0))?;
    let params = net.collect_params();
    for (param, (layer, kind)) in params.values().zip(
        ["fc1", "fc2", "fc3"]
            .into_iter()
            .flat_map(|l| [(l, "weight"), (l, "bias")]),
    ) {
        let name = format!("{layer}_{kind}");
        let value = init.iter().find(|(k, _)| *k == name).map(|(_, v)| v);
        let value = value.ok_or_else(|| mxr::gluon::Error::InvalidArgument {
            call: "W4 gluon",
            reason: format!("no initial value for {name}"),
        })?;
        param.set_data(value)?;
    }
    Ok(net)
}

/// One epoch of W4's batches through `net`.
fn gluon_epoch(
    net: &HybridSequential,
    trainer: &mut Trainer,
    (x, y): (&NDArray, &NDArray),
    batch: usize,
    nbatch: usize,
) -> mxr::gluon::Result<()> {
    let loss_fn = SoftmaxCrossEntropyLoss::new();
    for i in 0..nbatch {
        let (xb, yb) = (
            x.slice(i * batch, (i + 1) * batch)?,
            y.slice(i * batch, (i + 1) * batch)?,
        );
        let loss = {
            let _recording = autograd::record();
            loss_fn.loss(&net.call(&xb)?, &yb)?
        };
        autograd::backward(&[&loss])?;
        trainer.step(batch)?;
    }
    Ok(())
}

/// The trained parameters under W4's names, for `test_accuracy`.
fn trained(net: &HybridSequential) -> mxr::gluon::Result<Vec<(String, NDArray)>> {
    let names = ["fc1", "fc2", "fc3"]
        .into_iter()
        .flat_map(|l| [format!("{l}_weight"), format!("{l}_bias")]);
    net.collect_params()
        .values()
        .zip(names)
        .map(|(p, name)| Ok((name, p.data()?)))
        .collect()
}

fn gluon_error(e: mxr::gluon::Error) -> mxr::Error {
    mxr::Error::InvalidArgument {
        call: "W4 gluon",
        reason: e.to_string(),
    }
}

/// W4's Gluon lines: both modes, emitted as `api=gluon` and `api=gluon_hybrid`.
pub(super) fn w4_gluon(
    out: &Out,
    (x_train, y_train): (&NDArray, &NDArray),
    test: (&mxr::exec::Graph, &NDArray, &[f32]),
    sizes: (usize, f64, usize, usize),
) -> mxr::Result<()> {
    let (batch, lr, epochs, nbatch) = sizes;
    for (api, hybrid) in [("gluon", false), ("gluon_hybrid", true)] {
        let net = gluon_mlp(&super::training::w4_init()?).map_err(gluon_error)?;
        if hybrid {
            net.hybridize(true);
        }
        let mut trainer = Trainer::new(&net.collect_params(), "sgd", &[("learning_rate", lr)])
            .map_err(gluon_error)?;
        nd::waitall()?;
        let (times, util) = timed_runs(epochs, |_| {
            gluon_epoch(&net, &mut trainer, (x_train, y_train), batch, nbatch)
                .map_err(gluon_error)?;
            nd::waitall()
        })?;
        let params = trained(&net).map_err(gluon_error)?;
        let (graph, x_test, y_test) = test;
        let accuracy = super::training::test_accuracy(graph, &params, x_test, y_test)?;
        super::training::emit_w4(
            out,
            api,
            "sgd lr=0.1 (Trainer.step(batch): rescale 1/batch)",
            sizes,
            &times,
            util,
            accuracy,
            x_test.shape()[0],
        );
    }
    Ok(())
}
