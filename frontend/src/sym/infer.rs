//! Shape and type inference over a symbol's graph (MXNet's `infer_shape`,
//! `infer_shape_partial`, `infer_type`, `infer_type_partial`).
//!
//! Given values (by variable name) and the variables' `__shape__` / `__dtype__` attributes
//! seed the graph's entries; then full forward and backward sweeps over the nodes call each
//! operator's inference (which fills unknown inputs and outputs from known ones, in both
//! directions) until nothing is unknown or a sweep makes no progress (operators.md §4).
//! Shapes use MXNet's legacy form at the boundary: `[]` is an unknown shape, a `0` dimension
//! an unknown dimension.
//!
//! ```
//! use mxr::sym::{Symbol, fully_connected};
//! let fc = fully_connected(&Symbol::variable("data"), 10).name("fc1").build()?;
//! let (args, outs, aux) = fc.infer_shape(&[("data", &[100, 100])])?;
//! assert_eq!(args, [vec![100, 100], vec![10, 100], vec![10]]);
//! assert_eq!((outs, aux), (vec![vec![100, 10]], vec![]));
//! let (args, outs, _) = fc.infer_shape_partial(&[("data", &[0, 100])])?;
//! assert_eq!((args[1].clone(), outs[0].clone()), (vec![10, 100], vec![0, 10]));
//! # Ok::<(), mxr::Error>(())
//! ```

use std::collections::HashMap;

use mxr_kernels::DType;
use mxr_operators::registry::{OpRef, Shape, ShapeCtx, TypeCtx};

use super::attrs;
use super::node::{self, NodeEntry, NodeRef};
use super::symbol::Symbol;
use crate::{Error, Result};

/// Per-list shapes in MXNet's legacy form: (arguments, outputs, auxiliary states), each in
/// list order ([`Symbol::list_arguments`], [`Symbol::list_outputs`],
/// [`Symbol::list_auxiliary_states`]).
pub type ShapeLists = (Vec<Vec<usize>>, Vec<Vec<usize>>, Vec<Vec<usize>>);

/// Per-list dtypes: (arguments, outputs, auxiliary states).
pub type TypeLists<T> = (Vec<T>, Vec<T>, Vec<T>);

/// A graph attribute being inferred (a shape or a dtype).
trait Inferred: Clone + PartialEq {
    /// The variable attribute that seeds it.
    const KEY: &'static str;
    /// The calling function, for errors.
    const CALL: &'static str;
    fn unknown() -> Self;
    fn is_known(&self) -> bool;
    /// Unknown units: a shape counts its unknown dimensions (1 for an unknown rank).
    fn num_unknown(&self) -> usize;
    fn from_attr(text: &str) -> Option<Self>;
    fn infer(
        op: &OpRef,
        names: &[String],
        ins: &mut [Self],
        outs: &mut [Self],
    ) -> mxr_operators::Result<()>;
    fn describe(&self) -> String;
    /// Whether a value given from outside is acceptable (a shape's element count).
    fn check(&self) -> Result<(), String> {
        Ok(())
    }
}

impl Inferred for Shape {
    const KEY: &'static str = "__shape__";
    const CALL: &'static str = "Symbol::infer_shape";
    fn unknown() -> Shape {
        Shape::unknown()
    }
    fn is_known(&self) -> bool {
        Shape::is_known(self)
    }
    fn num_unknown(&self) -> usize {
        match self.partial_dims() {
            None => 1,
            Some(dims) => dims.iter().filter(|d| d.is_none()).count(),
        }
    }
    fn check(&self) -> Result<(), String> {
        self.check_size()
    }
    fn from_attr(text: &str) -> Option<Shape> {
        attrs::parse_shape_attr(text).map(|s| s.map_or_else(Shape::unknown, Shape::partial))
    }
    fn infer(
        op: &OpRef,
        names: &[String],
        ins: &mut [Shape],
        outs: &mut [Shape],
    ) -> mxr_operators::Result<()> {
        let mut ctx = ShapeCtx::new(op.name(), names, ins, outs);
        ctx.check_sizes()?;
        op.infer_shape(&mut ctx)
    }
    fn describe(&self) -> String {
        format!("{:?}", self.to_legacy())
    }
}

impl Inferred for Option<DType> {
    const KEY: &'static str = "__dtype__";
    const CALL: &'static str = "Symbol::infer_type";
    fn unknown() -> Option<DType> {
        None
    }
    fn is_known(&self) -> bool {
        self.is_some()
    }
    fn num_unknown(&self) -> usize {
        usize::from(self.is_none())
    }
    fn from_attr(text: &str) -> Option<Option<DType>> {
        text.trim()
            .parse()
            .ok()
            .and_then(DType::from_flag)
            .map(Some)
    }
    fn infer(
        op: &OpRef,
        names: &[String],
        ins: &mut [Option<DType>],
        outs: &mut [Option<DType>],
    ) -> mxr_operators::Result<()> {
        op.infer_type(&mut TypeCtx::new(op.name(), names, ins, outs))
    }
    fn describe(&self) -> String {
        self.map_or("None".into(), |d| d.name().to_owned())
    }
}

