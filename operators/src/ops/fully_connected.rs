//! `FullyConnected`.
