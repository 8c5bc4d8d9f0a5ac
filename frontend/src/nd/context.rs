//! The default context for arrays created without one (MXNet's `with mx.Context(...)`).

use std::cell::RefCell;

use mxr_engine::Context;

thread_local! {
    static SCOPES: RefCell<Vec<Context>> = const { RefCell::new(Vec::new()) };
}

/// The context arrays are created on when none is given: the innermost [`context_scope`] of
/// this thread, or `cpu(0)`.
pub fn current_context() -> Context {
    SCOPES.with(|s| s.borrow().last().copied().unwrap_or_default())
}

/// Makes `context` the default for arrays created on this thread until the guard is dropped.
///
/// ```
/// use mxr::engine::Context;
/// use mxr::nd::{context_scope, current_context};
/// {
///     let _scope = context_scope(Context::cpu(1));
///     assert_eq!(current_context(), Context::cpu(1));
/// }
/// assert_eq!(current_context(), Context::cpu(0));
/// ```
pub fn context_scope(context: Context) -> ContextScope {
    SCOPES.with(|s| s.borrow_mut().push(context));
    ContextScope {
        _not_send: std::marker::PhantomData,
    }
}

/// Restores the previous default context when dropped. Not `Send`: the scope belongs to the
/// thread that opened it.
#[derive(Debug)]
pub struct ContextScope {
    _not_send: std::marker::PhantomData<*const ()>,
}

impl Drop for ContextScope {
    fn drop(&mut self) {
        SCOPES.with(|s| s.borrow_mut().pop());
    }
}
