//! Reading MXNet's symbol JSON with serde_json, field by field as MXNet's reader (dmlc's
//! `JSONObjectReadHelper`) takes them: in file order (a repeated field replaces the earlier
//! one; of `attrs` and `attr`, the later wins), unknown fields an error, each value checked as
//! it is read (the error names the field, line and column), and what is built counted against
//! a memory budget (a crafted file costs an error, not the process's memory).
//!
//! dmlc's reader also takes raw control characters inside strings (its writer leaves all but
//! `\r \n \t` raw, so MXNet's own files may hold them); serde_json does not, so they are
//! escaped before parsing (a raw line break inside a string then moves later line numbers).
//! Numbers are JSON's: dmlc's C++ streams also read `00` or `+1`, which no writer produces;
//! here they are an error naming line and column.

use std::borrow::Cow;
use std::cell::Cell;
use std::collections::BTreeMap;
use std::fmt::{self, Display, Write as _};

use serde::de::{
    self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Unexpected, Visitor,
};

/// An input or head: `(node, output index, version)`.
pub(super) type Entry = (usize, usize, u32);

/// One node as the file gives it.
pub(super) struct FileNode {
    pub(super) op: String,
    pub(super) name: String,
    pub(super) inputs: Vec<Entry>,
    /// `attrs` or `attr`, whichever comes later.
    pub(super) attrs: BTreeMap<String, String>,
    /// Files older than 0.9 (`param`): adds to `attrs` without overriding.
    pub(super) param: BTreeMap<String, String>,
    pub(super) control_deps: Vec<usize>,
}

/// A symbol file as read.
pub(super) struct File {
    pub(super) nodes: Vec<FileNode>,
    pub(super) arg_nodes: Vec<usize>,
    pub(super) heads: Vec<Entry>,
    /// `attrs.mxnet_version`; 800 (0.8.0) when absent, as MXNet reads such files.
    pub(super) version: i64,
}

/// Reads `text` as a symbol file, building at most about `budget` bytes (each list item
/// counts twice its size, for the slack of growing lists, and each string its text). Returns
/// the file and what is left of the budget; the error names the field, line and column.
pub(super) fn read(text: &str, budget: usize) -> Result<(File, usize), String> {
    let budget = Budget {
        left: Cell::new(budget),
        limit: budget,
    };
    let text = escape_raw_controls(text, &budget)?;
    let mut de = serde_json::Deserializer::from_str(&text);
    let file = Any(Top(&budget))
        .deserialize(&mut de)
        .and_then(|file| de.end().map(|()| file))
        .map_err(|e| e.to_string())?;
    Ok((file, budget.left.get()))
}

/// `text` with the control characters inside strings written as `\u00XX` escapes (a copy,
/// charged to `budget`, where there are any).
fn escape_raw_controls<'t>(text: &'t str, budget: &Budget) -> Result<Cow<'t, str>, String> {
    let count = raw_controls(text).count();
    if count == 0 {
        return Ok(Cow::Borrowed(text));
    }
    let len = text.len() + 5 * count;
    budget
        .charge::<serde_json::Error>(len)
        .map_err(|e| e.to_string())?;
    let mut out = String::with_capacity(len);
    let mut copied = 0;
    for i in raw_controls(text) {
        // Slicing at ASCII bytes keeps UTF-8 boundaries.
        out.push_str(&text[copied..i]);
        let _ = write!(out, "\\u{:04x}", text.as_bytes()[i]);
        copied = i + 1;
    }
    out.push_str(&text[copied..]);
    Ok(Cow::Owned(out))
}

/// The positions of the control characters inside strings.
fn raw_controls(text: &str) -> impl Iterator<Item = usize> + '_ {
    let (mut in_string, mut escaped) = (false, false);
    text.bytes()
        .enumerate()
        .filter(move |&(_, b)| {
            if !in_string {
                in_string = b == b'"';
            } else if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            } else {
                return b < 0x20;
            }
            false
        })
        .map(|(i, _)| i)
}