/// The graph with entry ids (nnvm's `IndexedGraph`).
struct Indexed {
    nodes: Vec<NodeRef>,
    ids: HashMap<usize, usize>,
    row_ptr: Vec<usize>,
}

impl Indexed {
    fn new(symbol: &Symbol) -> Indexed {
        let (nodes, ids) = symbol.indexed_nodes();
        let mut row_ptr = vec![0];
        for n in &nodes {
            row_ptr.push(row_ptr[row_ptr.len() - 1] + n.num_outputs());
        }
        Indexed {
            nodes,
            ids,
            row_ptr,
        }
    }

    fn entry(&self, e: &NodeEntry) -> usize {
        // Every entry's node is in the graph: `nodes` is the closure of the heads' inputs.
        self.row_ptr[self.ids[&node::key(&e.node)]] + e.index
    }
}

/// The result of a run: each entry's value, the graph, and the number of unknown units.
struct Run<T> {
    graph: Indexed,
    values: Vec<T>,
    num_unknown: usize,
}

fn run<T: Inferred>(symbol: &Symbol, known: &[(&str, T)]) -> Result<Run<T>> {
    symbol.check()?;
    let graph = Indexed::new(symbol);
    let total = graph.row_ptr[graph.nodes.len()];
    let mut values = vec![T::unknown(); total];
    for (name, value) in known {
        value.check().map_err(|reason| Error::InvalidArgument {
            call: T::CALL,
            reason: format!("keyword argument `{name}`: {reason}"),
        })?;
        let mut matched = false;
        for (i, n) in graph.nodes.iter().enumerate() {
            if n.is_variable() && n.name() == *name {
                values[graph.row_ptr[i]] = value.clone();
                matched = true;
            }
        }
        if !matched {
            return Err(Error::InvalidArgument {
                call: T::CALL,
                reason: format!(
                    "keyword argument `{name}` names no input; candidate inputs: {}",
                    symbol.list_inputs().join(", ")
                ),
            });
        }
    }
    for (i, n) in graph.nodes.iter().enumerate() {
        let slot = graph.row_ptr[i];
        if !n.is_variable() || values[slot].is_known() {
            continue;
        }
        if let Some(text) = n.read(|s| s.attrs.get(T::KEY).cloned()) {
            values[slot] = T::from_attr(&text).ok_or_else(|| Error::InvalidArgument {
                call: T::CALL,
                reason: format!(
                    "variable `{}`: invalid {} attribute {text:?}",
                    n.name(),
                    T::KEY
                ),
            })?;
            values[slot]
                .check()
                .map_err(|reason| Error::InvalidArgument {
                    call: T::CALL,
                    reason: format!("variable `{}`: {} attribute: {reason}", n.name(), T::KEY),
                })?;
        }
    }
    let mut num_unknown = usize::MAX;
    let mut sweep = 0;
    loop {
        let forward = sweep % 2 == 0;
        for step in 0..graph.nodes.len() {
            let i = if forward {
                step
            } else {
                graph.nodes.len() - 1 - step
            };
            infer_node(&graph, i, &mut values)?;
        }
        let last = num_unknown;
        num_unknown = values.iter().map(T::num_unknown).sum();
        sweep += 1;
        if num_unknown == 0 || num_unknown >= last {
            break;
        }
    }
    Ok(Run {
        graph,
        values,
        num_unknown,
    })
}

fn infer_node<T: Inferred>(graph: &Indexed, i: usize, values: &mut [T]) -> Result<()> {
    let n = &graph.nodes[i];
    let Some(op) = n.op() else { return Ok(()) };
    let in_ids: Vec<usize> = n.inputs.iter().map(|e| graph.entry(e)).collect();
    let out_ids = graph.row_ptr[i]..graph.row_ptr[i + 1];
    let mut ins: Vec<T> = in_ids.iter().map(|&id| values[id].clone()).collect();
    let mut outs: Vec<T> = values[out_ids.clone()].to_vec();
    if ins.iter().chain(&outs).all(T::is_known) {
        return Ok(());
    }
    let names = op.input_names();
    T::infer(&op, &names, &mut ins, &mut outs).map_err(|e| Error::InvalidArgument {
        call: T::CALL,
        reason: format!("error in operator `{}` ({}): {e}", n.name(), op.name()),
    })?;
    for (id, v) in in_ids.into_iter().zip(ins) {
        values[id] = v;
    }
    for (id, v) in out_ids.zip(outs) {
        values[id] = v;
    }
    Ok(())
}

impl<T: Inferred> Run<T> {
    /// (arguments, outputs, auxiliary states) in list order.
    fn lists(&self, symbol: &Symbol) -> TypeLists<T> {
        let (mut args, mut aux) = (Vec::new(), Vec::new());
        for (n, is_aux) in symbol.inputs_with_aux() {
            let v = self.values[self.graph.row_ptr[self.graph.ids[&node::key(&n)]]].clone();
            if is_aux { aux.push(v) } else { args.push(v) }
        }
        let outs = symbol
            .heads
            .iter()
            .map(|e| self.values[self.graph.entry(e)].clone())
            .collect();
        (args, outs, aux)
    }

