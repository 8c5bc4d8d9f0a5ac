//! Symbol JSON: writing MXNet 1.9.1's exact text and loading (and upgrading) MXNet's files.
//! Format: shared/spec/symbol_json.md §6.
//!
//! ```
//! use mxr::sym::{NameManager, Symbol, fully_connected};
//! let _names = NameManager::scope();
//! let fc = fully_connected(&Symbol::variable("data"), 10).name("fc1").build()?;
//! let json = fc.to_json()?;
//! assert!(json.starts_with("{\n  \"nodes\": [\n    {\n      \"op\": \"null\", \n"));
//! assert!(json.ends_with("  \"attrs\": {\"mxnet_version\": [\"int\", 10901]}\n}"));
//! let back = Symbol::from_json(&json)?;
//! assert_eq!(back.list_arguments(), ["data", "fc1_weight", "fc1_bias"]);
//! assert_eq!(back.to_json()?, json);
//! # Ok::<(), mxr::Error>(())
//! ```

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use mxr_operators::registry::{self, OpDef, OpRef};

use super::attrs::HIDDEN_KEYS;
use super::compose::set_input_var_attrs;
use super::jsonfile::{self, Entry, FileNode};
use super::jsonwriter::Writer;
use super::node::{self, Node, NodeEntry, NodeRef};
use super::symbol::Symbol;
use crate::format::LoadLimits;
use crate::{Error, Result};

/// The version MXNet writes (`major·10000 + minor·100 + patch`): 1.9.1.
pub(crate) const MXNET_VERSION: i64 = 10901;

const FORMAT: &str = "MXNet symbol JSON";

impl Symbol {
    /// The graph as MXNet 1.9.1's `Symbol.tojson()` writes it, byte for byte: nodes in
    /// traversal order with canonical operator names, attributes sorted, `arg_nodes`,
    /// `node_row_ptr`, `heads` and `{"mxnet_version": ["int", 10901]}`.
    pub fn to_json(&self) -> Result<String> {
        self.check()?;
        let (nodes, ids) = self.indexed_nodes();
        // A list of entries `[[node, index, version], ...]`, one a line past 10.
        let entries = |w: &mut Writer, list: &[NodeEntry]| {
            w.begin_array(list.len() > 10);
            for e in list {
                w.item();
                w.begin_array(false);
                w.item();
                w.int(ids[&node::key(&e.node)]);
                w.item();
                w.int(e.index);
                w.item();
                w.int(e.version);
                w.end_array();
            }
            w.end_array();
        };
        let mut w = Writer::new();
        w.begin_object(true);
        w.key("nodes");
        w.begin_array(true);
        for n in &nodes {
            w.item();
            w.begin_object(true);
            w.key("op");
            w.string(n.def.map_or("null", |d| d.name));
            let (name, attrs) = n.read(|s| (s.name.clone(), s.attrs.clone()));
            w.key("name");
            w.string(&name);
            if !attrs.is_empty() {
                w.key("attrs");
                w.string_map(
                    attrs.len(),
                    attrs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
                );
            }
            w.key("inputs");
            entries(&mut w, &n.inputs);
            if !n.control_deps.is_empty() {
                let deps: Vec<usize> = n.control_deps.iter().map(|d| ids[&node::key(d)]).collect();
                w.key("control_deps");
                w.int_array(&deps);
            }
            w.end_object();
        }
        w.end_array();
        let args: Vec<usize> = (0..nodes.len())
            .filter(|&i| nodes[i].is_variable())
            .collect();
        w.key("arg_nodes");
        w.int_array(&args);
        let mut row_ptr = vec![0];
        for n in &nodes {
            row_ptr.push(row_ptr[row_ptr.len() - 1] + json_num_outputs(n));
        }
        w.key("node_row_ptr");
        w.int_array(&row_ptr);
        w.key("heads");
        entries(&mut w, &self.heads);
        w.key("attrs");
        w.begin_object(false);
        w.key("mxnet_version");
        w.begin_array(false);
        w.item();
        w.string("int");
        w.item();
        w.int(MXNET_VERSION);
        w.end_array();
        w.end_object();
        w.end_object();
        Ok(w.finish())
    }

