//! Registration and look-up: one [`OpDef`] per operator. Built-in operators are collected with
//! `inventory` into an index built once; operators from plugins are added at run time with
//! [`register`] into a second, lock-guarded map that look-up consults only when a name is not
//! built in, so built-in look-up stays one hash probe without a lock.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Once, OnceLock};

use parking_lot::RwLock;

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
///
/// Operators known only at run time (plugins) are made with [`OpDef::dynamic`] and added
/// with [`register`].
#[derive(Debug)]
pub struct OpDef {
    /// The canonical MXNet name.
    pub name: &'static str,
    /// Other names that find this operator (`reshape` for `Reshape`).
    pub aliases: &'static [&'static str],
    /// What the operator computes.
    pub description: &'static str,
    /// The parameter holding the number of inputs of a variable-arity operator (`num_args`).
    pub key_var_num_args: Option<&'static str>,
    /// Whether the operator declares a gradient (see [`OpDef::no_gradient`]).
    gradient: bool,
    factory: Factory,
}

/// How an [`OpDef`] lists its parameters and parses attributes.
#[derive(Debug, Clone, Copy)]
enum Factory {
    /// Plain functions (built-in operators).
    Static {
        params: fn() -> Vec<ParamSpec>,
        create: fn(&[(&str, &str)]) -> Result<OpRef>,
    },
    /// An object registered at run time (a plugin's operator).
    Dynamic(&'static dyn OpFactory),
}

/// The parameter listing and attribute parser of an operator registered at run time (see
/// [`OpDef::dynamic`]); it may hold state, such as the plugin library the operator comes from.
pub trait OpFactory: Send + Sync + fmt::Debug {
    /// The parameters with types, defaults and docs.
    fn params(&self) -> Vec<ParamSpec>;

    /// Parses the attribute dictionary into an operator.
    fn create(&self, attrs: &[(&str, &str)]) -> Result<OpRef>;
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
        OpDef::with_factory(name, description, Factory::Static { params, create })
    }

    /// A registration made at run time: `factory` lists the parameters and creates the
    /// operator. Registered definitions live for the rest of the process, hence the `'static`
    /// borrows (a plugin loader leaks what it builds once per operator).
    pub const fn dynamic(
        name: &'static str,
        description: &'static str,
        factory: &'static dyn OpFactory,
    ) -> OpDef {
        OpDef::with_factory(name, description, Factory::Dynamic(factory))
    }

