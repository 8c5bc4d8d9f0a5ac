//! Creating operator nodes (MXNet's atomic composition) and calling a symbol with
//! replacements for its variables (general composition). Rules: shared/spec/symbol_json.md §4.

use std::collections::{BTreeMap, HashMap};

use mxr_operators::registry::{self, OpDef};

use super::attrs::{self, AttrScope, ParamValue};
use super::naming::NameManager;
use super::node::{self, Node, NodeEntry, NodeRef};
use super::symbol::Symbol;
use crate::{Error, Result};

/// Builds one operator node (MXNet's `mx.sym.<Op>(...)`): inputs by position or by keyword,
/// parameters in MXNet's string form, an optional name (else the current
/// [`NameManager`] names it after the operator as called: `FullyConnected` →
/// `fullyconnected0`, `split` → `split0`), optional per-call attributes (Python's `attr=`).
///
/// Positional inputs fill the operator's inputs from the first; the rest are matched by
/// keyword against its input names (`data`, `weight`, `bias`); every input still missing
/// becomes a new variable `<node>_<input>` (`fc1_weight`) carrying a copy of the node's
/// attributes. A variable-arity operator (`Concat`) gets its count parameter (`num_args`) from
/// the number of inputs when not given.
///
/// ```
/// use mxr::sym::{OpBuilder, Symbol};
/// let data = Symbol::variable("data");
/// let w = Symbol::variable("myweight");
/// let fc = OpBuilder::new("FullyConnected")
///     .input("data", &data)
///     .input("weight", &w)
///     .param("num_hidden", 128)
///     .name("fc1")
///     .build()?;
/// assert_eq!(fc.list_arguments(), ["data", "myweight", "fc1_bias"]);
/// assert_eq!(fc.attr("num_hidden").as_deref(), Some("128"));
/// # Ok::<(), mxr::Error>(())
/// ```
#[derive(Debug, Clone)]
#[must_use = "call .build() to create the symbol"]
pub struct OpBuilder {
    op: String,
    hint: String,
    positional: Vec<Symbol>,
    keyword: Vec<(String, Symbol)>,
    params: Vec<(String, String)>,
    attr: Vec<(String, String)>,
    name: Option<String>,
}

impl OpBuilder {
    /// An operator by MXNet name or alias; the automatic name's hint is that name lower-cased.
    pub fn new(op: &str) -> OpBuilder {
        OpBuilder {
            op: op.to_owned(),
            hint: op.to_lowercase(),
            positional: Vec::new(),
            keyword: Vec::new(),
            params: Vec::new(),
            attr: Vec::new(),
            name: None,
        }
    }

    /// Another automatic-name hint (Python's operators use internal aliases: `+` calls
    /// `_Plus`, hint `_plus`).
    pub fn hint(mut self, hint: &str) -> OpBuilder {
        self.hint = hint.to_owned();
        self
    }

    /// The next positional input.
    pub fn arg(mut self, input: &Symbol) -> OpBuilder {
        self.positional.push(input.clone());
        self
    }

    /// Positional inputs (a variable-arity operator's list).
    pub fn args<I>(mut self, inputs: I) -> OpBuilder
    where
        I: IntoIterator,
        I::Item: std::borrow::Borrow<Symbol>,
    {
        use std::borrow::Borrow;
        self.positional
            .extend(inputs.into_iter().map(|s| s.borrow().clone()));
        self
    }

    /// An input by name (`data`, `weight`, `label`).
    pub fn input(mut self, name: &str, input: &Symbol) -> OpBuilder {
        self.keyword.push((name.to_owned(), input.clone()));
        self
    }

    /// A parameter, written as MXNet's Python frontend writes it (see [`ParamValue`]).
    pub fn param(mut self, key: &str, value: impl ParamValue) -> OpBuilder {
        attrs::merge(&mut self.params, [(key, value.to_param().as_str())]);
        self
    }

    /// An attribute for this call only (Python's `attr={...}`), over the current
    /// [`AttrScope`]'s.
    pub fn attr(mut self, key: &str, value: &str) -> OpBuilder {
        attrs::merge(&mut self.attr, [(key, value)]);
        self
    }

