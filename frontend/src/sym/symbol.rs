//! The `Symbol` handle: variables, groups, output selection and the graph queries.

use std::borrow::Borrow;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;

use mxr_kernels::DType;

use super::attrs::{self, AttrScope, ParamValue};
use super::node::{self, Node, NodeEntry, NodeRef};
use crate::{Error, Result};

/// A symbolic graph: an ordered list of outputs (entries of shared nodes). Cheap to clone
/// (the nodes are shared, not copied), `Send` and `Sync`.
///
/// A symbol made by an arithmetic operator whose operands did not fit (a multi-output symbol as
/// an operand) is *failed*: it carries the error, which every fallible call on it (building on
/// it, inference, JSON) returns, while the list queries return empty lists. [`Symbol::error`]
/// tells; the `Result`-returning forms ([`Symbol::op`], [`OpBuilder`](super::OpBuilder)) report
/// at once.
///
/// ```
/// use mxr::sym::{NameManager, Symbol};
/// let _names = NameManager::scope();
/// let a = Symbol::variable("A");
/// let b = Symbol::variable("B");
/// let d = (&a * 5 + &b) / 2 + 1;
/// assert_eq!(d.list_arguments(), ["A", "B"]);
/// assert_eq!(d.list_outputs(), ["_plusscalar0_output"]);
/// ```
#[derive(Clone)]
pub struct Symbol {
    pub(crate) heads: Vec<NodeEntry>,
    pub(crate) failed: Option<Error>,
}

impl fmt::Debug for Symbol {
    /// `<Symbol fc1>`, `<Symbol group [a, b]>`, `<Symbol failed: ...>`, as Python prints.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(e) = &self.failed {
            return write!(f, "<Symbol failed: {e}>");
        }
        match self.name() {
            Some(name) => write!(f, "<Symbol {name}>"),
            None => {
                let names: Vec<String> = self.heads.iter().map(|e| e.node.name()).collect();
                write!(f, "<Symbol group [{}]>", names.join(", "))
            }
        }
    }
}

impl Symbol {
    pub(crate) fn from_heads(heads: Vec<NodeEntry>) -> Symbol {
        Symbol {
            heads,
            failed: None,
        }
    }

    /// A failed symbol carrying `error` (see the type docs).
    pub(crate) fn failed(error: Error) -> Symbol {
        Symbol {
            heads: Vec::new(),
            failed: Some(error),
        }
    }

    /// The error of a failed symbol; `None` for a usable one.
    pub fn error(&self) -> Option<&Error> {
        self.failed.as_ref()
    }

    /// The symbol itself, or the error it carries.
    ///
    /// ```
    /// use mxr::sym::Symbol;
    /// let pair = Symbol::group([Symbol::variable("a"), Symbol::variable("b")]);
    /// let bad = &pair + 1; // a two-output operand
    /// assert!(bad.check().unwrap_err().to_string().contains("single"));
    /// ```
    pub fn check(&self) -> Result<&Symbol> {
        match &self.failed {
            Some(e) => Err(e.clone()),
            None => Ok(self),
        }
    }

    /// A variable (MXNet's `mx.sym.Variable(name)`), with the current [`AttrScope`]'s
    /// attributes. See [`Symbol::var`] for shape, dtype and other hints.
    pub fn variable(name: &str) -> Symbol {
        let mut attrs = BTreeMap::new();
        for (k, v) in AttrScope::current() {
            // AttrScope::new rejected keys that attr_key refuses.
            if let Ok(k) = attrs::attr_key(&k) {
                attrs.insert(k, v);
            }
        }
        Symbol::from_heads(vec![NodeEntry::new(
            Node::variable(name.to_owned(), attrs),
            0,
        )])
    }

