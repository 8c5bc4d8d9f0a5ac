//! `BatchNorm`.