    /// The node's name (else automatic).
    pub fn name(mut self, name: &str) -> OpBuilder {
        self.name = Some(name.to_owned());
        self
    }

    /// The node's name if `Some` (else automatic).
    pub fn maybe_name(mut self, name: Option<&str>) -> OpBuilder {
        self.name = name.map(str::to_owned);
        self
    }

    /// Creates the node; the symbol's outputs are the operator's visible outputs.
    pub fn build(self) -> Result<Symbol> {
        for s in self
            .positional
            .iter()
            .chain(self.keyword.iter().map(|(_, s)| s))
        {
            s.check()?;
        }
        let def = registry::lookup(&self.op)?;
        // Python: the extra keywords updated with the scope's attributes (which win), then the
        // name from the manager, then the atomic symbol from the keys (first of a duplicate
        // stored key wins).
        let mut scope = AttrScope::current();
        attrs::merge(
            &mut scope,
            self.attr.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        );
        let mut given = self.params.clone();
        attrs::merge(
            &mut given,
            scope.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        );
        if let Some(key) = def.key_var_num_args
            && !given.iter().any(|(k, _)| k == key)
        {
            let count = self.positional.len() + self.keyword.len();
            given.push((key.to_owned(), count.to_string()));
        }
        let name = NameManager::get(self.name.as_deref(), &self.hint);
        let mut dict = BTreeMap::new();
        for (k, v) in given {
            dict.entry(attrs::op_key(&k)?).or_insert(v);
        }
        let keyword: Vec<(&str, &Symbol)> =
            self.keyword.iter().map(|(k, s)| (k.as_str(), s)).collect();
        let positional: Vec<&Symbol> = self.positional.iter().collect();
        compose_atomic(def, dict, name, &positional, &keyword)
    }
}

impl Symbol {
    /// Creates operator `op` (an MXNet name or alias) on `inputs` with string parameters:
    /// MXNet's `mx.sym.<op>(*inputs, **params, name=name)`. An input whose key is `""` is
    /// positional, any other is matched by input name. See [`OpBuilder`] for the rules and a
    /// typed way to pass parameters.
    ///
    /// ```
    /// use mxr::sym::{NameManager, Symbol};
    /// let _names = NameManager::scope();
    /// let (a, b) = (Symbol::variable("a"), Symbol::variable("b"));
    /// let c = Symbol::op("concat", &[("", &a), ("", &b)], &[("dim", "0")], None)?;
    /// assert_eq!(c.list_outputs(), ["concat0_output"]);
    /// assert_eq!(c.attr("num_args").as_deref(), Some("2"));
    /// let err = Symbol::op("Activation", &[("x", &a)], &[("act_type", "relu")], None);
    /// assert!(err.unwrap_err().to_string().contains("`x`"));
    /// # Ok::<(), mxr::Error>(())
    /// ```
    pub fn op(
        op: &str,
        inputs: &[(&str, &Symbol)],
        params: &[(&str, &str)],
        name: Option<&str>,
    ) -> Result<Symbol> {
        let mut b = OpBuilder::new(op).maybe_name(name);
        for (key, s) in inputs {
            b = if key.is_empty() {
                b.arg(s)
            } else {
                b.input(key, s)
            };
        }
        for (k, v) in params {
            b = b.param(k, *v);
        }
        b.build()
    }

