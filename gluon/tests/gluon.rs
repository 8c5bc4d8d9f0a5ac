//! mxr-gluon's integration tests: one binary, one submodule per area.

mod gluon {
    pub(crate) mod common;
    mod errors;
    mod export;
    mod gradients;
    mod trainer;
    mod zoo;
}