    /// A registration of `factory` without aliases or variable arity.
    const fn with_factory(
        name: &'static str,
        description: &'static str,
        factory: Factory,
    ) -> OpDef {
        OpDef {
            name,
            aliases: &[],
            description,
            key_var_num_args: None,
            gradient: true,
            factory,
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

    /// Declares that the operator has no gradient (MXNet: registered without `FGradient`, such
    /// as the optimizer updates): its [`Operator::gradient`](super::Operator::gradient) returns
    /// [`Error::Unsupported`], and a graph differentiating through it fails. Every other
    /// operator promises a gradient (the operator property tests hold it to that).
    pub const fn no_gradient(mut self) -> OpDef {
        self.gradient = false;
        self
    }

    /// Whether the operator declares a gradient: every operator but those registered with
    /// [`OpDef::no_gradient`] and the internal backward operators (`_backward_*`, MXNet's
    /// `TIsBackward`).
    pub fn has_gradient(&self) -> bool {
        self.gradient && !self.is_backward()
    }

    /// Whether the operator is internal (`_backward_*`): listed, but not for users to compose.
    pub fn is_backward(&self) -> bool {
        self.name.starts_with("_backward")
    }

    /// Whether the operator was registered at run time (by a plugin) rather than built in.
    pub fn is_dynamic(&self) -> bool {
        matches!(self.factory, Factory::Dynamic(_))
    }

    /// The parameters with their types, defaults and docs.
    pub fn params(&self) -> Vec<ParamSpec> {
        match self.factory {
            Factory::Static { params, .. } => params(),
            Factory::Dynamic(f) => f.params(),
        }
    }

    /// Parses `attrs` into an operator, without filling in a variable-arity count (see
    /// [`OpDef::instantiate`]).
    pub fn create(&self, attrs: &[(&str, &str)]) -> Result<OpRef> {
        match self.factory {
            Factory::Static { create, .. } => create(attrs),
            Factory::Dynamic(f) => f.create(attrs),
        }
    }

    /// Parses `attrs` into an operator. For a variable-arity operator called with `num_inputs`
    /// inputs, the count parameter is filled in when absent (as MXNet's frontends do).
    pub fn instantiate(&self, attrs: &[(&str, &str)], num_inputs: Option<usize>) -> Result<OpRef> {
        match (self.key_var_num_args, num_inputs) {
            (Some(key), Some(n)) if !attrs.iter().any(|(k, _)| *k == key) => {
                let count = n.to_string();
                let mut filled: Vec<(&str, &str)> = attrs.to_vec();
                filled.push((key, &count));
                self.create(&filled)
            }
            _ => self.create(attrs),
        }
    }

    /// Every name that finds this operator: the canonical one, then the aliases.
    fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        std::iter::once(self.name).chain(self.aliases.iter().copied())
    }
}

/// A function that registers operators late, run once before the first look-up of a name
/// that is not built in (and before [`ops`] lists operators). The `mxr` frontend submits one
/// that loads the plugins named by `MXR_PLUGINS`:
///
/// ```ignore
/// inventory::submit! { mxr_operators::registry::LateRegistration(load_env_plugins) }
/// ```
#[derive(Debug)]
pub struct LateRegistration(pub fn());

inventory::collect!(LateRegistration);

/// Runs every [`LateRegistration`] once per process; other threads wait for it to finish. A
/// look-up made by a late registration itself (same thread) sees what is registered so far
/// instead of waiting for itself.
fn run_late_registrations() {
    thread_local! {
        static RUNNING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    }
    /// Clears the flag however the registrations end.
    struct Running;
    impl Drop for Running {
        fn drop(&mut self) {
            RUNNING.with(|r| r.set(false));
        }
    }
    static LATE: Once = Once::new();
    if RUNNING.with(std::cell::Cell::get) {
        return;
    }
    LATE.call_once(|| {
        RUNNING.with(|r| r.set(true));
        let _running = Running;
        for late in inventory::iter::<LateRegistration> {
            (late.0)();
        }
    });
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
            for name in def.names() {
                if by_name.insert(name, *def).is_some() {
                    duplicate.get_or_insert(name);
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

/// Operators registered at run time: every name and alias, with where it came from.
#[derive(Default)]
struct Dynamic {
    by_name: HashMap<&'static str, (&'static OpDef, String)>,
    defs: Vec<&'static OpDef>,
}

fn dynamic() -> &'static RwLock<Dynamic> {
    static DYNAMIC: OnceLock<RwLock<Dynamic>> = OnceLock::new();
    DYNAMIC.get_or_init(RwLock::default)
}

fn dynamic_lookup(name: &str) -> Option<&'static OpDef> {
    let map = dynamic().read();
    map.by_name.get(name).map(|(def, _)| *def)
}

/// Registers operators at run time (a plugin's operators, all at once): either every one of
/// `defs` is registered, or none is. A name or alias that is built in, already registered at
/// run time, or given twice in `defs` is an [`Error::NameTaken`] naming who holds it. `origin`
/// says where the operators come from (a plugin's path), for later errors and listings.
/// Returns the registered definitions, which live for the rest of the process. Refused
/// definitions are dropped before the error returns: the registry keeps no reference to them,
/// nor to their factories (which the caller may then free).
///
/// ```
/// use std::sync::Arc;
/// use mxr_operators::registry::{self, OpDef, OpFactory, OpRef};
/// use mxr_operators::registry::attrs::ParamSpec;
///
/// #[derive(Debug)]
/// struct CopyFactory;
/// impl OpFactory for CopyFactory {
///     fn params(&self) -> Vec<ParamSpec> { Vec::new() }
///     fn create(&self, attrs: &[(&str, &str)]) -> mxr_operators::Result<OpRef> {
///         registry::create("_copy", attrs, None)
///     }
/// }
/// let def = OpDef::dynamic("doc_example_copy", "A copy, registered at run time.", &CopyFactory);
/// registry::register(vec![def], "the doc example")?;
/// assert!(registry::lookup("doc_example_copy")?.is_dynamic());
/// // A built-in name cannot be taken.
/// let clash = OpDef::dynamic("Activation", "", &CopyFactory);
/// let err = registry::register(vec![clash], "the doc example").unwrap_err();
/// assert_eq!(err.to_string(),
///     "cannot register operator `Activation` from the doc example: the name is taken by a built-in operator");
/// # Ok::<(), mxr_operators::Error>(())
/// ```
pub fn register(defs: Vec<OpDef>, origin: &str) -> Result<Vec<&'static OpDef>> {
    let builtin = index();
    let mut map = dynamic().write();
    let taken = |name: &str, by: String| Error::NameTaken {
        name: name.to_string(),
        origin: origin.to_string(),
        by,
    };
    let mut batch = std::collections::HashSet::new();
    for def in &defs {
        for name in def.names() {
            if builtin.by_name.contains_key(name) {
                return Err(taken(name, "a built-in operator".into()));
            }
            if let Some((_, by)) = map.by_name.get(name) {
                return Err(taken(name, format!("an operator from {by}")));
            }
            if !batch.insert(name) {
                return Err(taken(name, "another operator registered with it".into()));
            }
        }
    }
    let mut registered = Vec::with_capacity(defs.len());
    for def in defs {
        let def: &'static OpDef = Box::leak(Box::new(def));
        for name in def.names() {
            map.by_name.insert(name, (def, origin.to_string()));
        }
        map.defs.push(def);
        registered.push(def);
    }
    Ok(registered)
}