    /// Calls the symbol with replacements for its variables (MXNet's `sym(**kwargs,
    /// name=...)`): a copy of the graph where every variable named by a key is replaced by that
    /// symbol (which must have one output); the original is unchanged. With a non-empty `name`,
    /// the copy's head node is renamed (inner nodes keep their names). A key naming no
    /// variable is an error. As in MXNet, when several variables share a key's name nothing is
    /// replaced.
    ///
    /// ```
    /// use mxr::sym::{Symbol, fully_connected};
    /// let net = fully_connected(&Symbol::variable("data"), 128).name("fc1").build()?;
    /// let net2 = fully_connected(&Symbol::variable("data2"), 128).name("net2").build()?;
    /// let composed = net.compose(&[("data", &net2)], Some("compose"))?;
    /// assert_eq!(
    ///     composed.list_arguments(),
    ///     ["data2", "net2_weight", "net2_bias", "fc1_weight", "fc1_bias"]
    /// );
    /// assert_eq!(composed.list_outputs(), ["compose_output"]);
    /// assert_eq!(net.list_outputs(), ["fc1_output"]);
    /// # Ok::<(), mxr::Error>(())
    /// ```
    pub fn compose(&self, replace: &[(&str, &Symbol)], name: Option<&str>) -> Result<Symbol> {
        self.check()?;
        let mut by_name: HashMap<&str, NodeEntry> = HashMap::new();
        for (key, s) in replace {
            s.check()?;
            by_name.insert(key, single_output(s, "Symbol::compose", key)?);
        }
        let order = self.nodes();
        // Which variables are replaced (by node), and whether the plan is carried out.
        let mut replaced: HashMap<usize, NodeEntry> = HashMap::new();
        for n in &order {
            if n.is_variable()
                && let Some(entry) = by_name.get(n.name().as_str())
            {
                replaced.insert(node::key(n), entry.clone());
            }
        }
        if replaced.len() != by_name.len() {
            let names = self.list_inputs();
            for (key, _) in replace {
                if !names.iter().any(|n| n == key) {
                    return Err(Error::InvalidArgument {
                        call: "Symbol::compose",
                        reason: format!(
                            "keyword `{key}` names no variable of the symbol; variables: {}",
                            names.join(", ")
                        ),
                    });
                }
            }
            replaced.clear(); // several variables share a name: MXNet replaces nothing
        }
        // Copy every node (nnvm's Symbol::Copy), wiring replaced inputs to the new symbols.
        let mut copies: HashMap<usize, NodeRef> = HashMap::new();
        for n in &order {
            let mut touched = false;
            let inputs: Vec<NodeEntry> = n
                .inputs
                .iter()
                .map(|e| match replaced.get(&node::key(&e.node)) {
                    Some(r) => {
                        touched = true;
                        r.clone()
                    }
                    None => NodeEntry {
                        node: copies[&node::key(&e.node)].clone(),
                        index: e.index,
                        version: e.version,
                    },
                })
                .collect();
            let deps = n
                .control_deps
                .iter()
                .map(|d| copies[&node::key(d)].clone())
                .collect();
            let mut inputs = inputs;
            if touched && let Some(op) = n.op() {
                update_versions(
                    &n.name(),
                    &mut inputs,
                    &op.mutate_inputs(),
                    op.input_names(),
                )?;
            }
            copies.insert(node::key(n), n.copy_with(inputs, deps));
        }
        let heads: Vec<NodeEntry> = self
            .heads
            .iter()
            .map(|e| NodeEntry {
                node: copies[&node::key(&e.node)].clone(),
                index: e.index,
                version: e.version,
            })
            .collect();
        if let (Some(name), Some(head)) = (name.filter(|n| !n.is_empty()), heads.first()) {
            head.node.write(|s| s.name = name.to_owned());
        }
        Ok(Symbol::from_heads(heads))
    }
}

/// The one output of `s`, or an error naming the argument.
fn single_output(s: &Symbol, call: &'static str, what: &str) -> Result<NodeEntry> {
    match s.heads.as_slice() {
        [one] => Ok(one.clone()),
        heads => Err(Error::InvalidArgument {
            call,
            reason: format!(
                "argument `{what}` has {} outputs ({}); a single output is required",
                heads.len(),
                s.list_outputs().join(", ")
            ),
        }),
    }
}

/// nnvm's `UpdateNodeVersion`: a variable input reads the variable's current version; a
/// mutated input must be a variable, whose version is bumped and recorded.
fn update_versions(
    node_name: &str,
    inputs: &mut [NodeEntry],
    mutated: &[usize],
    input_names: Vec<String>,
) -> Result<()> {
    for &i in mutated {
        if inputs.get(i).is_some_and(|e| !e.node.is_variable()) {
            return Err(Error::InvalidArgument {
                call: "Symbol::compose",
                reason: format!(
                    "node `{node_name}`: input `{}` is mutated by the operator (an auxiliary \
                     state) and must be a variable",
                    input_names.get(i).map_or("?", String::as_str)
                ),
            });
        }
    }
    for e in inputs.iter_mut() {
        if e.node.is_variable() {
            e.version = e.node.read(|s| s.version);
        }
    }
    for &i in mutated {
        if let Some(e) = inputs.get_mut(i) {
            e.version = e.node.write(|s| {
                s.version += 1;
                s.version
            });
        }
    }
    Ok(())
}

