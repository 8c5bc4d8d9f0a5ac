//! `Reshape`, `Flatten`, `expand_dims`.