    /// The error of an incomplete run: the arguments still unknown, or else the first node
    /// with an unknown output.
    fn incomplete(&self) -> Error {
        let mut unknown: Vec<String> = Vec::new();
        for (i, n) in self.graph.nodes.iter().enumerate() {
            let v = &self.values[self.graph.row_ptr[i]];
            if n.is_variable() && !v.is_known() {
                if unknown.len() == 10 {
                    unknown.push("...".into());
                    break;
                }
                unknown.push(format!("{}: {}", n.name(), v.describe()));
            }
        }
        let what = if T::KEY == "__shape__" {
            "shape"
        } else {
            "type"
        };
        let reason = if unknown.is_empty() {
            let node = (0..self.graph.nodes.len())
                .find(|&i| {
                    (self.graph.row_ptr[i]..self.graph.row_ptr[i + 1])
                        .any(|id| !self.values[id].is_known())
                })
                .map_or_else(String::new, |i| self.graph.nodes[i].name());
            format!("cannot decide the {what} of the outputs of node `{node}`")
        } else {
            format!(
                "cannot decide the {what} of these inputs (provide them{}): {}",
                if what == "shape" {
                    "; 0 marks an unknown dimension"
                } else {
                    ""
                },
                unknown.join(", ")
            )
        };
        Error::InvalidArgument {
            call: T::CALL,
            reason,
        }
    }
}

fn legacy(shapes: Vec<Shape>) -> Vec<Vec<usize>> {
    shapes.iter().map(Shape::to_legacy).collect()
}

fn known_shapes(known: &[(&str, &[usize])]) -> Vec<(String, Shape)> {
    known
        .iter()
        .map(|(name, dims)| ((*name).to_owned(), Shape::from_legacy(dims)))
        .collect()
}

impl Symbol {
    /// Infers every argument, output and auxiliary-state shape from the shapes `known` by
    /// variable name (legacy form: a `0` dimension is unknown) and the variables' `__shape__`
    /// attributes. An error when the shapes conflict (naming the operator node, its inputs and
    /// shapes) or when some shape stays unknown (naming the inputs to provide).
    pub fn infer_shape(&self, known: &[(&str, &[usize])]) -> Result<ShapeLists> {
        let known = known_shapes(known);
        let known: Vec<(&str, Shape)> =
            known.iter().map(|(k, s)| (k.as_str(), s.clone())).collect();
        let run = run(self, &known)?;
        if run.num_unknown > 0 {
            return Err(run.incomplete());
        }
        let (args, outs, aux) = run.lists(self);
        Ok((legacy(args), legacy(outs), legacy(aux)))
    }

    /// Like [`Symbol::infer_shape`], but what stays unknown is returned as unknown (`[]` for an
    /// unknown shape, `0` for an unknown dimension) instead of being an error. Conflicts are
    /// still errors.
    pub fn infer_shape_partial(&self, known: &[(&str, &[usize])]) -> Result<ShapeLists> {
        let known = known_shapes(known);
        let known: Vec<(&str, Shape)> =
            known.iter().map(|(k, s)| (k.as_str(), s.clone())).collect();
        let run = run(self, &known)?;
        let (args, outs, aux) = run.lists(self);
        Ok((legacy(args), legacy(outs), legacy(aux)))
    }

    /// Infers every argument, output and auxiliary-state dtype from those `known` by variable
    /// name and the variables' `__dtype__` attributes; an error on a conflict or when some
    /// dtype stays unknown (MXNet assumes none: with nothing known, nothing is inferred).
    ///
    /// ```
    /// use mxr::DType;
    /// use mxr::sym::{Symbol, fully_connected};
    /// let fc = fully_connected(&Symbol::variable("x"), 5).name("fc").build()?;
    /// let (args, outs, _) = fc.infer_type(&[("x", DType::F16)])?;
    /// assert_eq!(args, [DType::F16; 3]);
    /// assert_eq!(outs, [DType::F16]);
    /// assert!(fc.infer_type(&[]).is_err());
    /// # Ok::<(), mxr::Error>(())
    /// ```
    pub fn infer_type(&self, known: &[(&str, DType)]) -> Result<TypeLists<DType>> {
        let known: Vec<(&str, Option<DType>)> = known.iter().map(|(k, d)| (*k, Some(*d))).collect();
        let run = run(self, &known)?;
        if run.num_unknown > 0 {
            return Err(run.incomplete());
        }
        let (args, outs, aux) = run.lists(self);
        let all = |v: Vec<Option<DType>>| v.into_iter().flatten().collect();
        Ok((all(args), all(outs), all(aux)))
    }

    /// Like [`Symbol::infer_type`], with `None` for what stays unknown.
    pub fn infer_type_partial(&self, known: &[(&str, DType)]) -> Result<TypeLists<Option<DType>>> {
        let known: Vec<(&str, Option<DType>)> = known.iter().map(|(k, d)| (*k, Some(*d))).collect();
        Ok(run(self, &known)?.lists(self))
    }
}