/// Reads a value with visitor `V` whatever JSON type comes: another type than the visitor's
/// is its error (`invalid type: …, expected <what it expects>`).
#[derive(Clone, Copy)]
struct Any<V>(V);

impl<'de, V: Visitor<'de>> DeserializeSeed<'de> for Any<V> {
    type Value = V::Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<V::Value, D::Error> {
        d.deserialize_any(self.0)
    }
}

/// Bytes the reader may still build.
struct Budget {
    left: Cell<usize>,
    limit: usize,
}

impl Budget {
    fn charge<E: de::Error>(&self, bytes: usize) -> Result<(), E> {
        match self.left.get().checked_sub(bytes) {
            Some(left) => {
                self.left.set(left);
                Ok(())
            }
            None => Err(E::custom(format_args!(
                "the parsed document would take more than the memory limit of {} bytes",
                self.limit
            ))),
        }
    }
}

/// A string; `what` names it in errors.
struct Str<'b, W> {
    what: W,
    budget: &'b Budget,
}

impl<W: Display> Visitor<'_> for Str<'_, W> {
    type Value = String;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} to be a string", self.what)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        self.budget.charge(v.len() + 2 * size_of::<String>())?;
        Ok(v.to_owned())
    }
}

/// A non-negative integer up to `max`.
#[derive(Clone, Copy)]
struct Int<W> {
    what: W,
    max: u64,
}

impl<W: Display> Visitor<'_> for Int<W> {
    type Value = u64;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} to be a non-negative integer up to {}",
            self.what, self.max
        )
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<u64, E> {
        if v <= self.max {
            Ok(v)
        } else {
            Err(E::invalid_value(Unexpected::Unsigned(v), &self))
        }
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<u64, E> {
        match u64::try_from(v) {
            Ok(v) => self.visit_u64(v),
            Err(_) => Err(E::invalid_value(Unexpected::Signed(v), &self)),
        }
    }
}

/// A node id or output index.
fn index<W>(what: W) -> Int<W> {
    Int {
        what,
        max: usize::MAX as u64,
    }
}

/// `[node, index]` or `[node, index, version]`.
#[derive(Clone, Copy)]
struct EntrySeed<W>(W);

impl<'de, W: Display> Visitor<'de> for EntrySeed<W> {
    type Value = Entry;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} to be [node, index] or [node, index, version]",
            self.0
        )
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Entry, A::Error> {
        let what = &self.0;
        let node = seq.next_element_seed(Any(index(what)))?;
        let output = seq.next_element_seed(Any(index(what)))?;
        let version = seq.next_element_seed(Any(Int {
            what,
            max: u32::MAX.into(),
        }))?;
        let mut len = [node, output, version].iter().flatten().count();
        while seq.next_element::<IgnoredAny>()?.is_some() {
            len += 1;
        }
        match (node, output) {
            // Both fit usize and the version u32: `Int` checked them against their maxima.
            (Some(node), Some(output)) if len <= 3 => {
                Ok((node as usize, output as usize, version.unwrap_or(0) as u32))
            }
            _ => Err(de::Error::invalid_length(len, &self)),
        }
    }
}

/// A list of values read by `item`, each charged twice its size.
#[derive(Clone, Copy)]
struct List<'b, V, W> {
    item: V,
    what: W,
    budget: &'b Budget,
}

impl<'de, V: Visitor<'de> + Copy, W: Display> Visitor<'de> for List<'_, V, W> {
    type Value = Vec<V::Value>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} to be an array", self.what)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::new();
        loop {
            self.budget.charge(2 * size_of::<V::Value>())?;
            match seq.next_element_seed(Any(self.item))? {
                Some(item) => items.push(item),
                None => return Ok(items),
            }
        }
    }
}

/// A string → string object (node attributes).
struct StringMap<'b, W> {
    what: W,
    budget: &'b Budget,
}

