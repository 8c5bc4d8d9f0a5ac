//! Opaque handles: slots of a table with generation counters.
//!
//! A handle is a number, never a pointer: bits 56-63 hold the table's tag (so a handle of one
//! kind passed where another is expected is rejected), bits 32-55 the slot's index and bits
//! 0-31 the slot's generation, which starts at 1 (no handle is null) and grows each time the slot
//! is freed. Looking a handle up checks all three, so a freed handle, one whose slot was reused,
//! or a forged one is an error rather than undefined behaviour.

use std::ffi::c_void;
use std::sync::Arc;

use parking_lot::Mutex;

use crate::boundary::{Error, Result};

const _: () = assert!(
    usize::BITS == 64,
    "handles pack a tag, an index and a generation"
);

/// The most slots one table holds (24 bits of index).
const MAX_SLOTS: usize = 1 << 24;

/// One slot: its current generation and, while allocated, its value.
#[derive(Debug)]
struct Slot<T> {
    generation: u32,
    value: Option<Arc<T>>,
}

/// The slots and the indices of the free ones.
#[derive(Debug)]
struct Slots<T> {
    slots: Vec<Slot<T>>,
    free: Vec<usize>,
}

/// A table of handles to values of one kind.
#[derive(Debug)]
pub(crate) struct HandleTable<T> {
    tag: u8,
    kind: &'static str,
    inner: Mutex<Slots<T>>,
}

impl<T> HandleTable<T> {
    /// An empty table whose handles carry `tag` (distinct per table) and are called `kind`
    /// in errors.
    pub(crate) const fn new(tag: u8, kind: &'static str) -> Self {
        HandleTable {
            tag,
            kind,
            inner: Mutex::new(Slots {
                slots: Vec::new(),
                free: Vec::new(),
            }),
        }
    }

    /// Stores `value` and returns its new handle.
    pub(crate) fn insert(&self, value: T, call: &'static str) -> Result<*mut c_void> {
        let mut inner = self.inner.lock();
        let index = match inner.free.pop() {
            Some(index) => index,
            None if inner.slots.len() < MAX_SLOTS => {
                inner.slots.push(Slot {
                    generation: 1,
                    value: None,
                });
                inner.slots.len() - 1
            }
            None => {
                return Err(crate::boundary::argument(
                    call,
                    format!("too many live {} handles ({MAX_SLOTS})", self.kind),
                ));
            }
        };
        let slot = &mut inner.slots[index];
        slot.value = Some(Arc::new(value));
        let bits = (usize::from(self.tag) << 56) | (index << 32) | slot.generation as usize;
        Ok(bits as *mut c_void)
    }

    /// The value behind `handle`.
    pub(crate) fn get(&self, handle: *mut c_void, call: &'static str) -> Result<Arc<T>> {
        let inner = self.inner.lock();
        let index = self.index(&inner, handle, call)?;
        // `index` checked the slot holds a value.
        Ok(Arc::clone(
            inner.slots[index].value.as_ref().expect("checked by index"),
        ))
    }

    /// Frees `handle`'s slot (later uses of the handle are errors) and returns its value.
    pub(crate) fn remove(&self, handle: *mut c_void, call: &'static str) -> Result<Arc<T>> {
        let mut inner = self.inner.lock();
        let index = self.index(&inner, handle, call)?;
        let slot = &mut inner.slots[index];
        // A slot whose generation would wrap is retired rather than reused.
        let retire = slot.generation == u32::MAX;
        slot.generation = slot.generation.wrapping_add(1);
        let value = slot.value.take().expect("checked by index");
        if !retire {
            inner.free.push(index);
        }
        Ok(value)
    }

    /// The slot index of a live `handle` of this table.
    fn index(&self, inner: &Slots<T>, handle: *mut c_void, call: &'static str) -> Result<usize> {
        let bits = handle as usize;
        let invalid = |reason| Error::Handle {
            call,
            kind: self.kind,
            handle: bits,
            reason,
        };
        if bits == 0 {
            return Err(invalid("null handle"));
        }
        if bits >> 56 != usize::from(self.tag) {
            return Err(invalid("not a handle of this kind"));
        }
        let index = (bits >> 32) & (MAX_SLOTS - 1);
        let generation = (bits & 0xffff_ffff) as u32;
        let slot = inner
            .slots
            .get(index)
            .ok_or_else(|| invalid("no such handle"))?;
        if slot.generation != generation || slot.value.is_none() {
            return Err(invalid("already freed"));
        }
        Ok(index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn freed_reused_and_forged_handles_are_rejected() {
        let table = HandleTable::new(7, "test");
        let a = table.insert(1, "t").unwrap();
        assert_eq!(*table.get(a, "t").unwrap(), 1);
        assert_eq!(*table.remove(a, "t").unwrap(), 1);
        assert!(table.get(a, "t").is_err());
        assert!(table.remove(a, "t").is_err());
        let b = table.insert(2, "t").unwrap();
        assert_ne!(a, b, "the reused slot has a new generation");
        assert!(table.get(a, "t").is_err());
        assert_eq!(*table.get(b, "t").unwrap(), 2);
        assert!(table.get(std::ptr::null_mut(), "t").is_err());
        assert!(table.get(0x1234 as *mut c_void, "t").is_err());
        let other = HandleTable::new(8, "other");
        let c = other.insert(3, "t").unwrap();
        assert!(table.get(c, "t").is_err(), "another table's handle");
    }
}
