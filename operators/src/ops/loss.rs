//! Loss layers: `SoftmaxOutput`, `LinearRegressionOutput`, `LogisticRegressionOutput`, `MakeLoss`.
