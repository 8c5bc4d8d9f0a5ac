//! From a symbol to an executor: the graph in MXNet's traversal order, and `bind` /
//! `simple_bind` (MXNet's `Symbol.bind` / `Symbol.simple_bind`).

use std::collections::HashMap;

use mxr_engine::Context;
use mxr_operators::registry::Entry;

use super::symbol::Symbol;
use super::{attrs, node};
use crate::exec::{Executor, GradReq, Graph};
use crate::nd::NDArray;
use crate::{Error, Result};

impl Symbol {
    /// The executor's graph of this symbol: its nodes in traversal order (so
    /// [`Graph::arguments`] lists what [`Symbol::list_arguments`] lists) and its outputs.
    ///
    /// ```
    /// use mxr::sym::{self, Symbol};
    /// let data = Symbol::variable("data");
    /// let fc = sym::fully_connected(&data, 10).name("fc1").build()?;
    /// let g = fc.to_graph()?;
    /// let names: Vec<&str> = g.arguments().iter().map(|&n| g.nodes[n].name.as_str()).collect();
    /// assert_eq!(names, fc.list_arguments());
    /// # Ok::<(), mxr::Error>(())
    /// ```
    pub fn to_graph(&self) -> Result<Graph> {
        let symbol = self.check()?;
        let mut graph = Graph::default();
        let mut index: HashMap<usize, usize> = HashMap::new();
        for n in symbol.nodes() {
            let entry =
                |e: &super::node::NodeEntry, index: &HashMap<usize, usize>| -> Result<Entry> {
                    let node =
                        *index
                            .get(&node::key(&e.node))
                            .ok_or_else(|| Error::InvalidArgument {
                                call: "Symbol::to_graph",
                                reason: format!("node {} reads a node outside the graph", n.name()),
                            })?;
                    Ok(Entry {
                        node,
                        output: e.index,
                    })
                };
            let id = match n.op() {
                None => graph.variable(&n.name()).node,
                Some(op) => {
                    let inputs: Vec<Entry> = n
                        .inputs
                        .iter()
                        .map(|e| entry(e, &index))
                        .collect::<Result<_>>()?;
                    graph.add(op, &n.name(), &inputs)?;
                    graph.nodes.len() - 1
                }
            };
            index.insert(node::key(&n), id);
        }
        for head in &symbol.heads {
            let node =
                *index
                    .get(&node::key(&head.node))
                    .ok_or_else(|| Error::InvalidArgument {
                        call: "Symbol::to_graph",
                        reason: "an output outside the graph".into(),
                    })?;
            graph.outputs.push(Entry {
                node,
                output: head.index,
            });
        }
        Ok(graph)
    }

    /// Binds with every array allocated from the given shapes (MXNet's `simple_bind`):
    /// `shapes` names some arguments (typically data and label), the variables' fully known
    /// `__shape__` attributes give others (as MXNet's shape inference reads them), the rest is
    /// inferred; `req` applies to every argument except those in `no_grad`.
    pub fn simple_bind(
        &self,
        context: Context,
        shapes: &[(&str, &[usize])],
        req: GradReq,
        no_grad: &[&str],
    ) -> Result<Executor> {
        let hinted = self.shape_hints(shapes);
        let mut all = shapes.to_vec();
        all.extend(hinted.iter().map(|(n, d)| (n.as_str(), d.as_slice())));
        Executor::simple_bind(&self.to_graph()?, context, &all, req, no_grad)
    }

    /// The inputs not named in `given` whose `__shape__` attribute is fully known, with it.
    fn shape_hints(&self, given: &[(&str, &[usize])]) -> Vec<(String, Vec<usize>)> {
        let dict = self.attr_dict();
        self.list_inputs()
            .into_iter()
            .filter(|n| given.iter().all(|(g, _)| g != n))
            .filter_map(|n| {
                let text = dict.get(&n)?.get("__shape__")?;
                let dims = attrs::parse_shape_attr(text)??;
                let dims = dims.into_iter().collect::<Option<Vec<usize>>>()?;
                Some((n, dims))
            })
            .collect()
    }

    /// Binds to given arrays (MXNet's `bind`): `args` in [`Symbol::list_arguments`] order,
    /// one gradient array (or `None`) and one request per argument, `aux` in
    /// [`Symbol::list_auxiliary_states`] order.
    pub fn bind(
        &self,
        context: Context,
        args: Vec<NDArray>,
        grads: Vec<Option<NDArray>>,
        reqs: &[GradReq],
        aux: Vec<NDArray>,
    ) -> Result<Executor> {
        Executor::bind(&self.to_graph()?, context, args, grads, reqs, aux)
    }
}
