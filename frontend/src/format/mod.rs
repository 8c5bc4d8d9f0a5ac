//! MXNet's file formats: `.params` (NDArray lists and dicts). Symbol JSON is read and written by
//! [`Symbol::from_json`](crate::sym::Symbol::from_json) and
//! [`Symbol::to_json`](crate::sym::Symbol::to_json).

mod params;

pub use params::{
    LoadLimits, ParamsFile, RawArray, decode_params, decode_params_with_limits, encode_params,
    load_params, save_params,
};
