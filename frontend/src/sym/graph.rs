//! The symbol as the executor's graph ([`crate::exec::Graph`]).

use std::collections::HashMap;

use mxr_operators::registry::Entry;

use super::node;
use super::symbol::Symbol;
use crate::Result;
use crate::exec::{Graph, Node};

impl Symbol {
    /// The graph in the executor's form: nodes in traversal order (so variable `i` of
    /// [`Graph::arguments`] is argument `i` of [`Symbol::list_arguments`], and likewise for the
    /// auxiliary states), the symbol's outputs as the graph's outputs. Attributes are not
    /// carried; read them from the symbol.
    ///
    /// ```
    /// use mxr::sym::{Symbol, fully_connected};
    /// let fc = fully_connected(&Symbol::variable("data"), 4).name("fc").build()?;
    /// let g = fc.to_graph()?;
    /// assert_eq!(g.nodes.len(), 4);
    /// let names: Vec<&str> = g.arguments().iter().map(|&i| g.nodes[i].name.as_str()).collect();
    /// assert_eq!(names, fc.list_arguments());
    /// # Ok::<(), mxr::Error>(())
    /// ```
    pub fn to_graph(&self) -> Result<Graph> {
        self.check()?;
        let nodes = self.nodes();
        let ids: HashMap<usize, usize> = nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (node::key(n), i))
            .collect();
        let entry = |e: &node::NodeEntry| Entry {
            node: ids[&node::key(&e.node)],
            output: e.index,
        };
        let mut graph = Graph::default();
        for n in &nodes {
            graph.nodes.push(Node {
                name: n.name(),
                op: n.op(),
                inputs: n.inputs.iter().map(entry).collect(),
            });
        }
        graph.outputs = self.heads.iter().map(entry).collect();
        Ok(graph)
    }
}
