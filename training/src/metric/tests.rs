//! Reference values from MXNet 1.9.1's `mx.metric` (float32 arrays; MXNet computes in numpy
//! float32, mxr in float64, hence the small tolerances).

use super::*;
use crate::nd::NDArray;

fn f32s(shape: &[usize], v: &[f64]) -> NDArray {
    NDArray::from_vec(shape, v.iter().map(|&x| x as f32).collect()).unwrap()
}

fn close(got: (String, f64), name: &str, want: f64, tol: f64) {
    assert_eq!(got.0, name);
    assert!(
        (got.1 - want).abs() <= tol * want.abs().max(1.0),
        "{name}: got {}, MXNet {want}",
        got.1
    );
}

fn probs() -> NDArray {
    f32s(&[3, 2], &[0.3, 0.7, 0.0, 1.0, 0.4, 0.6])
}

fn labels() -> NDArray {
    f32s(&[3], &[0.0, 1.0, 1.0])
}

/// Scores of 5 samples over 4 classes, without ties among the top ones.
fn scores() -> NDArray {
    f32s(
        &[5, 4],
        &[
            0.1, 0.2, 0.3, 0.4, 0.4, 0.3, 0.2, 0.1, 0.25, 0.35, 0.15, 0.26, 0.9, 0.05, 0.03, 0.02,
            0.21, 0.2, 0.5, 0.1,
        ],
    )
}

fn score_labels() -> NDArray {
    f32s(&[5], &[1.0, 1.0, 3.0, 3.0, 0.0])
}

#[test]
fn accuracy_matches_mxnet() {
    let mut acc = Accuracy::new();
    assert!(acc.get().1.is_nan(), "NaN before any data");
    acc.update(&[&labels()], &[&probs()]).unwrap();
    assert_eq!(acc.get(), ("accuracy".into(), 0.6666666666666666));
    // Predictions of the label's shape are class indices, truncated: 1.9 → 1.
    acc.update(&[&f32s(&[2], &[1.0, 0.0])], &[&f32s(&[2], &[1.9, 0.2])])
        .unwrap();
    assert_eq!(acc.get(), ("accuracy".into(), 0.8));
    assert_eq!((acc.stats().num_inst, acc.stats().sum_metric), (5, 4.0));
    acc.reset_local();
    assert!(acc.get().1.is_nan());
    assert_eq!(acc.get_global(), ("accuracy".into(), 0.8));
    acc.reset();
    assert!(acc.get_global().1.is_nan());
    // Accuracy(axis=0): classes along the first axis.
    let mut acc = Accuracy::new().axis(0);
    acc.update(
        &[&f32s(&[3], &[1.0, 0.0, 0.0])],
        &[&f32s(&[2, 3], &[0.1, 0.9, 0.3, 0.8, 0.2, 0.4])],
    )
    .unwrap();
    assert_eq!(acc.get().1, 0.6666666666666666);
    // Integer labels work too.
    let mut acc = Accuracy::new().with_name("acc");
    let int_labels = NDArray::from_vec(&[3], vec![0i32, 1, 1]).unwrap();
    acc.update(&[&int_labels], &[&probs()]).unwrap();
    assert_eq!(acc.get(), ("acc".into(), 0.6666666666666666));
    // As many labels as predictions.
    let err = Accuracy::new()
        .update(&[&labels(), &labels()], &[&probs()])
        .unwrap_err();
    assert!(err.to_string().contains("does not match"), "{err}");
    let err = Accuracy::new()
        .update(&[&f32s(&[2], &[0.0, 1.0])], &[&probs()])
        .unwrap_err();
    assert!(err.to_string().contains("does not match"), "{err}");
}

#[test]
fn top_k_accuracy_matches_mxnet() {
    for (k, want) in [(2, 0.6), (3, 0.8), (4, 1.0)] {
        let mut top = TopKAccuracy::new(k).unwrap();
        top.update(&[&score_labels()], &[&scores()]).unwrap();
        assert_eq!(top.get(), (format!("top_k_accuracy_{k}"), want));
    }
    assert!(TopKAccuracy::new(1).is_err(), "MXNet asserts top_k > 1");
    // More classes asked for than there are: an error (numpy's argpartition fails in MXNet).
    assert!(
        TopKAccuracy::new(5)
            .unwrap()
            .update(&[&score_labels()], &[&scores()])
            .is_err()
    );
    assert!(
        TopKAccuracy::new(2)
            .unwrap()
            .update(&[&score_labels()], &[&score_labels()])
            .is_err()
    );
    assert_eq!(
        TopKAccuracy::new(5).unwrap().with_name("top").name(),
        "top_5"
    );
}

