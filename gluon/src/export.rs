//! Files: `export` (symbol JSON + `arg:`/`aux:` parameters, Gluon's `HybridBlock.export`),
//! `save_parameters` / `load_parameters` (structural names, Gluon 1.x's format).

use std::collections::HashSet;
use std::path::Path;

use mxr_engine::Context;
use mxr_frontend::nd::{self, Loaded, NDArray};

use crate::block::{Block, HybridBlock};
use crate::parameter::Parameter;
use crate::{Error, Result};

/// Writes `prefix-symbol.json` (the block traced on `data`) and `prefix-NNNN.params` with
/// `arg:NAME` / `aux:NAME` records in `collect_params` order.
pub(crate) fn export(block: &dyn HybridBlock, prefix: &str, epoch: u32) -> Result<()> {
    let symbol = block.trace(1)?;
    symbol.save(format!("{prefix}-symbol.json"))?;
    let args: HashSet<String> = symbol.list_arguments().into_iter().collect();
    let aux: HashSet<String> = symbol.list_auxiliary_states().into_iter().collect();
    let mut records = Vec::new();
    for p in block.collect_params().values() {
        let kind = if args.contains(p.name()) {
            "arg"
        } else if aux.contains(p.name()) {
            "aux"
        } else {
            continue;
        };
        records.push((format!("{kind}:{}", p.name()), p.data()?));
    }
    nd::save_named(format!("{prefix}-{epoch:04}.params"), &records)?;
    Ok(())
}

/// Saves the parameters under their structural names.
pub(crate) fn save_parameters<B: Block + ?Sized>(block: &B, path: &Path) -> Result<()> {
    let mut records = Vec::new();
    let mut seen = HashSet::new();
    for (name, p) in block.structural_params() {
        // A shared parameter is saved once, under its first name (as Gluon's dedup does).
        if seen.insert(p.name().to_owned()) {
            records.push((name, p.data()?));
        }
    }
    nd::save_named(path, &records)?;
    Ok(())
}

fn file_error(path: &Path, reason: String) -> Error {
    Error::ParamFile {
        file: path.display().to_string(),
        reason,
    }
}

/// Loads a parameter file into `block`: structural names when any name has a `.`, else full
/// names (with or without the block's prefix, `arg:`/`aux:` stripped).
pub(crate) fn load_parameters<B: Block + ?Sized>(
    block: &B,
    path: &Path,
    context: Context,
) -> Result<()> {
    let loaded = match nd::load(path)? {
        Loaded::Named(named) => named,
        Loaded::List(_) => {
            return Err(file_error(
                path,
                "holds unnamed arrays, not parameters".into(),
            ));
        }
    };
    let structural = loaded.iter().any(|(k, _)| k.contains('.'));
    let targets: Vec<(String, Parameter)> = if structural {
        block.structural_params()
    } else {
        block
            .collect_params()
            .values()
            .map(|p| (p.name().to_owned(), p.clone()))
            .collect()
    };
    let key = |k: &str| -> String {
        let k = k
            .strip_prefix("arg:")
            .or_else(|| k.strip_prefix("aux:"))
            .unwrap_or(k);
        if structural || targets.iter().any(|(n, _)| n == k) {
            k.to_owned()
        } else {
            format!("{}{k}", block.prefix())
        }
    };
    let file: Vec<(String, NDArray)> = loaded.into_iter().map(|(k, v)| (key(&k), v)).collect();
    let names: Vec<&str> = file.iter().map(|(k, _)| k.as_str()).collect();
    for (name, _) in &targets {
        if !names.contains(&name.as_str()) {
            return Err(file_error(
                path,
                format!("parameter {name} is missing; the file holds {names:?}"),
            ));
        }
    }
    for (name, value) in &file {
        let Some((_, p)) = targets.iter().find(|(n, _)| n == name) else {
            return Err(file_error(
                path,
                format!(
                    "parameter {name} in the file is not a parameter of block {}",
                    block.prefix()
                ),
            ));
        };
        let expected = p.shape();
        // An empty shape is unknown (a SymbolBlock's parameters before loading).
        let fits = expected.is_empty()
            || expected.len() == value.ndim()
                && expected
                    .iter()
                    .zip(value.shape())
                    .all(|(&e, &v)| e == 0 || e == v);
        if !fits {
            return Err(file_error(
                path,
                format!(
                    "parameter {name} ({}): shape incompatible, expected {expected:?}, saved {:?}",
                    p.name(),
                    value.shape()
                ),
            ));
        }
        let value = if value.context() == context {
            value.clone()
        } else {
            value.copy_to(context)?
        };
        p.set_data(&value)?;
    }
    Ok(())
}
