//! `one_hot`.