    /// Writes [`Symbol::to_json`] to `path` (MXNet's `sym.save(path)`, e.g.
    /// `model-symbol.json`).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        std::fs::write(path, self.to_json()?).map_err(|e| Error::Io {
            path: path.display().to_string(),
            source: Arc::new(e),
        })
    }

    /// Loads a symbol from MXNet's JSON (any version MXNet 1.9.1 loads: `attrs`, `attr` or
    /// `param` dictionaries, 2- or 3-element entries, no `node_row_ptr`, no `attrs`), upgrading
    /// files older than 1.9.1 as MXNet does: hidden keys (`ctx_group` → `__ctx_group__`,
    /// `weight_lr_mult` moved onto the weight variable), auxiliary-state inputs missing from
    /// 0.8 files added (`bn_moving_mean`), BatchNorm initializers, and `argmax(axis=-1)`.
    /// Unknown operators and parameters are errors naming the node.
    pub fn from_json(text: &str) -> Result<Symbol> {
        load_json(text, "symbol JSON text", LoadLimits::default())
    }

    /// [`Symbol::from_json`] with a memory budget other than [`LoadLimits::default`]: the
    /// parsed document and the nodes an upgrade adds are accounted as they are built, and
    /// going over [`LoadLimits::budget`] is an [`Error::Format`].
    ///
    /// ```
    /// use mxr::format::LoadLimits;
    /// use mxr::sym::Symbol;
    /// let numbers = vec!["0"; 10_000].join(",");
    /// let text = format!(r#"{{"nodes": [], "arg_nodes": [{numbers}], "heads": []}}"#);
    /// let tight = LoadLimits { max_expansion: 4, min_budget: 0 };
    /// let e = Symbol::from_json_with_limits(&text, tight).unwrap_err();
    /// assert!(e.to_string().contains("memory limit"), "{e}");
    /// ```
    pub fn from_json_with_limits(text: &str, limits: LoadLimits) -> Result<Symbol> {
        load_json(text, "symbol JSON text", limits)
    }

    /// [`Symbol::from_json`] on the file at `path` (MXNet's `mx.sym.load`).
    pub fn load(path: impl AsRef<Path>) -> Result<Symbol> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| Error::Io {
            path: path.display().to_string(),
            source: Arc::new(e),
        })?;
        load_json(&text, &path.display().to_string(), LoadLimits::default())
    }
}

/// The output count `node_row_ptr` records. MXNet's pip build (oneDNN) gives max pooling a
/// hidden `workspace` output; while the registry's `Pooling` declares one output, the file
/// still counts two so that it matches MXNet's byte for byte.
fn json_num_outputs(n: &Node) -> usize {
    let count = n.num_outputs();
    if count != 1 || n.def.is_none_or(|d| d.name != "Pooling") {
        return count;
    }
    let workspace = n.read(|s| {
        let get = |k: &str| s.attrs.get(k).map(String::as_str);
        let max = get("pool_type").is_none_or(|t| t == "max");
        let kernel_rank = get("kernel").map_or(0, |k| {
            k.split(',')
                .filter(|d| !d.trim_matches(|c| "()[] ".contains(c)).is_empty())
                .count()
        });
        let layout = matches!(
            get("layout"),
            None | Some("None" | "NCW" | "NCHW" | "NCDHW")
        );
        max && (1..=3).contains(&kernel_rank) && layout
    });
    if workspace { 2 } else { 1 }
}

/// A node as read from the file, before wiring.
struct RawNode {
    def: Option<&'static OpDef>,
    op_name: String,
    name: String,
    attrs: BTreeMap<String, String>,
    inputs: Vec<Entry>,
    control_deps: Vec<usize>,
    op: Option<OpRef>,
}

struct Loader<'a> {
    source: &'a str,
    /// Bytes of nodes an upgrade may still add (what the parse left of the budget).
    budget: std::cell::Cell<usize>,
}

