//! Symbol JSON as the tests compare it.

use serde_json::{Value, json};

/// A compact view of a symbol's JSON graph, for comparing graphs by structure: per node
/// `[op, name, attrs, inputs]` (attrs `{}` when absent), then `arg_nodes`, `node_row_ptr` and
/// `heads`.
///
/// # Panics
/// When `text` is not JSON or has no `nodes` array (the test fails).
pub fn compact_graph(text: &str) -> Value {
    let v: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
    let Some(nodes) = v["nodes"].as_array() else {
        panic!("a symbol JSON without a `nodes` array: {text}");
    };
    let nodes: Vec<Value> = nodes
        .iter()
        .map(|n| {
            json!([
                n["op"],
                n["name"],
                n.get("attrs").cloned().unwrap_or(json!({})),
                n["inputs"]
            ])
        })
        .collect();
    json!([nodes, v["arg_nodes"], v["node_row_ptr"], v["heads"]])
}