    /// A variable with hints, built with [`VarBuilder`]:
    ///
    /// ```
    /// use mxr::DType;
    /// use mxr::sym::Symbol;
    /// let w = Symbol::var("w").shape(&[2, 3]).dtype(DType::F16).lr_mult(2.0).build()?;
    /// assert_eq!(w.attr("__shape__").as_deref(), Some("(2, 3)"));
    /// assert_eq!(w.attr("__dtype__").as_deref(), Some("2"));
    /// assert_eq!(w.attr("lr_mult").as_deref(), Some("2.0"));
    /// # Ok::<(), mxr::Error>(())
    /// ```
    pub fn var(name: &str) -> VarBuilder {
        VarBuilder {
            name: name.to_owned(),
            attr: Vec::new(),
            hints: Vec::new(),
            user: Vec::new(),
        }
    }

    /// The outputs of several symbols as one (MXNet's `mx.sym.Group`). A failed member makes
    /// the group failed.
    pub fn group<I>(symbols: I) -> Symbol
    where
        I: IntoIterator,
        I::Item: Borrow<Symbol>,
    {
        let mut heads = Vec::new();
        for s in symbols {
            let s = s.borrow();
            if let Some(e) = &s.failed {
                return Symbol::failed(e.clone());
            }
            heads.extend(s.heads.iter().cloned());
        }
        Symbol::from_heads(heads)
    }

    /// The number of outputs.
    pub fn num_outputs(&self) -> usize {
        self.heads.len()
    }

    /// Output `index` alone (Python's `sym[index]`).
    pub fn output(&self, index: usize) -> Result<Symbol> {
        self.check()?;
        let head = self
            .heads
            .get(index)
            .ok_or_else(|| Error::InvalidArgument {
                call: "Symbol::output",
                reason: format!(
                    "output {index} requested, the symbol has {} outputs ({})",
                    self.heads.len(),
                    self.list_outputs().join(", ")
                ),
            })?;
        Ok(Symbol::from_heads(vec![head.clone()]))
    }

    /// The output named `name` in [`Symbol::list_outputs`] (Python's `sym['fc1_output']`);
    /// an error when no output or several have that name.
    pub fn output_by_name(&self, name: &str) -> Result<Symbol> {
        self.check()?;
        let outputs = self.list_outputs();
        let found: Vec<usize> = (0..outputs.len()).filter(|&i| outputs[i] == name).collect();
        match found.as_slice() {
            [i] => self.output(*i),
            [] => Err(Error::InvalidArgument {
                call: "Symbol::output_by_name",
                reason: format!(
                    "no output is named `{name}`; outputs: {}",
                    outputs.join(", ")
                ),
            }),
            _ => Err(Error::InvalidArgument {
                call: "Symbol::output_by_name",
                reason: format!("several outputs are named `{name}`"),
            }),
        }
    }

    /// The head node's name; `None` for a group of several nodes (and a failed symbol).
    pub fn name(&self) -> Option<String> {
        self.single_node().map(|n| n.name())
    }

    /// The one node every output belongs to.
    pub(crate) fn single_node(&self) -> Option<&NodeRef> {
        let first = &self.heads.first()?.node;
        self.heads
            .iter()
            .all(|e| node::key(&e.node) == node::key(first))
            .then_some(first)
    }

    /// Every node of the graph in MXNet's traversal order.
    pub(crate) fn nodes(&self) -> Vec<NodeRef> {
        node::post_order(self.heads.iter().map(|e| &e.node))
    }

