//! The training module: fit, score, predict, checkpoints.

use mxr::engine::Context;
use mxr::io::{LastBatchHandle, NDArrayIter};
use mxr::metric::Accuracy;
use mxr::module::{FitOptions, Module};
use mxr::nd::NDArray;
use mxr::sym::{self, Symbol};

/// Three Gaussian-ish blobs in 2-D, 120 points, classes 0..3.
fn blobs() -> (NDArray, NDArray) {
    let centers = [(-2.0f32, 0.0f32), (2.0, 0.0), (0.0, 2.5)];
    let mut seed = 12345u32;
    let mut noise = || {
        seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
        (f32::from((seed >> 16) as u16) / 65535.0 - 0.5) * 1.5
    };
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for i in 0..120 {
        let (cx, cy) = centers[i % 3];
        x.push(cx + noise());
        x.push(cy + noise());
        y.push((i % 3) as f32);
    }
    (
        NDArray::from_vec(&[120, 2], x).unwrap(),
        NDArray::from_vec(&[120], y).unwrap(),
    )
}

fn mlp() -> Symbol {
    let data = Symbol::variable("data");
    let fc1 = sym::fully_connected(&data, 16).name("fc1").build().unwrap();
    let act = sym::activation(&fc1, "relu").name("relu1").build().unwrap();
    let fc2 = sym::fully_connected(&act, 3).name("fc2").build().unwrap();
    sym::softmax_output(&fc2).name("softmax").build().unwrap()
}