impl Loader<'_> {
    fn error(&self, reason: impl Into<String>) -> Error {
        Error::Format {
            source_name: self.source.to_owned(),
            format: FORMAT,
            reason: reason.into(),
        }
    }

    /// A node as the file gives it, with its operator looked up.
    fn node(&self, n: FileNode) -> Result<RawNode> {
        let FileNode {
            op: op_name,
            name,
            inputs,
            mut attrs,
            param,
            control_deps,
        } = n;
        for (k, v) in param {
            attrs.entry(k).or_insert(v);
        }
        let def = if op_name == "null" {
            None
        } else {
            Some(registry::lookup(&op_name).map_err(|e| {
                self.error(format!(
                    "failed loading node `{name}` of type {op_name}: {e}"
                ))
            })?)
        };
        Ok(RawNode {
            def,
            op_name,
            name,
            attrs,
            inputs,
            control_deps,
            op: None,
        })
    }

    /// Parses node `i`'s attributes into its operator.
    fn parse(&self, raw: &mut RawNode) -> Result<()> {
        if let Some(def) = raw.def {
            let pairs: Vec<(&str, &str)> = raw
                .attrs
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            let op = def
                .instantiate(&pairs, None)
                .map_err(|e| self.error(format!("node `{}` ({}): {e}", raw.name, raw.op_name)))?;
            raw.op = Some(op);
        }
        Ok(())
    }
}

/// The nodes reachable from `heads` in traversal order (inputs, then control dependencies);
/// an error on a cycle.
fn raw_order(loader: &Loader<'_>, nodes: &[RawNode], heads: &[Entry]) -> Result<Vec<usize>> {
    // 0 unvisited, 1 on the current path, 2 done.
    let mut state = vec![0u8; nodes.len()];
    let mut order = Vec::new();
    for &(head, _, _) in heads {
        if state[head] != 0 {
            continue;
        }
        state[head] = 1;
        let mut stack = vec![(head, 0usize)];
        while let Some((id, next)) = stack.last_mut() {
            let n = &nodes[*id];
            let degree = n.inputs.len() + n.control_deps.len();
            if *next == degree {
                state[*id] = 2;
                order.push(*id);
                stack.pop();
                continue;
            }
            let child = if *next < n.inputs.len() {
                n.inputs[*next].0
            } else {
                n.control_deps[*next - n.inputs.len()]
            };
            *next += 1;
            match state[child] {
                0 => {
                    state[child] = 1;
                    stack.push((child, 0));
                }
                1 => {
                    return Err(loader.error(format!(
                        "the graph has a cycle through node {child} (`{}`)",
                        nodes[child].name
                    )));
                }
                _ => {}
            }
        }
    }
    Ok(order)
}

fn load_json(text: &str, source: &str, limits: LoadLimits) -> Result<Symbol> {
    let budget = limits.budget(text.len());
    let loader = Loader {
        source,
        budget: std::cell::Cell::new(budget),
    };
    let (file, left) = jsonfile::read(text, budget).map_err(|e| loader.error(e))?;
    loader.budget.set(left);
    let jsonfile::File {
        nodes,
        arg_nodes,
        heads,
        version,
    } = file;
    let mut nodes: Vec<RawNode> = nodes
        .into_iter()
        .map(|n| loader.node(n))
        .collect::<Result<_>>()?;

    let count = nodes.len();
    let check_id = |id: usize, what: &str| {
        if id < count {
            Ok(())
        } else {
            Err(loader.error(format!(
                "{what} refers to node {id}; there are {count} nodes"
            )))
        }
    };
    for (i, n) in nodes.iter().enumerate() {
        for &(src, _, _) in &n.inputs {
            check_id(src, &format!("an input of node {i} (`{}`)", n.name))?;
        }
        for &dep in &n.control_deps {
            check_id(
                dep,
                &format!("a control dependency of node {i} (`{}`)", n.name),
            )?;
        }
    }
    for &id in &arg_nodes {
        check_id(id, "`arg_nodes`")?;
        if nodes[id].def.is_some() {
            return Err(loader.error(format!(
                "`arg_nodes` lists node {id} (`{}`), which is not a variable",
                nodes[id].name
            )));
        }
    }
    for &(id, _, _) in &heads {
        check_id(id, "a head")?;
    }

    let order = raw_order(&loader, &nodes, &heads)?;
    if version < MXNET_VERSION {
        for &i in &order {
            fix_hidden_keys(&mut nodes, i);
        }
    }
    for &i in &order {
        loader.parse(&mut nodes[i])?;
    }
    if version < 900 {
        for &i in &order {
            add_missing_inputs(&loader, &mut nodes, i)?;
        }
    }
    let order = raw_order(&loader, &nodes, &heads)?;
    if version < 904 {
        for &i in &order {
            if let Some(def) = nodes[i].def {
                for (slot, &(src, _, _)) in nodes[i].inputs.clone().iter().enumerate() {
                    if nodes[src].def.is_none() {
                        set_raw_var_attrs(def, &mut nodes[src], slot);
                    }
                }
            }
        }
    }
    if version < 905 {
        for &i in &order {
            let n = &mut nodes[i];
            if matches!(n.def.map(|d| d.name), Some("argmax" | "argmin"))
                && n.attrs.get("axis").map(String::as_str) == Some("-1")
            {
                n.attrs.remove("axis");
                loader.parse(n)?;
            }
        }
    }
    build(&loader, nodes, &order, &heads)
}

