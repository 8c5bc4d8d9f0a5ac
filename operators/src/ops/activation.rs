//! `Activation` and `LeakyReLU`.