    /// [`Symbol::nodes`], with each node's position in that order by its [`node::key`] (the
    /// node ids of the JSON, the dot graph and inference).
    pub(crate) fn indexed_nodes(&self) -> (Vec<NodeRef>, HashMap<usize, usize>) {
        let nodes = self.nodes();
        let ids = nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (node::key(n), i))
            .collect();
        (nodes, ids)
    }

    /// The variables of the graph and which of them are auxiliary states (mutated by an
    /// operator), in traversal order.
    pub(crate) fn inputs_with_aux(&self) -> Vec<(NodeRef, bool)> {
        let mut variables = Vec::new();
        let mut mutated: HashSet<usize> = HashSet::new();
        for n in self.nodes() {
            if n.is_variable() {
                variables.push(n);
            } else if let Some(op) = n.op() {
                for i in op.mutate_inputs() {
                    if let Some(e) = n.inputs.get(i) {
                        mutated.insert(node::key(&e.node));
                    }
                }
            }
        }
        variables
            .into_iter()
            .map(|n| {
                let aux = mutated.contains(&node::key(&n));
                (n, aux)
            })
            .collect()
    }

    /// The names of the arguments: the variables that are not auxiliary states, in traversal
    /// order (a name appears once per variable node, so two variables both called `data` are
    /// listed twice, as in MXNet).
    pub fn list_arguments(&self) -> Vec<String> {
        self.inputs_with_aux()
            .into_iter()
            .filter(|(_, aux)| !aux)
            .map(|(n, _)| n.name())
            .collect()
    }

    /// The names of the auxiliary states: variables an operator mutates (BatchNorm's
    /// `moving_mean`, `moving_var`), in traversal order.
    pub fn list_auxiliary_states(&self) -> Vec<String> {
        self.inputs_with_aux()
            .into_iter()
            .filter(|(_, aux)| *aux)
            .map(|(n, _)| n.name())
            .collect()
    }

    /// The names of every variable, arguments and auxiliary states, in traversal order.
    pub fn list_inputs(&self) -> Vec<String> {
        self.inputs_with_aux()
            .into_iter()
            .map(|(n, _)| n.name())
            .collect()
    }

    /// The names of the outputs: a variable's name, or `<node>_<output>` (`fc1_output`,
    /// `split0_output1`).
    pub fn list_outputs(&self) -> Vec<String> {
        self.heads
            .iter()
            .map(|e| e.node.output_name(e.index))
            .collect()
    }

    /// Every node's visible outputs as one symbol, in traversal order (variables included):
    /// MXNet's `get_internals()`. Pick an internal output with [`Symbol::output_by_name`].
    ///
    /// ```
    /// use mxr::sym::{Symbol, fully_connected};
    /// let fc = fully_connected(&Symbol::variable("data"), 4).name("fc1").build()?;
    /// let internals = fc.get_internals();
    /// assert_eq!(internals.list_outputs(), ["data", "fc1_weight", "fc1_bias", "fc1_output"]);
    /// let weight = internals.output_by_name("fc1_weight")?;
    /// assert_eq!(weight.list_arguments(), ["fc1_weight"]);
    /// # Ok::<(), mxr::Error>(())
    /// ```
    pub fn get_internals(&self) -> Symbol {
        if self.failed.is_some() {
            return self.clone();
        }
        let mut heads = Vec::new();
        for n in self.nodes() {
            if n.is_variable() {
                let version = n.read(|s| s.version);
                heads.push(NodeEntry {
                    node: n,
                    index: 0,
                    version,
                });
            } else {
                for i in 0..n.num_visible_outputs() {
                    heads.push(NodeEntry::new(n.clone(), i));
                }
            }
        }
        Symbol::from_heads(heads)
    }

    /// The inputs of the head nodes as one symbol (MXNet's `get_children()`); `None` when they
    /// have none (a variable).
    pub fn get_children(&self) -> Option<Symbol> {
        let mut seen = HashSet::new();
        let mut heads = Vec::new();
        for e in &self.heads {
            if seen.insert(node::key(&e.node)) {
                heads.extend(e.node.inputs.iter().cloned());
            }
        }
        (!heads.is_empty()).then(|| Symbol::from_heads(heads))
    }

    /// An attribute of the head node (`None` for a group): `name`, `op_name` (the canonical
    /// operator, `null` for a variable), or a key of its dictionary; a hidden key (`lr_mult`)
    /// is also found under its stored form (`__lr_mult__`).
    pub fn attr(&self, key: &str) -> Option<String> {
        let node = self.single_node()?;
        match key {
            "name" => return Some(node.name()),
            "op_name" => return Some(node.def.map_or("null", |d| d.name).to_owned()),
            _ => {}
        }
        node.read(|s| {
            s.attrs.get(key).cloned().or_else(|| {
                attrs::HIDDEN_KEYS
                    .contains(&key)
                    .then(|| s.attrs.get(&format!("__{key}__")).cloned())
                    .flatten()
            })
        })
    }

    /// The first output node's attribute dictionary (MXNet's `list_attr()`), stored hidden keys
    /// reported under both spellings (`__lr_mult__` and `lr_mult`).
    pub fn list_attr(&self) -> BTreeMap<String, String> {
        self.heads
            .first()
            .map(|e| e.node.read(|s| with_plain_keys(&s.attrs)))
            .unwrap_or_default()
    }

    /// Every node's attribute dictionary by node name (MXNet's `attr_dict()`); nodes without
    /// attributes are absent.
    pub fn attr_dict(&self) -> BTreeMap<String, BTreeMap<String, String>> {
        let mut all: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        for n in self.nodes() {
            let (name, attrs) = n.read(|s| (s.name.clone(), with_plain_keys(&s.attrs)));
            if !attrs.is_empty() {
                all.entry(name).or_default().extend(attrs);
            }
        }
        all
    }

    /// Sets an attribute of the head node (MXNet's `_set_attr`), in every symbol sharing the
    /// node. `name` renames the node; a hidden key is stored as `__key__`; on an operator node
    /// the parameters are parsed again and a value the operator rejects (or one that changes
    /// its inputs or outputs) is an error that leaves the node unchanged.
    pub fn set_attr(&self, key: &str, value: &str) -> Result<()> {
        self.check()?;
        let node = self.single_node().ok_or_else(|| Error::InvalidArgument {
            call: "Symbol::set_attr",
            reason: "only a symbol with one head node has attributes to set".into(),
        })?;
        if key == "name" {
            node.write(|s| s.name = value.to_owned());
            return Ok(());
        }
        let key = attrs::attr_key(key)?;
        let Some(def) = node.def else {
            node.write(|s| s.attrs.insert(key, value.to_owned()));
            return Ok(());
        };
        let mut dict = node.read(|s| s.attrs.clone());
        dict.insert(key, value.to_owned());
        let pairs: Vec<(&str, &str)> = dict.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let op = def.instantiate(&pairs, None)?;
        let old = node.op();
        if let Some(old) = old
            && (old.num_inputs() != op.num_inputs() || old.num_outputs() != op.num_outputs())
        {
            return Err(Error::InvalidArgument {
                call: "Symbol::set_attr",
                reason: format!(
                    "node `{}` ({}): the new parameters change the operator's inputs or outputs",
                    node.name(),
                    def.name
                ),
            });
        }
        node.write(|s| {
            s.attrs = dict;
            s.op = Some(op);
        });
        Ok(())
    }
}