/// Where an operator registered at run time comes from (the `origin` given to [`register`]);
/// `None` for a built-in or unknown name.
pub fn origin(name: &str) -> Option<String> {
    let map = dynamic().read();
    map.by_name.get(name).map(|(_, origin)| origin.clone())
}

/// Finds an operator by MXNet name or alias: built-in operators first, then those registered
/// at run time. An unknown name is an error suggesting similar names.
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
    if let Some(def) = index.by_name.get(name) {
        return Ok(def);
    }
    if let Some(def) = dynamic_lookup(name) {
        return Ok(def);
    }
    run_late_registrations();
    if let Some(def) = dynamic_lookup(name) {
        return Ok(def);
    }
    let lower = name.to_lowercase();
    let all = ops();
    let mut close: Vec<&str> = all
        .iter()
        .flat_map(|d| d.names())
        .filter(|k| {
            let k = k.to_lowercase();
            k.contains(&lower) || lower.contains(&k) || edit_distance(&k, &lower) <= 2
        })
        .collect();
    close.sort_unstable();
    close.truncate(12);
    Err(Error::UnknownOp {
        name: name.into(),
        suggestions: if close.is_empty() {
            format!(
                "; {} operators are registered (see registry::ops())",
                all.len()
            )
        } else {
            format!("; did you mean: {}", close.join(", "))
        },
    })
}

/// Looks `name` up and parses `attrs` (see [`OpDef::instantiate`]).
pub fn create(name: &str, attrs: &[(&str, &str)], num_inputs: Option<usize>) -> Result<OpRef> {
    lookup(name)?.instantiate(attrs, num_inputs)
}

/// Every registered operator, built in or registered at run time, sorted by name.
pub fn ops() -> Vec<&'static OpDef> {
    run_late_registrations();
    let mut all = index().sorted.clone();
    let dynamic = dynamic().read();
    if !dynamic.defs.is_empty() {
        all.extend(dynamic.defs.iter());
        all.sort_by_key(|d| d.name);
    }
    all
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
