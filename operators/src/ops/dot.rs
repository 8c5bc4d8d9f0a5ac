//! `dot` and `batch_dot`.
