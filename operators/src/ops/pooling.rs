//! `Pooling`.
