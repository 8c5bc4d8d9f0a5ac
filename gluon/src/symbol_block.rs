//! `SymbolBlock` (MXNet's `gluon.SymbolBlock`): a block made from a symbol and its
//! parameters, such as an exported model.

use std::path::Path;

use mxr_engine::Context;
use mxr_frontend::exec::GradReq;
use mxr_frontend::nd::NDArray;
use mxr_frontend::sym::Symbol;

use crate::block::{Block, BlockCore, HybridBlock};
use crate::hybrid;
use crate::parameter::{ParamSpec, Parameter};
use crate::{Error, Result};

/// A block that runs a given symbol: its arguments other than the inputs are parameters
/// (named as in the symbol, no prefix), its auxiliary states parameters without gradient.
/// Called on NDArrays it always runs its bound graph (under `record`, one tape node whose
/// backward is the executor's, so an imported model trains).
#[derive(Debug)]
pub struct SymbolBlock {
    core: BlockCore,
    symbol: Symbol,
    inputs: Vec<String>,
}

impl SymbolBlock {
    /// A block computing `outputs` from the variables named `inputs`.
    pub fn new(outputs: Symbol, inputs: &[&str]) -> Result<SymbolBlock> {
        let mut core = BlockCore::new("symbolblock", Some(""));
        let args = outputs.list_arguments();
        for name in inputs {
            if !args.iter().any(|a| a == name) {
                return Err(Error::InvalidArgument {
                    call: "SymbolBlock::new",
                    reason: format!("input {name} is not an argument of the symbol ({args:?})"),
                });
            }
        }
        for name in args.iter().filter(|a| !inputs.contains(&a.as_str())) {
            core.param(name, ParamSpec::new(&[]));
        }
        for name in outputs.list_auxiliary_states() {
            core.param(&name, ParamSpec::new(&[]).grad_req(GradReq::Null));
        }
        Ok(SymbolBlock {
            core,
            symbol: outputs,
            inputs: inputs.iter().map(|s| (*s).to_owned()).collect(),
        })
    }

    /// Loads `symbol_file` (MXNet JSON) and, when given, `params_file` (`arg:`/`aux:` or
    /// plain names) on `context`: MXNet's `SymbolBlock.imports`.
    pub fn imports(
        symbol_file: &Path,
        inputs: &[&str],
        params_file: Option<&Path>,
        context: Context,
    ) -> Result<SymbolBlock> {
        let block = SymbolBlock::new(Symbol::load(symbol_file)?, inputs)?;
        if let Some(params) = params_file {
            block.load_parameters(params, context)?;
        }
        Ok(block)
    }

    /// The parameter named `name`.
    pub fn param(&self, name: &str) -> Option<&Parameter> {
        self.core.params().by_name(name)
    }
}

impl Block for SymbolBlock {
    fn core(&self) -> &BlockCore {
        &self.core
    }

    fn children(&self) -> Vec<(String, &dyn Block)> {
        Vec::new()
    }

    fn forward(&self, inputs: &[NDArray]) -> Result<Vec<NDArray>> {
        if inputs.len() != self.inputs.len() {
            return Err(self.core.error(format!(
                "expected {} inputs ({:?}), got {}",
                self.inputs.len(),
                self.inputs,
                inputs.len()
            )));
        }
        // Always hybridized (`hybridize(false)` is undone here): the graph is all it has.
        self.core.cache.activate();
        hybrid::call_cached(self, inputs)?.ok_or_else(|| {
            self.core
                .error("its bound graph did not run (not hybridized)")
        })
    }
}

impl HybridBlock for SymbolBlock {
    fn forward_symbol(&self, inputs: &[Symbol]) -> Result<Vec<Symbol>> {
        let replace: Vec<(&str, &Symbol)> =
            self.inputs.iter().map(String::as_str).zip(inputs).collect();
        let s = self.symbol.compose(&replace, None)?;
        Ok(vec![s])
    }
}
