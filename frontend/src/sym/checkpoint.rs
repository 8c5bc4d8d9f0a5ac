//! MXNet's checkpoint convention: `prefix-symbol.json` and `prefix-NNNN.params` with `arg:` and
//! `aux:` keys (`mx.model.save_checkpoint` / `load_checkpoint`).

use std::path::Path;

use super::symbol::Symbol;
use crate::nd::{self, NDArray};
use crate::{Error, Result};

/// Named arrays, in order.
pub type NamedArrays = Vec<(String, NDArray)>;

fn params_path(prefix: &str, epoch: u32) -> String {
    format!("{prefix}-{epoch:04}.params")
}

/// Writes `prefix-symbol.json` and `prefix-NNNN.params` (every argument as `arg:NAME`, then
/// every auxiliary state as `aux:NAME`), as `mx.model.save_checkpoint` does.
///
/// ```
/// use mxr::nd::NDArray;
/// use mxr::sym::{self, Symbol, load_checkpoint, save_checkpoint};
/// let net = sym::fully_connected(&Symbol::variable("data"), 2).name("fc").build()?;
/// let dir = std::env::temp_dir().join(format!("mxr-ckpt-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let prefix = dir.join("net").to_string_lossy().into_owned();
/// let w = NDArray::ones(&[2, 3])?;
/// save_checkpoint(&prefix, 7, &net, &[("fc_weight".into(), w)], &[])?;
/// let (loaded, args, aux) = load_checkpoint(&prefix, 7)?;
/// assert_eq!(loaded.list_arguments(), net.list_arguments());
/// assert_eq!(args[0].0, "fc_weight");
/// assert!(aux.is_empty());
/// # std::fs::remove_dir_all(&dir).ok();
/// # Ok::<(), mxr::Error>(())
/// ```
pub fn save_checkpoint(
    prefix: &str,
    epoch: u32,
    symbol: &Symbol,
    arg_params: &[(String, NDArray)],
    aux_params: &[(String, NDArray)],
) -> Result<()> {
    symbol.save(format!("{prefix}-symbol.json"))?;
    let named: NamedArrays = arg_params
        .iter()
        .map(|(n, a)| (format!("arg:{n}"), a.clone()))
        .chain(
            aux_params
                .iter()
                .map(|(n, a)| (format!("aux:{n}"), a.clone())),
        )
        .collect();
    nd::save_named(params_path(prefix, epoch), &named)
}

/// Reads a checkpoint: the symbol, the `arg:` arrays and the `aux:` arrays (other keys are
/// ignored, as MXNet does).
pub fn load_checkpoint(prefix: &str, epoch: u32) -> Result<(Symbol, NamedArrays, NamedArrays)> {
    let symbol = Symbol::load(format!("{prefix}-symbol.json"))?;
    let path = params_path(prefix, epoch);
    let named = match nd::load(Path::new(&path))? {
        nd::Loaded::Named(v) => v,
        nd::Loaded::List(v) if v.is_empty() => Vec::new(),
        nd::Loaded::List(_) => {
            return Err(Error::Format {
                source_name: path,
                format: "MXNet checkpoint",
                reason: "the arrays have no names (expected arg:NAME / aux:NAME keys)".into(),
            });
        }
    };
    let (mut args, mut aux) = (Vec::new(), Vec::new());
    for (key, array) in named {
        match key.split_once(':') {
            Some(("arg", name)) => args.push((name.to_string(), array)),
            Some(("aux", name)) => aux.push((name.to_string(), array)),
            _ => {}
        }
    }
    Ok((symbol, args, aux))
}
