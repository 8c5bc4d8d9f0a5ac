//! Block names as Gluon gives them (`mxnet/gluon/block.py`, `_BlockScope.create`).
//!
//! A block made outside any [`name_scope`] takes a prefix from the thread's symbol
//! [`NameManager`] counter for its class hint (`dense0_`, `dense1_`, `hybridsequential0_`),
//! shared with the automatic names of symbols as in MXNet. A block made inside a parent's
//! [`name_scope`] counts per hint in that parent and is prefixed by the parent's prefix
//! (`hybridsequential0_dense0_`). A given prefix is used as is outside scopes and after the
//! parent's prefix inside one (`dense0_` + `relu_`).

use std::cell::RefCell;
use std::collections::HashMap;

use mxr_frontend::sym::NameManager;

thread_local! {
    /// The prefixes of the scopes entered, innermost last.
    static SCOPES: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
    /// Per parent prefix, the counters of its children's hints (Python keeps them in the
    /// parent's `_BlockScope`, so they continue across entries of one parent's scope).
    static COUNTERS: RefCell<HashMap<String, HashMap<String, usize>>> =
        RefCell::new(HashMap::new());
}

/// The prefix of a new block with class `hint` (`dense`) or given `prefix`.
pub(crate) fn block_prefix(prefix: Option<&str>, hint: &str) -> String {
    let parent = SCOPES.with(|s| s.borrow().last().cloned());
    match (parent, prefix) {
        (None, Some(p)) => p.to_owned(),
        (None, None) => format!("{}_", NameManager::get(None, hint)),
        (Some(parent), Some(p)) => format!("{parent}{p}"),
        (Some(parent), None) => COUNTERS.with(|c| {
            let mut counters = c.borrow_mut();
            let n = counters
                .entry(parent.clone())
                .or_default()
                .entry(hint.to_owned())
                .or_insert(0);
            let name = format!("{parent}{hint}{n}_");
            *n += 1;
            name
        }),
    }
}

/// Runs `f` with blocks created in it named as children of the block with `prefix`
/// (Gluon's `with block.name_scope():`); the counters of a parent continue from one entry of
/// its scope to the next, as in Python.
///
/// ```
/// use mxr::gluon::{naming::name_scope, nn::Dense, Block};
/// let d = name_scope("net0_", || Dense::new(4));
/// assert_eq!(d.prefix(), "net0_dense0_");
/// ```
pub fn name_scope<T>(prefix: &str, f: impl FnOnce() -> T) -> T {
    SCOPES.with(|s| s.borrow_mut().push(prefix.to_owned()));
    struct Pop;
    impl Drop for Pop {
        fn drop(&mut self) {
            SCOPES.with(|s| s.borrow_mut().pop());
        }
    }
    let _pop = Pop;
    f()
}
