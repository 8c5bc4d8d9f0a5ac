//! Registration and look-up: one [`OpDef`] per operator, collected with `inventory`.

use std::collections::HashMap;
use std::sync::OnceLock;

use super::attrs::ParamSpec;
use super::operator::OpRef;
use crate::{Error, Result};

/// An operator's registration: its names, documentation, parameters and the function that
/// parses an attribute dictionary into a ready [`Operator`](super::Operator).
///
/// Built-in operators register one with `inventory::submit!`:
///
/// ```ignore
/// inventory::submit! {
///     OpDef::new("FullyConnected", "Applies a linear transformation: y = x·Wᵀ + b.",
///                FullyConnectedParam::specs, create_fully_connected)
/// }
/// ```
#[derive(Debug)]
pub struct OpDef {
    /// The canonical MXNet name.
    pub name: &'static str,
    /// Other names that find this operator (`reshape` for `Reshape`).
    pub aliases: &'static [&'static str],
    /// What the operator computes.
    pub description: &'static str,
    /// The parameters with types, defaults and docs.
    pub params: fn() -> Vec<ParamSpec>,
    /// The parameter holding the number of inputs of a variable-arity operator (`num_args`).
    pub key_var_num_args: Option<&'static str>,
    /// Parses the attribute dictionary.
    pub create: fn(&[(&str, &str)]) -> Result<OpRef>,
}

inventory::collect!(OpDef);

impl OpDef {
    /// A registration without aliases or variable arity.
    pub const fn new(
        name: &'static str,
        description: &'static str,
        params: fn() -> Vec<ParamSpec>,
        create: fn(&[(&str, &str)]) -> Result<OpRef>,
    ) -> OpDef {
        OpDef {
            name,
            aliases: &[],
            description,
            params,
            key_var_num_args: None,
            create,
        }
    }

    /// With aliases.
    pub const fn aliases(mut self, aliases: &'static [&'static str]) -> OpDef {
        self.aliases = aliases;
        self
    }

    /// With a variable number of inputs counted by parameter `key`.
    pub const fn var_num_args(mut self, key: &'static str) -> OpDef {
        self.key_var_num_args = Some(key);
        self
    }

    /// Whether the operator is internal (`_backward_*`): listed, but not for users to compose.
    pub fn is_backward(&self) -> bool {
        self.name.starts_with("_backward")
    }

    /// Parses `attrs` into an operator. For a variable-arity operator called with `num_inputs`
    /// inputs, the count parameter is filled in when absent (as MXNet's frontends do).
    pub fn instantiate(&self, attrs: &[(&str, &str)], num_inputs: Option<usize>) -> Result<OpRef> {
        match (self.key_var_num_args, num_inputs) {
            (Some(key), Some(n)) if !attrs.iter().any(|(k, _)| *k == key) => {
                let count = n.to_string();
                let mut filled: Vec<(&str, &str)> = attrs.to_vec();
                filled.push((key, &count));
                (self.create)(&filled)
            }
            _ => (self.create)(attrs),
        }
    }
}

struct Index {
    by_name: HashMap<&'static str, &'static OpDef>,
    sorted: Vec<&'static OpDef>,
    duplicate: Option<&'static str>,
}

fn index() -> &'static Index {
    static INDEX: OnceLock<Index> = OnceLock::new();
    INDEX.get_or_init(|| {
        let mut by_name = HashMap::new();
        let mut duplicate = None;
        let mut sorted: Vec<&'static OpDef> = inventory::iter::<OpDef>.into_iter().collect();
        sorted.sort_by_key(|d| d.name);
        for def in &sorted {
            for name in std::iter::once(&def.name).chain(def.aliases) {
                if by_name.insert(*name, *def).is_some() {
                    duplicate.get_or_insert(*name);
                }
            }
        }
        Index {
            by_name,
            sorted,
            duplicate,
        }
    })
}

/// Finds an operator by MXNet name or alias. An unknown name is an error suggesting similar
/// names.
///
/// ```
/// let copy = mxr_operators::registry::lookup("identity")?; // an alias
/// assert_eq!(copy.name, "_copy");
/// let err = mxr_operators::registry::lookup("_cop").unwrap_err();
/// assert!(err.to_string().contains("did you mean"));
/// # Ok::<(), mxr_operators::Error>(())
/// ```
pub fn lookup(name: &str) -> Result<&'static OpDef> {
    let index = index();
    if let Some(dup) = index.duplicate {
        return Err(Error::DuplicateOp { name: dup.into() });
    }
    index.by_name.get(name).copied().ok_or_else(|| {
        let lower = name.to_lowercase();
        let mut close: Vec<&str> = index
            .by_name
            .keys()
            .copied()
            .filter(|k| {
                let k = k.to_lowercase();
                k.contains(&lower) || lower.contains(&k) || edit_distance(&k, &lower) <= 2
            })
            .collect();
        close.sort_unstable();
        close.truncate(12);
        Error::UnknownOp {
            name: name.into(),
            suggestions: if close.is_empty() {
                format!(
                    "; {} operators are registered (see registry::ops())",
                    index.sorted.len()
                )
            } else {
                format!("; did you mean: {}", close.join(", "))
            },
        }
    })
}

/// Looks `name` up and parses `attrs` (see [`OpDef::instantiate`]).
pub fn create(name: &str, attrs: &[(&str, &str)], num_inputs: Option<usize>) -> Result<OpRef> {
    lookup(name)?.instantiate(attrs, num_inputs)
}

/// Every registered operator, sorted by name.
pub fn ops() -> &'static [&'static OpDef] {
    &index().sorted
}

/// Levenshtein distance, for suggestions.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = if ca == *cb {
                prev
            } else {
                1 + prev.min(cur).min(row[j])
            };
            prev = cur;
        }
    }
    row[b.len()]
}
