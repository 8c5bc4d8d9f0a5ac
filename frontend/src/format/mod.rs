//! MXNet's file formats: `.params` (NDArray lists and dicts); symbol JSON comes with the Symbol
//! issue.