impl<'de, W: Display> Visitor<'de> for StringMap<'_, W> {
    type Value = BTreeMap<String, String>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} to be an object of strings", self.what)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = BTreeMap::new();
        let (what, budget) = (&self.what, self.budget);
        while let Some(key) = map.next_key_seed(Any(Str { what, budget }))? {
            let value = map.next_value_seed(Any(Str {
                what: format_args!("{what} value `{key}`"),
                budget,
            }))?;
            // A repeated key: the later value wins, as in MXNet.
            out.insert(key, value);
        }
        Ok(out)
    }
}

/// The object keys of one scope, matched to `fields`; another key is an error naming them.
#[derive(Clone, Copy)]
struct Key<'a, W> {
    what: W,
    fields: &'a [&'static str],
}

impl<W: Display> Visitor<'_> for Key<'_, W> {
    type Value = &'static str;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a field of {}", self.what)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<&'static str, E> {
        self.fields
            .iter()
            .find(|&&f| f == v)
            .copied()
            .ok_or_else(|| {
                E::custom(format_args!(
                    "{}: unknown field `{v}`; the fields are {}",
                    self.what,
                    self.fields.join(", ")
                ))
            })
    }
}

/// The top-level object.
struct Top<'b>(&'b Budget);

const TOP_FIELDS: &[&str] = &["nodes", "arg_nodes", "node_row_ptr", "heads", "attrs"];

impl<'de> Visitor<'de> for Top<'_> {
    type Value = File;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the top level to be an object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<File, A::Error> {
        let budget = self.0;
        let (mut nodes, mut arg_nodes, mut heads, mut version) = (None, None, None, 800);
        let key = Key {
            what: "the top level",
            fields: TOP_FIELDS,
        };
        while let Some(field) = map.next_key_seed(Any(key))? {
            match field {
                "nodes" => nodes = Some(map.next_value_seed(Any(Nodes(budget)))?),
                "arg_nodes" => {
                    let ids = map.next_value_seed(Any(List {
                        item: index("`arg_nodes` item"),
                        what: "`arg_nodes`",
                        budget,
                    }))?;
                    arg_nodes = Some(ids.into_iter().map(|id| id as usize).collect());
                }
                "heads" => {
                    heads = Some(map.next_value_seed(Any(List {
                        item: EntrySeed("head"),
                        what: "`heads`",
                        budget,
                    }))?);
                }
                "node_row_ptr" => {
                    map.next_value_seed(Any(List {
                        item: IgnoredAny,
                        what: "`node_row_ptr`",
                        budget,
                    }))?;
                }
                _ => {
                    if let Some(v) = map.next_value_seed(Any(GraphAttrs))? {
                        version = v;
                    }
                }
            }
        }
        let missing =
            |field: &str| de::Error::custom(format_args!("required field `{field}` is missing"));
        Ok(File {
            nodes: nodes.ok_or_else(|| missing("nodes"))?,
            arg_nodes: arg_nodes.ok_or_else(|| missing("arg_nodes"))?,
            heads: heads.ok_or_else(|| missing("heads"))?,
            version,
        })
    }
}

/// The graph's `attrs`: `mxnet_version` is `["int", n]`; other entries are skipped.
struct GraphAttrs;

impl<'de> Visitor<'de> for GraphAttrs {
    type Value = Option<i64>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("`attrs` to be an object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<i64>, A::Error> {
        let mut version = None;
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            if key == "mxnet_version" {
                version = Some(map.next_value_seed(Any(Version))?);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(version)
    }
}

/// `mxnet_version`: `["int", n]`.
struct Version;

impl<'de> Visitor<'de> for Version {
    type Value = i64;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("`mxnet_version` to be [\"int\", n]")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<i64, A::Error> {
        let kind = seq.next_element::<Cow<'de, str>>()?;
        if kind.as_deref() != Some("int") {
            return Err(de::Error::invalid_value(Unexpected::Seq, &self));
        }
        let version = seq.next_element::<i64>()?;
        match (version, seq.next_element::<IgnoredAny>()?) {
            (Some(v), None) => Ok(v),
            _ => Err(de::Error::invalid_value(Unexpected::Seq, &self)),
        }
    }
}

/// `nodes`: each node read with its position for errors.
struct Nodes<'b>(&'b Budget);

