//! Saving and loading arrays in MXNet's `.params` format (`mx.nd.save` / `mx.nd.load`).

use std::path::Path;

use mxr_engine::Context;

use super::NDArray;
use crate::format::{ParamsFile, RawArray, load_params, save_params};
use crate::{Error, Result};

/// The contents of a loaded file: MXNet's `nd.load` returns a list or a dict.
#[derive(Debug, Clone)]
pub enum Loaded {
    /// A file saved from a list.
    List(Vec<NDArray>),
    /// A file saved from a dict, in file order.
    Named(Vec<(String, NDArray)>),
}

impl Loaded {
    /// The arrays in file order, without their names.
    pub fn into_list(self) -> Vec<NDArray> {
        match self {
            Loaded::List(arrays) => arrays,
            Loaded::Named(named) => named.into_iter().map(|(_, a)| a).collect(),
        }
    }

    /// The array saved under `name`, if the file has names.
    pub fn get(&self, name: &str) -> Option<&NDArray> {
        match self {
            Loaded::List(_) => None,
            Loaded::Named(named) => named.iter().find(|(n, _)| n == name).map(|(_, a)| a),
        }
    }
}

impl NDArray {
    /// The array's values and metadata in the file representation. Blocks until computed.
    pub fn to_raw(&self) -> Result<RawArray> {
        self.wait_to_read()?;
        let bytes = self.bytes_snapshot()?;
        RawArray::new(self.dtype(), self.shape().to_vec(), bytes)?.with_context(self.context())
    }

    /// An array holding `raw`'s values, on its saved context when that is a CPU context (MXNet
    /// loads arrays saved on a GPU onto the CPU when the GPU is absent).
    pub fn from_raw(raw: &RawArray) -> Result<NDArray> {
        if raw.is_none() {
            return Err(Error::InvalidArgument {
                call: "NDArray::from_raw",
                reason: "the record is MXNet's empty (none) array, which has no shape".into(),
            });
        }
        let context = if raw.context().is_cpu() {
            raw.context()
        } else {
            Context::cpu(0)
        };
        let a = NDArray::new(raw.shape(), raw.dtype(), context)?;
        a.assign_bytes(raw.data().to_vec())?;
        Ok(a)
    }
}

/// Saves arrays as a list (MXNet's `nd.save(path, [a, b])`). Blocks until their values are
/// computed.
pub fn save(path: impl AsRef<Path>, arrays: &[NDArray]) -> Result<()> {
    let raws = arrays
        .iter()
        .map(NDArray::to_raw)
        .collect::<Result<Vec<_>>>()?;
    save_params(path, &ParamsFile::List(raws))
}

/// Saves named arrays (MXNet's `nd.save(path, {"a": a, ...})`), in the given order.
pub fn save_named<S: AsRef<str>>(path: impl AsRef<Path>, arrays: &[(S, NDArray)]) -> Result<()> {
    let named = arrays
        .iter()
        .map(|(name, a)| Ok((name.as_ref().to_owned(), a.to_raw()?)))
        .collect::<Result<Vec<_>>>()?;
    save_params(path, &ParamsFile::Named(named))
}

/// Loads a `.params` file (MXNet's `nd.load`).
pub fn load(path: impl AsRef<Path>) -> Result<Loaded> {
    Ok(match load_params(path)? {
        ParamsFile::List(raws) => {
            Loaded::List(raws.iter().map(NDArray::from_raw).collect::<Result<_>>()?)
        }
        ParamsFile::Named(named) => Loaded::Named(
            named
                .iter()
                .map(|(name, raw)| Ok((name.clone(), NDArray::from_raw(raw)?)))
                .collect::<Result<_>>()?,
        ),
    })
}
