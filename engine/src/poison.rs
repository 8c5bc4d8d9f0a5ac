//! Error slots shared along data dependencies (MXNet's `var_exception`, spec/engine.md §7).
//!
//! A failed operation creates one `Poison`; every var it writes, and every var written by an
//! operation that read or wrote a poisoned var, points at the same slot. Observing the error
//! through a wait takes it out of the slot, which clears it for every var sharing it.

use parking_lot::Mutex;

use crate::Error;

/// One stored error, shared by every var it reached.
#[derive(Debug)]
pub(crate) struct Poison {
    error: Mutex<Option<Error>>,
}

impl Poison {
    pub(crate) fn new(error: Error) -> Self {
        Poison {
            error: Mutex::new(Some(error)),
        }
    }

    /// Whether the error is still unobserved.
    pub(crate) fn is_set(&self) -> bool {
        self.error.lock().is_some()
    }

    /// Takes the error out, clearing it for every var that shares this slot.
    pub(crate) fn take(&self) -> Option<Error> {
        self.error.lock().take()
    }
}