/// Operators that decorate their input variables when composed (`FSetInputVarAttrOnCompose`),
/// unless the variable already has an initializer: BatchNorm's moving statistics start at zero
/// and one, PReLU's `gamma` at 0.25.
pub(crate) fn set_input_var_attrs(def: &OpDef, var: &Node, index: usize) {
    let init = match (def.name, index) {
        ("BatchNorm" | "BatchNorm_v1" | "_contrib_SyncBatchNorm", 3) => "[\"zero\", {}]",
        ("BatchNorm" | "BatchNorm_v1" | "_contrib_SyncBatchNorm", 4) => "[\"one\", {}]",
        ("LeakyReLU", 1) => "[\"Constant\", {\"value\": 0.25}]",
        _ => return,
    };
    var.write(|s| {
        s.attrs
            .entry("__init__".to_owned())
            .or_insert_with(|| init.to_owned());
    });
}

/// nnvm's atomic composition of a fresh operator node (see [`OpBuilder`]).
pub(crate) fn compose_atomic(
    def: &'static OpDef,
    dict: BTreeMap<String, String>,
    name: String,
    positional: &[&Symbol],
    keyword: &[(&str, &Symbol)],
) -> Result<Symbol> {
    let pairs: Vec<(&str, &str)> = dict.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let op = def.instantiate(&pairs, None)?;
    let call = "Symbol::op";
    let n_req = op.num_inputs();
    let names = op.input_names();
    if positional.len() > n_req {
        return Err(Error::InvalidArgument {
            call,
            reason: format!(
                "{} `{name}`: {} positional inputs given, the operator takes {n_req} ({})",
                def.name,
                positional.len(),
                names.join(", ")
            ),
        });
    }
    let mut inputs: Vec<NodeEntry> = Vec::with_capacity(n_req);
    for (i, s) in positional.iter().enumerate() {
        inputs.push(single_output(s, call, &format!("#{i}"))?);
    }
    if inputs.len() < n_req {
        if names.len() != n_req {
            return Err(Error::InvalidArgument {
                call,
                reason: format!("{} `{name}`: not enough inputs", def.name),
            });
        }
        let mut matched = 0;
        for input_name in names.iter().skip(inputs.len()) {
            match keyword.iter().find(|(k, _)| k == input_name) {
                Some((k, s)) => {
                    inputs.push(single_output(s, call, k)?);
                    matched += 1;
                }
                None => {
                    let var_name = if name.is_empty() {
                        input_name.clone()
                    } else {
                        format!("{name}_{input_name}")
                    };
                    inputs.push(NodeEntry::new(Node::variable(var_name, dict.clone()), 0));
                }
            }
        }
        if matched != keyword.len() {
            let open = &names[positional.len()..];
            let unknown: Vec<&str> = keyword
                .iter()
                .map(|(k, _)| *k)
                .filter(|k| !open.iter().any(|n| n == k))
                .collect();
            return Err(Error::InvalidArgument {
                call,
                reason: format!(
                    "{} `{name}`: keyword input `{}` not found; candidate inputs: {}",
                    def.name,
                    unknown.join("`, `"),
                    open.join(", ")
                ),
            });
        }
    } else if let Some((k, _)) = keyword.first() {
        return Err(Error::InvalidArgument {
            call,
            reason: format!(
                "{} `{name}`: keyword input `{k}` not found; every input ({}) is given by \
                 position",
                def.name,
                names.join(", ")
            ),
        });
    }
    update_versions(&name, &mut inputs, &op.mutate_inputs(), names)?;
    for (i, e) in inputs.iter().enumerate() {
        if e.node.is_variable() {
            set_input_var_attrs(def, &e.node, i);
        }
    }
    let visible = op.num_visible_outputs();
    let node = Node::operator(def, op, name, dict, inputs, Vec::new());
    Ok(Symbol::from_heads(
        (0..visible)
            .map(|i| NodeEntry::new(node.clone(), i))
            .collect(),
    ))
}