/// A copy of `attrs` with each stored hidden key also under its plain name.
fn with_plain_keys(attrs: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let mut out = attrs.clone();
    for (k, v) in attrs {
        if let Some(plain) = attrs::plain_hidden_key(k) {
            out.insert(plain.to_owned(), v.clone());
        }
    }
    out
}

/// Builds a variable with hints (MXNet's `mx.sym.Variable(name, attr=, shape=, dtype=,
/// lr_mult=, wd_mult=, init=, stype=, **__kwargs__)`); see [`Symbol::var`]. The result's
/// attributes are, as in Python: the current [`AttrScope`]'s, updated with [`VarBuilder::attr`]
/// ones, then the hints (`__shape__`, `__dtype__`, ...), then [`VarBuilder::user_attr`] ones;
/// hidden keys (`lr_mult`) are stored as `__key__`.
#[derive(Debug, Clone)]
#[must_use = "call .build() to create the variable"]
pub struct VarBuilder {
    name: String,
    attr: Vec<(String, String)>,
    hints: Vec<(String, String)>,
    user: Vec<(String, String)>,
}

impl VarBuilder {
    fn hint(mut self, key: &str, value: String) -> VarBuilder {
        attrs::merge(&mut self.hints, [(key, value.as_str())]);
        self
    }