#[test]
fn fit_score_predict_and_checkpoint() {
    let (x, y) = blobs();
    let mut train = NDArrayIter::new(x.clone(), y.clone(), 20)
        .unwrap()
        .shuffle(3);
    let mut eval = NDArrayIter::new(x.clone(), y.clone(), 32)
        .unwrap()
        .last_batch_handle(LastBatchHandle::Pad);
    let mut module = Module::new(mlp(), &["data"], &["softmax_label"], Context::cpu(0));
    let report = module
        .fit(
            &mut train,
            Some(&mut eval),
            &mut Accuracy::new(),
            &FitOptions::new(30).learning_rate(0.5).momentum(0.9),
        )
        .unwrap();
    assert_eq!(report.epochs.len(), 30);
    let last = report.epochs.last().unwrap();
    assert!(last.train_metric.1 > 0.9, "{last:?}");
    let (name, accuracy) = last.eval_metric.clone().unwrap();
    assert_eq!(name, "accuracy");
    assert!(accuracy > 0.9, "{accuracy}");
    assert!(last.samples_per_sec > 0.0);

    // Score and predict over a batch size other than training's (the module rebinds).
    let score = module.score(&mut eval, &mut Accuracy::new()).unwrap();
    assert_eq!(score.1, accuracy);
    let probs = module.predict(&mut eval).unwrap();
    assert_eq!(probs.shape(), &[120, 3], "padding rows dropped");

    // A checkpoint loads back into a fresh module with the same predictions.
    let dir = std::env::temp_dir().join(format!("mxr-module-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let prefix = dir.join("blobs").to_string_lossy().into_owned();
    module.save_checkpoint(&prefix, 30).unwrap();
    let (symbol, args, aux) = mxr::sym::load_checkpoint(&prefix, 30).unwrap();
    let mut fresh = Module::new(symbol, &["data"], &["softmax_label"], Context::cpu(0));
    fresh.bind(&eval).unwrap();
    fresh.set_params(&args, &aux).unwrap();
    let again = fresh.predict(&mut eval).unwrap();
    assert_eq!(
        again.to_vec::<f32>().unwrap(),
        probs.to_vec::<f32>().unwrap()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn errors_name_what_is_missing() {
    let (x, y) = blobs();
    let mut module = Module::new(mlp(), &["data"], &["label"], Context::cpu(0));
    let it = NDArrayIter::new(x, y, 20).unwrap();
    let err = module.bind(&it).unwrap_err().to_string();
    assert!(
        err.contains("label") && err.contains("softmax_label"),
        "{err}"
    );
    let err = module.get_params().unwrap_err().to_string();
    assert!(err.contains("not bound"), "{err}");
}

#[test]
fn callbacks_see_every_batch_and_epoch() {
    let (x, y) = blobs();
    let mut train = NDArrayIter::new(x, y, 40).unwrap();
    let mut module = Module::new(mlp(), &["data"], &["softmax_label"], Context::cpu(0));
    let mut batches = Vec::new();
    let mut epochs = Vec::new();
    {
        let mut callbacks = mxr::module::Callbacks {
            batch_end: Some(Box::new(|b: &mxr::module::BatchEnd| {
                batches.push((b.epoch, b.batch))
            })),
            epoch_end: Some(Box::new(|e: &mxr::module::EpochReport| {
                epochs.push(e.epoch)
            })),
        };
        module
            .fit_with(
                &mut train,
                None,
                &mut Accuracy::new(),
                &FitOptions::new(2).learning_rate(0.1),
                &mut callbacks,
            )
            .unwrap();
    }
    assert_eq!(
        batches,
        vec![(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2)]
    );
    assert_eq!(epochs, vec![0, 1]);
}

#[test]
fn fit_takes_any_optimizer_by_name_and_keeps_it_across_calls() {
    let (x, y) = blobs();
    let mut train = NDArrayIter::new(x, y, 20).unwrap().shuffle(5);
    let mut module = Module::new(mlp(), &["data"], &["softmax_label"], Context::cpu(0));
    let options = FitOptions::new(20)
        .optimizer("adam", &[("learning_rate", 0.05), ("beta1", 0.8)])
        .initializer(mxr::init::Xavier::default());
    let report = module
        .fit(&mut train, None, &mut Accuracy::new(), &options)
        .unwrap();
    let accuracy = report.epochs.last().unwrap().train_metric.1;
    assert!(accuracy > 0.9, "adam reaches {accuracy}");
    let described = format!("{:?}", module.optimizer().unwrap());
    assert!(described.contains("Adam") && described.contains("beta1: 0.8"));
    // rescale_grad defaults to 1/batch_size, as in MXNet's Module.
    assert_eq!(module.optimizer().unwrap().core().rescale_grad, 1.0 / 20.0);
    // 20 epochs of 6 batches: the update count carries over into a second fit call.
    assert_eq!(module.optimizer().unwrap().core().num_update(), 120);
    module
        .fit(&mut train, None, &mut Accuracy::new(), &FitOptions::new(1))
        .unwrap();
    assert_eq!(module.optimizer().unwrap().core().num_update(), 126);
}

#[test]
fn init_optimizer_installs_a_configured_optimizer() {
    let (x, y) = blobs();
    let mut train = NDArrayIter::new(x, y, 40).unwrap();
    let mut module = Module::new(mlp(), &["data"], &["softmax_label"], Context::cpu(0));
    assert!(
        module
            .init_optimizer(Box::new(mxr::optim::Sgd::new()))
            .is_err()
    );
    module.bind(&train).unwrap();
    let sgd = mxr::optim::Sgd::new()
        .learning_rate(0.2)
        .momentum(0.9)
        .rescale_grad(1.0 / 40.0)
        .lr_scheduler(mxr::optim::FactorScheduler::new(3, 0.5).unwrap());
    module.init_optimizer(Box::new(sgd)).unwrap();
    module
        .fit(&mut train, None, &mut Accuracy::new(), &FitOptions::new(2))
        .unwrap();
    // The installed optimizer ran (3 batches × 2 epochs), with its schedule and rescaling.
    let core = module.optimizer().unwrap().core();
    assert_eq!(core.num_update(), 6);
    assert!(core.lr_scheduler().is_some());
    assert_eq!(core.rescale_grad, 1.0 / 40.0);
}

#[test]
fn fit_reports_an_unknown_optimizer_or_parameter() {
    let (x, y) = blobs();
    let mut train = NDArrayIter::new(x, y, 20).unwrap();
    let mut module = Module::new(mlp(), &["data"], &["softmax_label"], Context::cpu(0));
    let err = module
        .fit(
            &mut train,
            None,
            &mut Accuracy::new(),
            &FitOptions::new(1).optimizer("rmsprop", &[]),
        )
        .unwrap_err()
        .to_string();
    assert!(err.contains("rmsprop"), "{err}");
    let err = module
        .fit(
            &mut train,
            None,
            &mut Accuracy::new(),
            &FitOptions::new(1).optimizer("sgd", &[("beta1", 0.5)]),
        )
        .unwrap_err()
        .to_string();
    assert!(err.contains("sgd has no parameter beta1"), "{err}");
}

#[test]
fn data_parallel_over_two_contexts_matches_one_context() {
    let (x, y) = blobs();
    let contexts = [Context::cpu(0), Context::cpu(1)];
    let train = |contexts: &[Context]| {
        let mut it = NDArrayIter::new(x.clone(), y.clone(), 20).unwrap();
        let mut module =
            Module::with_contexts(mlp(), &["data"], &["softmax_label"], contexts).unwrap();
        module.bind(&it).unwrap();
        // The same starting weights on both sides.
        let start: Vec<(String, NDArray)> = module
            .get_params()
            .unwrap()
            .0
            .iter()
            .enumerate()
            .map(|(i, (n, a))| {
                let values: Vec<f32> = (0..a.size())
                    .map(|j| ((i * 31 + j * 7) % 13) as f32 / 13.0 - 0.5)
                    .collect();
                (n.clone(), NDArray::from_vec(a.shape(), values).unwrap())
            })
            .collect();
        module.set_params(&start, &[]).unwrap();
        let options = FitOptions::new(3).learning_rate(0.3).momentum(0.9);
        let report = module
            .fit(&mut it, None, &mut Accuracy::new(), &options)
            .unwrap();
        let mut eval = NDArrayIter::new(x.clone(), y.clone(), 32)
            .unwrap()
            .last_batch_handle(LastBatchHandle::Pad);
        let probs = module.predict(&mut eval).unwrap().to_vec::<f32>().unwrap();
        let params: Vec<Vec<f32>> = module
            .get_params()
            .unwrap()
            .0
            .iter()
            .map(|(_, a)| a.to_vec::<f32>().unwrap())
            .collect();
        (report, probs, params)
    };
    let (one, one_probs, one_params) = train(&contexts[..1]);
    let (two, two_probs, two_params) = train(&contexts);
    assert_eq!(
        two_probs.len(),
        120 * 3,
        "padding rows dropped across contexts"
    );
    for (a, b) in one_params.iter().flatten().zip(two_params.iter().flatten()) {
        assert!((a - b).abs() < 1e-4, "weights differ: {a} vs {b}");
    }
    for (a, b) in one_probs.iter().zip(&two_probs) {
        assert!((a - b).abs() < 1e-4, "predictions differ: {a} vs {b}");
    }
    for (a, b) in one.epochs.iter().zip(&two.epochs) {
        assert_eq!(a.train_metric, b.train_metric);
    }
}

#[test]
fn a_batch_smaller_than_the_contexts_is_an_error() {
    let (x, y) = blobs();
    let it = NDArrayIter::new(x, y, 1).unwrap();
    let contexts = [Context::cpu(0), Context::cpu(1)];
    let mut module =
        Module::with_contexts(mlp(), &["data"], &["softmax_label"], &contexts).unwrap();
    let err = module.bind(&it).unwrap_err().to_string();
    assert!(
        err.contains("batch of 1 cannot be split across 2 contexts"),
        "{err}"
    );
    assert!(Module::with_contexts(mlp(), &["data"], &[], &[]).is_err());
}

#[test]
fn bad_labels_and_mismatched_parameters_are_clear_errors() {
    let (x, _) = blobs();
    // Class 7 does not exist in a 3-class network.
    let y = NDArray::from_vec(&[120], (0..120).map(|i| (i % 8) as f32).collect()).unwrap();
    let mut train = NDArrayIter::new(x.clone(), y, 20).unwrap();
    let mut module = Module::new(mlp(), &["data"], &["softmax_label"], Context::cpu(0));
    let err = module
        .fit(&mut train, None, &mut Accuracy::new(), &FitOptions::new(1))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("SoftmaxOutput") && err.contains("not a class index in 0..3"),
        "{err}"
    );

    // Parameters of another network's shapes: the error names the parameter and both shapes.
    let (_, y) = blobs();
    let it = NDArrayIter::new(x, y, 20).unwrap();
    let mut module = Module::new(mlp(), &["data"], &["softmax_label"], Context::cpu(0));
    module.bind(&it).unwrap();
    let (mut args, aux) = module.get_params().unwrap();
    args[0].1 = NDArray::zeros(&[8, 2]).unwrap();
    let err = module.set_params(&args, &aux).unwrap_err().to_string();
    assert!(
        err.contains("parameter fc1_weight") && err.contains("[16, 2]") && err.contains("[8, 2]"),
        "{err}"
    );
}