impl<'de> Visitor<'de> for Nodes<'_> {
    type Value = Vec<FileNode>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("`nodes` to be an array")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<FileNode>, A::Error> {
        let mut nodes = Vec::new();
        loop {
            self.0.charge(2 * size_of::<FileNode>())?;
            match seq.next_element_seed(Any(NodeSeed {
                id: nodes.len(),
                budget: self.0,
            }))? {
                Some(node) => nodes.push(node),
                None => return Ok(nodes),
            }
        }
    }
}

struct NodeSeed<'b> {
    id: usize,
    budget: &'b Budget,
}

const NODE_FIELDS: &[&str] = &[
    "op",
    "name",
    "inputs",
    "attrs",
    "attr",
    "param",
    "control_deps",
    "backward_source_id",
    "subgraphs",
];

impl<'de> Visitor<'de> for NodeSeed<'_> {
    type Value = FileNode;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "node {} to be an object", self.id)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<FileNode, A::Error> {
        let (id, budget) = (self.id, self.budget);
        let (mut op, mut name, mut inputs) = (None, None, None);
        let (mut attrs, mut param, mut control_deps) = (BTreeMap::new(), BTreeMap::new(), vec![]);
        let key = Key {
            what: format_args!("node {id}"),
            fields: NODE_FIELDS,
        };
        while let Some(field) = map.next_key_seed(Any(key))? {
            let what = format_args!("node {id} `{field}`");
            match field {
                "op" => op = Some(map.next_value_seed(Any(Str { what, budget }))?),
                "name" => name = Some(map.next_value_seed(Any(Str { what, budget }))?),
                "inputs" => {
                    let item = EntrySeed(format_args!("node {id} input"));
                    inputs = Some(map.next_value_seed(Any(List { item, what, budget }))?);
                }
                "attrs" | "attr" => attrs = map.next_value_seed(Any(StringMap { what, budget }))?,
                "param" => param = map.next_value_seed(Any(StringMap { what, budget }))?,
                "control_deps" => {
                    let item = Int {
                        what: format_args!("node {id} control dependency"),
                        max: usize::MAX as u64,
                    };
                    control_deps = map
                        .next_value_seed(Any(List { item, what, budget }))?
                        .into_iter()
                        .map(|d| d as usize)
                        .collect();
                }
                "backward_source_id" => {
                    map.next_value::<IgnoredAny>()?;
                }
                _ => {
                    return Err(de::Error::custom(format_args!(
                        "node {id}: subgraphs are not supported"
                    )));
                }
            }
        }
        let missing = |field: &str| {
            de::Error::custom(format_args!(
                "node {id}: required field `{field}` is missing"
            ))
        };
        Ok(FileNode {
            op: op.ok_or_else(|| missing("op"))?,
            name: name.ok_or_else(|| missing("name"))?,
            inputs: inputs.ok_or_else(|| missing("inputs"))?,
            attrs,
            param,
            control_deps,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget(bytes: usize) -> Budget {
        Budget {
            left: Cell::new(bytes),
            limit: bytes,
        }
    }

    #[test]
    fn escapes_raw_controls_inside_strings_only() {
        let text = "{\n\t\"a\": 1}";
        assert!(matches!(
            escape_raw_controls(text, &budget(0)),
            Ok(Cow::Borrowed(_))
        ));
        let text = "{\t\"a\tb\\\"\u{1}\": \"\\\\\n\"}";
        let b = budget(1 << 20);
        assert_eq!(
            escape_raw_controls(text, &b).unwrap(),
            "{\t\"a\\u0009b\\\"\\u0001\": \"\\\\\\u000a\"}"
        );
        assert_eq!(b.left.get(), (1 << 20) - text.len() - 15);
        let e = escape_raw_controls(text, &budget(text.len() + 14)).unwrap_err();
        assert!(e.contains("memory limit"), "{e}");
    }
}
