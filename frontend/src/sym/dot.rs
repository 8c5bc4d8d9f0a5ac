//! Graphviz output, in the style of MXNet's `mx.viz.plot_network`.

use std::fmt::Write as _;

use super::node;
use super::symbol::Symbol;

/// Variable names `plot_network` treats as parameters (hidden with `hide_weights`).
const WEIGHT_SUFFIXES: [&str; 8] = [
    "_weight",
    "_bias",
    "_beta",
    "_gamma",
    "_moving_var",
    "_moving_mean",
    "_running_var",
    "_running_mean",
];

/// plot_network's colour map.
const COLORS: [&str; 8] = [
    "#8dd3c7", "#fb8072", "#ffffb3", "#bebada", "#80b1d3", "#fdb462", "#b3de69", "#fccde5",
];

fn quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `(3, 3)` → `3x3`.
fn tuple_x(text: &str) -> String {
    text.split(',')
        .map(|d| d.trim_matches(|c| "()[] ".contains(c)))
        .filter(|d| !d.is_empty())
        .collect::<Vec<_>>()
        .join("x")
}

impl Symbol {
    /// The graph in Graphviz's DOT language, drawn like MXNet's `mx.viz.plot_network`: one box
    /// per operator (labelled with its type and main parameters, coloured by kind), one oval
    /// per variable, and an edge from each node to each of its inputs (`dir=back`, so arrows
    /// point along the data flow). Nodes are identified by their position in traversal order.
    /// With `hide_weights`, parameter variables (`*_weight`, `*_bias`, `*_gamma`, ...) and
    /// their edges are left out, as `plot_network` does by default.
    ///
    /// ```
    /// use mxr::sym::{Symbol, fully_connected};
    /// let fc = fully_connected(&Symbol::variable("data"), 10).name("fc1").build()?;
    /// let dot = fc.to_dot("plot", true);
    /// assert!(dot.starts_with("digraph plot {"));
    /// assert!(dot.contains("n3 [label=\"FullyConnected\\n10\""));
    /// assert!(dot.contains("n3 -> n0 [arrowtail=open, dir=back, label=\"\"]"));
    /// assert!(!dot.contains("fc1_weight"));
    /// # Ok::<(), mxr::Error>(())
    /// ```
    pub fn to_dot(&self, title: &str, hide_weights: bool) -> String {
        let (nodes, ids) = self.indexed_nodes();
        let mut hidden = vec![false; nodes.len()];
        let mut out = format!("digraph {} {{\n", quote_id(title));
        out.push_str(
            "\tnode [fixedsize=true, height=0.8034, shape=box, style=filled, width=1.3]\n",
        );
        for (i, n) in nodes.iter().enumerate() {
            let (name, attrs) = n.read(|s| (s.name.clone(), s.attrs.clone()));
            let get = |k: &str| attrs.get(k).map(String::as_str);
            let (label, color, shape) = match n.def.map(|d| d.name) {
                None => {
                    let weight = WEIGHT_SUFFIXES.iter().any(|s| name.ends_with(s));
                    if weight && hide_weights {
                        hidden[i] = true;
                        continue;
                    }
                    (name.clone(), COLORS[0], "oval")
                }
                Some("Convolution") => (
                    format!(
                        "Convolution\n{}/{}, {}",
                        get("kernel").map_or_else(String::new, tuple_x),
                        get("stride").map_or_else(|| "1".into(), tuple_x),
                        get("num_filter").unwrap_or("")
                    ),
                    COLORS[1],
                    "box",
                ),
                Some("FullyConnected") => (
                    format!("FullyConnected\n{}", get("num_hidden").unwrap_or("")),
                    COLORS[1],
                    "box",
                ),
                Some("BatchNorm") => (name.clone(), COLORS[3], "box"),
                Some("Activation") => (
                    format!("Activation\n{}", get("act_type").unwrap_or("")),
                    COLORS[2],
                    "box",
                ),
                Some("LeakyReLU") => (
                    format!("LeakyReLU\n{}", get("act_type").unwrap_or("leaky")),
                    COLORS[2],
                    "box",
                ),
                Some("Pooling") => (
                    format!(
                        "Pooling\n{}, {}/{}",
                        get("pool_type").unwrap_or("max"),
                        get("kernel").map_or_else(|| "[]".into(), tuple_x),
                        get("stride").map_or_else(|| "1".into(), tuple_x)
                    ),
                    COLORS[4],
                    "box",
                ),
                Some("Concat" | "Flatten" | "Reshape") => (name.clone(), COLORS[5], "box"),
                Some(_) => (name.clone(), COLORS[7], "box"),
            };
            let _ = writeln!(
                out,
                "\tn{i} [label={}, fillcolor={}, shape={shape}, tooltip={}]",
                quote(&label),
                quote(color),
                quote(&name)
            );
        }
        for (i, n) in nodes.iter().enumerate() {
            if n.is_variable() {
                continue;
            }
            for e in &n.inputs {
                let src = ids[&node::key(&e.node)];
                if !hidden[src] {
                    let _ = writeln!(
                        out,
                        "\tn{i} -> n{src} [arrowtail=open, dir=back, label=\"\"]"
                    );
                }
            }
        }
        out.push_str("}\n");
        out
    }
}

/// A DOT identifier: bare when alphanumeric, else quoted.
fn quote_id(s: &str) -> String {
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        s.to_owned()
    } else {
        quote(s)
    }
}