    /// The shape (`__shape__`, e.g. `(2, 3)`), used by shape inference when none is given;
    /// 0 marks an unknown dimension.
    pub fn shape(self, shape: &[usize]) -> VarBuilder {
        let text = shape.to_param();
        self.hint("__shape__", text)
    }

    /// The dtype (`__dtype__`, MXNet's type flag), used by type inference.
    pub fn dtype(self, dtype: DType) -> VarBuilder {
        let text = dtype.flag().to_string();
        self.hint("__dtype__", text)
    }

    /// The learning-rate multiplier (`__lr_mult__`); an integer is written as Python's `int`
    /// (`2`), a float as its `float` (`2.0`).
    pub fn lr_mult(self, mult: impl Into<attrs::Scalar>) -> VarBuilder {
        let text = mult.into().to_string();
        self.hint("__lr_mult__", text)
    }

    /// The weight-decay multiplier (`__wd_mult__`).
    pub fn wd_mult(self, mult: impl Into<attrs::Scalar>) -> VarBuilder {
        let text = mult.into().to_string();
        self.hint("__wd_mult__", text)
    }

    /// The initializer, in MXNet's JSON form (`__init__`, e.g. `["zero", {}]` or
    /// `["xavier", {"rnd_type": "uniform", "factor_type": "avg", "magnitude": 3}]`).
    pub fn init(self, init: &str) -> VarBuilder {
        self.hint("__init__", init.to_owned())
    }

    /// The storage type id (`__storage_type__`: 0 default, 1 row_sparse, 2 csr).
    pub fn storage_type(self, stype: i32) -> VarBuilder {
        self.hint("__storage_type__", stype.to_string())
    }

    /// An entry of Python's `attr={...}` (over the scope's attributes, under the hints).
    pub fn attr(mut self, key: &str, value: &str) -> VarBuilder {
        attrs::merge(&mut self.attr, [(key, value)]);
        self
    }

    /// A free-form user attribute (Python's `**kwargs`); the key must look like `__name__`.
    pub fn user_attr(mut self, key: &str, value: &str) -> VarBuilder {
        attrs::merge(&mut self.user, [(key, value)]);
        self
    }

    /// Creates the variable.
    pub fn build(self) -> Result<Symbol> {
        if let Some((k, _)) = self.user.iter().find(|(k, _)| !attrs::is_user_attr(k)) {
            return Err(Error::InvalidArgument {
                call: "VarBuilder::user_attr",
                reason: format!(
                    "attribute name `{k}` is not supported; extra attributes must start and \
                     end with double underscores, e.g. __yourattr__"
                ),
            });
        }
        let mut ordered: Vec<(String, String)> = AttrScope::current();
        for part in [&self.attr, &self.hints, &self.user] {
            attrs::merge(
                &mut ordered,
                part.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            );
        }
        let mut dict = BTreeMap::new();
        for (k, v) in ordered {
            dict.insert(attrs::attr_key(&k)?, v);
        }
        Ok(Symbol::from_heads(vec![NodeEntry::new(
            Node::variable(self.name, dict),
            0,
        )]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symbols_are_send_and_sync() {
        fn check<T: Send + Sync + Clone>() {}
        check::<Symbol>();
    }

    #[test]
    fn variable_attrs_follow_python_order() {
        let _scope = AttrScope::new(&[("lr_mult", "0.1"), ("ctx_group", "g")]).unwrap();
        let v = Symbol::var("w")
            .lr_mult(2)
            .attr("wd_mult", "3")
            .user_attr("__u__", "7")
            .build()
            .unwrap();
        let attrs = v.list_attr();
        assert_eq!(attrs["__lr_mult__"], "2");
        assert_eq!(attrs["lr_mult"], "2");
        assert_eq!(attrs["__wd_mult__"], "3");
        assert_eq!(attrs["__ctx_group__"], "g");
        assert_eq!(attrs["__u__"], "7");
        let err = Symbol::var("w").user_attr("u", "1").build().unwrap_err();
        assert!(err.to_string().contains("double underscores"), "{err}");
    }
}
