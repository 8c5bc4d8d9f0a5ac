//! Automatic names (MXNet's `mx.name.NameManager` and `mx.name.Prefix`).
//!
//! Each thread has a current manager. An operator created without a name (or with an empty one)
//! is called `<hint><n>`: the hint is the lower-cased name the operator was called by
//! (`FullyConnected` → `fullyconnected0`, `split` → `split0`, `SliceChannel` →
//! `slicechannel0`; `+` with a scalar → `_plusscalar0`) and `n` counts per hint from 0.
//! Counters live as long as the manager: [`NameManager::scope`] installs a fresh one until its
//! guard drops (Python's `with mx.name.NameManager():`); [`NameManager::prefix`] installs a fresh
//! one that also prefixes every operator name it hands out, given ones included (Python's
//! `with mx.name.Prefix('net_'):`). Variables are never renamed.
//!
//! ```
//! use mxr::sym::{NameManager, Symbol};
//! let _names = NameManager::scope(); // fresh counters until the end of the block
//! let x = Symbol::variable("x");
//! assert_eq!((&x + 1).name().as_deref(), Some("_plusscalar0"));
//! assert_eq!((&x + 1).name().as_deref(), Some("_plusscalar1"));
//! {
//!     let _net = NameManager::prefix("net_");
//!     assert_eq!((&x * 2).name().as_deref(), Some("net__mulscalar0"));
//! }
//! assert_eq!((&x * 2).name().as_deref(), Some("_mulscalar0"));
//! ```

use std::cell::RefCell;
use std::collections::HashMap;
use std::marker::PhantomData;

#[derive(Debug, Clone, Default)]
struct Manager {
    prefix: String,
    counters: HashMap<String, usize>,
}

thread_local! {
    static CURRENT: RefCell<Manager> = RefCell::new(Manager::default());
}

/// A naming scope: while the guard lives, this thread's operators are named by a fresh manager
/// (new counters, optionally a prefix); dropping it restores the previous manager with its
/// counters. Not `Send`: the scope belongs to the thread that opened it.
#[derive(Debug)]
#[must_use = "the scope ends when the guard is dropped; bind it with `let _names = ...`"]
pub struct NameManager {
    previous: Option<Manager>,
    _not_send: PhantomData<*const ()>,
}

impl NameManager {
    /// Installs a fresh manager (counters from 0) until the guard drops: MXNet's
    /// `with mx.name.NameManager():`.
    pub fn scope() -> NameManager {
        NameManager::install(Manager::default())
    }

    /// Installs a fresh manager that prefixes every operator name with `prefix`, user-given
    /// names included (`fc` → `net_fc`, so its weight is `net_fc_weight`): MXNet's
    /// `with mx.name.Prefix(prefix):`.
    pub fn prefix(prefix: &str) -> NameManager {
        NameManager::install(Manager {
            prefix: prefix.to_owned(),
            counters: HashMap::new(),
        })
    }

    fn install(manager: Manager) -> NameManager {
        let previous = CURRENT.with(|c| c.replace(manager));
        NameManager {
            previous: Some(previous),
            _not_send: PhantomData,
        }
    }

    /// The name the current manager gives an operator: `name` itself when given and non-empty,
    /// else `<hint><counter>` (the hint's counter then increments); with the current prefix in
    /// front either way.
    ///
    /// ```
    /// use mxr::sym::NameManager;
    /// let _names = NameManager::scope();
    /// assert_eq!(NameManager::get(None, "concat"), "concat0");
    /// assert_eq!(NameManager::get(Some(""), "concat"), "concat1");
    /// assert_eq!(NameManager::get(Some("c"), "concat"), "c");
    /// ```
    pub fn get(name: Option<&str>, hint: &str) -> String {
        CURRENT.with(|c| {
            let mut manager = c.borrow_mut();
            let base = match name {
                Some(name) if !name.is_empty() => name.to_owned(),
                _ => {
                    let counter = manager.counters.entry(hint.to_owned()).or_insert(0);
                    let name = format!("{hint}{counter}");
                    *counter += 1;
                    name
                }
            };
            format!("{}{base}", manager.prefix)
        })
    }
}

impl Drop for NameManager {
    fn drop(&mut self) {
        if let Some(previous) = self.previous.take() {
            CURRENT.with(|c| *c.borrow_mut() = previous);
        }
    }
}
