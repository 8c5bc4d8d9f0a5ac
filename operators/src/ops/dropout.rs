//! `Dropout`.
