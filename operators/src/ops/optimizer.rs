//! Optimizer update operators (`sgd_update`, `sgd_mom_update`, `adam_update`) with MXNet 1.9.1 semantics.
