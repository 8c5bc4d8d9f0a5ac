//! Evaluation metrics (MXNet's `mx.metric`): Accuracy, TopK, CrossEntropy, MSE.
