//! MXNet's file formats: `.params` (NDArray lists and dicts); symbol JSON comes with the Symbol
//! issue.

mod params;

pub use params::{ParamsFile, RawArray, decode_params, encode_params, load_params, save_params};
