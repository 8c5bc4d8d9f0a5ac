//! Small blocking primitives built on parking_lot.

use parking_lot::{Condvar, Mutex};

/// A one-shot latch: `set` once, `wait` until set.
#[derive(Debug, Default)]
pub(crate) struct Latch {
    set: Mutex<bool>,
    cv: Condvar,
}

impl Latch {
    pub(crate) fn set(&self) {
        let mut set = self.set.lock();
        *set = true;
        self.cv.notify_all();
    }

    pub(crate) fn wait(&self) {
        let mut set = self.set.lock();
        while !*set {
            self.cv.wait(&mut set);
        }
    }
}
