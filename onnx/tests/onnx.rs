//! mxr-onnx's integration tests: one binary, one module per concern.

mod onnx {
    pub(crate) mod bad_input;
    pub(crate) mod layer_ops;
    pub(crate) mod more_ops;
    pub(crate) mod mxnet;
    pub(crate) mod nets;
    pub(crate) mod python;
    pub(crate) mod select_ops;
    pub(crate) mod single_ops;
    pub(crate) mod zoo;
}