#[test]
fn cross_entropy_matches_mxnet() {
    let mut ce = CrossEntropy::new();
    ce.update(&[&labels()], &[&probs()]).unwrap();
    close(ce.get(), "cross-entropy", 0.5715994834899902, 1e-6);
    let mut ce = CrossEntropy::new().eps(1e-3);
    ce.update(&[&score_labels()], &[&scores()]).unwrap();
    close(ce.get(), "cross-entropy", 1.913492202758789, 1e-6);
    let err = CrossEntropy::new()
        .update(&[&f32s(&[3], &[0.0, 2.0, 1.0])], &[&probs()])
        .unwrap_err();
    assert!(err.to_string().contains("class"), "{err}");
    assert!(
        CrossEntropy::new()
            .update(&[&labels()], &[&labels()])
            .is_err()
    );
}

#[test]
fn regression_metrics_match_mxnet() {
    // Two updates: labels (4,) against predictions (4, 1), then (2, 2) against (2, 2).
    let l1 = f32s(&[4], &[2.5, 0.0, 2.0, 8.0]);
    let p1 = f32s(&[4, 1], &[3.0, -0.5, 2.0, 7.0]);
    let l2 = f32s(&[2, 2], &[1.0, 2.0, 3.0, 4.0]);
    let p2 = f32s(&[2, 2], &[1.5, 2.0, 2.0, 5.0]);
    // One update broadcasting labels (2,) → (2, 1) against predictions (2, 3).
    let l3 = f32s(&[2], &[1.0, 2.0]);
    let p3 = f32s(&[2, 3], &[1.5, 2.5, 0.0, 2.0, 5.0, 1.0]);
    let mut metrics: [(Box<dyn EvalMetric>, &str, f64, f64); 3] = [
        (Box::new(Mae::new()), "mae", 0.5625, 1.1666666269302368),
        (Box::new(Mse::new()), "mse", 0.46875, 2.25),
        (Box::new(Rmse::new()), "rmse", 0.6811862289905548, 1.5),
    ];
    for (m, name, two_updates, broadcast) in &mut metrics {
        m.update(&[&l1], &[&p1]).unwrap();
        m.update(&[&l2], &[&p2]).unwrap();
        close(m.get(), name, *two_updates, 1e-7);
        m.reset();
        m.update(&[&l3], &[&p3]).unwrap();
        close(m.get(), name, *broadcast, 1e-7);
        let err = m
            .update(&[&l3], &[&f32s(&[3], &[1.0, 2.0, 3.0])])
            .unwrap_err();
        assert!(err.to_string().contains("broadcast"), "{err}");
    }
}

#[test]
fn composite_and_create_match_mxnet() {
    let mut all = CompositeMetric::new();
    all.add(Accuracy::new());
    all.add(CrossEntropy::new());
    all.update(&[&labels()], &[&probs()]).unwrap();
    let (names, values) = all.get_all();
    assert_eq!(names, ["accuracy", "cross-entropy"]);
    assert_eq!(values[0], 0.6666666666666666);
    assert!((values[1] - 0.5715994834899902).abs() < 1e-6);
    assert_eq!(all.get_name_value().len(), 2);
    assert_eq!(all.len(), 2);
    assert_eq!(all.get_metric(1).unwrap().name(), "cross-entropy");
    assert!(all.get_metric(2).is_none());
    assert!(all.get().1.is_nan(), "several values: no single one");
    all.reset_local();
    assert!(all.get_all().1.iter().all(|v| v.is_nan()));
    assert_eq!(all.get_global_all().1[0], 0.6666666666666666);

    // mx.metric.create(['acc', 'mse']).get() → (['accuracy', 'mse'], [nan, nan])
    let both = create_composite(&["acc", "mse"]).unwrap();
    let (names, values) = both.get_all();
    assert_eq!(names, ["accuracy", "mse"]);
    assert!(values.iter().all(|v| v.is_nan()));
    // A composite of one reports that one; composites nest.
    let mut one = CompositeMetric::new();
    one.add(Mse::new());
    let mut outer = CompositeMetric::new().with_name("outer");
    outer.add(one);
    outer.add(Accuracy::new());
    assert_eq!(outer.get_all().0, ["mse", "accuracy"]);
    assert_eq!(outer.name(), "outer");
    for (name, want) in [
        ("ACC", "accuracy"),
        ("ce", "cross-entropy"),
        ("rmse", "rmse"),
        ("mae", "mae"),
        ("composite", "composite"),
    ] {
        assert_eq!(create(name).unwrap().name(), want);
    }
    assert!(create("f1").is_err());
}