/// Upgrade step "fix hidden keys" (files older than 1.9.1): keys equal to a hidden key become
/// `__key__`; `<input>_<hidden key>` moves onto that input's variable as `__key__`.
fn fix_hidden_keys(nodes: &mut [RawNode], i: usize) {
    let is_hidden = |k: &str| {
        HIDDEN_KEYS.iter().any(|h| match k.rfind(h) {
            Some(0) => true,
            Some(pos) => pos + h.len() == k.len(),
            None => false,
        })
    };
    let hidden: Vec<(String, String)> = nodes[i]
        .attrs
        .iter()
        .filter(|(k, _)| is_hidden(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for (k, _) in &hidden {
        nodes[i].attrs.remove(k);
    }
    for (k, v) in hidden {
        let mut moved = false;
        for h in HIDDEN_KEYS {
            let Some(pos) = k.rfind(h) else { continue };
            if pos == 0 && k.len() == h.len() {
                nodes[i].attrs.insert(format!("__{h}__"), v.clone());
                moved = true;
            } else if pos > 1 && pos + h.len() == k.len() {
                let target = input_variable(nodes, i, &k[..pos - 1]);
                if let Some(target) = target {
                    nodes[target].attrs.insert(format!("__{h}__"), v.clone());
                    moved = true;
                }
            } else {
                continue;
            }
            break;
        }
        if !moved {
            nodes[i].attrs.insert(k, v);
        }
    }
}

/// The variable node feeding operator node `i`'s input named `input`, if any.
fn input_variable(nodes: &[RawNode], i: usize, input: &str) -> Option<usize> {
    let n = &nodes[i];
    let def = n.def?;
    let pairs: Vec<(&str, &str)> = n
        .attrs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let names = def.instantiate(&pairs, None).ok()?.input_names();
    let slot = names.iter().position(|name| name == input)?;
    let (src, _, _) = *n.inputs.get(slot)?;
    nodes[src].def.is_none().then_some(src)
}

/// Upgrade step for files older than 0.9.0, which left auxiliary states out: each missing
/// input becomes a variable `<node>_<input>` with a copy of the node's attributes.
fn add_missing_inputs(loader: &Loader<'_>, nodes: &mut Vec<RawNode>, i: usize) -> Result<()> {
    let Some(op) = nodes[i].op.clone() else {
        return Ok(());
    };
    let names = op.input_names();
    // Once: `num_inputs` may build every input's name.
    let num_inputs = op.num_inputs();
    let attr_bytes: usize = nodes[i].attrs.iter().map(|(k, v)| k.len() + v.len()).sum();
    while nodes[i].inputs.len() < num_inputs {
        // Each added variable copies the node's attributes: count it against what the parse
        // left of the budget (a 0.8 file's `Concat` with `num_args` 65536 and no inputs).
        let cost = 2 * size_of::<RawNode>() + attr_bytes + nodes[i].name.len() + 16;
        let Some(left) = loader.budget.get().checked_sub(cost) else {
            return Err(loader.error(format!(
                "adding the missing inputs of node {i} (`{}`, a file older than 0.9) would \
                 take more than the memory limit",
                nodes[i].name
            )));
        };
        loader.budget.set(left);
        let slot = nodes[i].inputs.len();
        let input = names
            .get(slot)
            .cloned()
            .unwrap_or_else(|| format!("arg{slot}"));
        let name = if nodes[i].name.is_empty() {
            input
        } else {
            format!("{}_{input}", nodes[i].name)
        };
        nodes.push(RawNode {
            def: None,
            op_name: "null".into(),
            name,
            attrs: nodes[i].attrs.clone(),
            inputs: Vec::new(),
            control_deps: Vec::new(),
            op: None,
        });
        let id = nodes.len() - 1;
        nodes[i].inputs.push((id, 0, 0));
    }
    Ok(())
}

/// The compose hook on a raw variable (upgrade step for files older than 0.9.4).
fn set_raw_var_attrs(def: &OpDef, var: &mut RawNode, slot: usize) {
    let node = Node::variable(String::new(), std::mem::take(&mut var.attrs));
    set_input_var_attrs(def, &node, slot);
    var.attrs = node.read(|s| s.attrs.clone());
}

/// Wires the reachable nodes into shared nodes (inputs first) and returns the heads.
fn build(
    loader: &Loader<'_>,
    nodes: Vec<RawNode>,
    order: &[usize],
    heads: &[Entry],
) -> Result<Symbol> {
    let mut nodes: Vec<Option<RawNode>> = nodes.into_iter().map(Some).collect();
    let mut built: Vec<Option<NodeRef>> = vec![None; nodes.len()];
    let entry = |built: &[Option<NodeRef>], (src, index, version): Entry, what: &str| {
        // `order` is a post-order, so every input was built before its reader.
        let node = built[src]
            .clone()
            .ok_or_else(|| loader.error(format!("{what}: node {src} is not built")))?;
        let outputs = node.num_outputs();
        if index >= outputs {
            return Err(loader.error(format!(
                "{what} reads output {index} of node {src} (`{}`), which has {outputs}",
                node.name()
            )));
        }
        Ok(NodeEntry {
            node,
            index,
            version,
        })
    };
    for &i in order {
        let Some(raw) = nodes[i].take() else { continue };
        let what = format!("node {i} (`{}`)", raw.name);
        let node = match (raw.def, raw.op) {
            (Some(def), Some(op)) => {
                if raw.inputs.len() != op.num_inputs() {
                    return Err(loader.error(format!(
                        "{what}: {} takes {} inputs ({}), the file gives {}",
                        def.name,
                        op.num_inputs(),
                        op.input_names().join(", "),
                        raw.inputs.len()
                    )));
                }
                let inputs = raw
                    .inputs
                    .iter()
                    .map(|&e| entry(&built, e, &what))
                    .collect::<Result<Vec<_>>>()?;
                let deps = raw
                    .control_deps
                    .iter()
                    .map(|&d| {
                        built[d]
                            .clone()
                            .ok_or_else(|| loader.error(format!("{what}: dependency {d} missing")))
                    })
                    .collect::<Result<Vec<_>>>()?;
                Node::operator(def, op, raw.name, raw.attrs, inputs, deps)
            }
            (None, _) => {
                if !raw.inputs.is_empty() {
                    return Err(loader.error(format!("{what}: a variable cannot have inputs")));
                }
                Node::variable(raw.name, raw.attrs)
            }
            (Some(_), None) => return Err(loader.error(format!("{what}: not parsed"))),
        };
        built[i] = Some(node);
    }
    let heads = heads
        .iter()
        .map(|&e| entry(&built, e, "a head"))
        .collect::<Result<Vec<_>>>()?;
    Ok(Symbol::from_heads(heads))
}
