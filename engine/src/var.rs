//! `Var`: a versioned variable guarding one piece of data, and its per-var dependency queue.
//!
//! The queue implements MXNet's `ThreadedVar` rules (shared/spec/engine.md §3–4): operations are
//! granted in push order; consecutive reads may hold the var together; a write holds it alone,
//! after every earlier access has finished and before any later one starts; a read pushed behind
//! a queued write waits for that write (writers are never starved by readers).

use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};

use parking_lot::Mutex;
use smallvec::SmallVec;

use crate::operation::BlockRef;
use crate::poison::Poison;

/// Source of var ids. Relaxed: ids only need to be unique, not ordered with anything.
static NEXT_VAR_ID: AtomicU64 = AtomicU64::new(1);

/// Flag bit: the var may carry an error (check `VarState::poison` under the lock to be sure).
pub(crate) const FLAG_POISONED: u8 = 1;
/// Flag bit: the var was deleted; new operations and waits on it are refused.
pub(crate) const FLAG_DELETED: u8 = 2;
/// Flag bit: the var's delete operation has run; whatever it guarded is gone.
pub(crate) const FLAG_FREED: u8 = 4;

/// A handle to an engine variable.
///
/// Every piece of data the engine protects (an array's storage, a KVStore slot, a random state)
/// has one `Var`. Operations declare which vars they read and which they write; the engine orders
/// them by that alone. A `Var` is a cheap, shareable handle (`Clone` shares the same variable);
/// a var is not bound to one engine.
///
/// ```
/// use mxr_engine::Var;
/// let v = Var::new();
/// let w = v.clone();
/// assert_eq!(v, w);
/// assert_ne!(v, Var::new());
/// assert_eq!(v.version(), 0);
/// ```
#[derive(Clone)]
pub struct Var(pub(crate) Arc<VarInner>);

impl Var {
    /// A fresh variable: version 0, nothing pending.
    pub fn new() -> Var {
        Var(Arc::new(VarInner {
            id: NEXT_VAR_ID.fetch_add(1, Ordering::Relaxed),
            flags: AtomicU8::new(0),
            write_pushes: AtomicU64::new(0),
            state: Mutex::new(VarState::default()),
        }))
    }

    /// A process-unique id, for messages and traces.
    pub fn id(&self) -> u64 {
        self.0.id
    }

    /// How many writes to this var have completed so far (MXNet's var version).
    pub fn version(&self) -> u64 {
        self.0.state.lock().version
    }

    /// How many operations that write this var have been pushed so far, run or not. A cache
    /// derived from the var's data (folded weights, say) compares it with the count it saw when
    /// it was last rebuilt: a difference means a write was pushed since, and a rebuild pushed
    /// now is ordered after it by the engine (no wait, no check of pending writes).
    ///
    /// ```
    /// use mxr_engine::{Engine, EngineConfig, Operation, Var};
    /// let engine = Engine::new(EngineConfig::default())?;
    /// let v = Var::new();
    /// assert_eq!(v.write_pushes(), 0);
    /// engine.push(Operation::sync("write", |_| Ok(())).writes(&[&v]))?;
    /// engine.push(Operation::sync("read", |_| Ok(())).reads(&[&v]))?;
    /// assert_eq!(v.write_pushes(), 1);
    /// # Ok::<(), mxr_engine::Error>(())
    /// ```
    pub fn write_pushes(&self) -> u64 {
        self.0.write_pushes.load(Ordering::Acquire)
    }

    /// Counts one pushed write (the engine calls this as it accepts an operation).
    pub(crate) fn note_write_push(&self) {
        self.0.write_pushes.fetch_add(1, Ordering::AcqRel);
    }

    /// Whether the var was deleted with [`Engine::delete_var`](crate::Engine::delete_var).
    pub fn is_deleted(&self) -> bool {
        self.0.has_flag(FLAG_DELETED)
    }
}

impl Default for Var {
    fn default() -> Self {
        Var::new()
    }
}

impl PartialEq for Var {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for Var {}

impl std::hash::Hash for Var {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.id.hash(state);
    }
}

impl fmt::Debug for Var {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Var")
            .field("id", &self.0.id)
            .finish_non_exhaustive()
    }
}

/// The shared part of a var.
pub(crate) struct VarInner {
    pub(crate) id: u64,
    /// `FLAG_*` bits, readable without the lock. Set under the lock; see each use for ordering.
    flags: AtomicU8,
    /// Writes pushed so far ([`Var::write_pushes`]).
    write_pushes: AtomicU64,
    state: Mutex<VarState>,
}

/// One queued (not yet granted) access.
struct Pending {
    block: BlockRef,
    write: bool,
}

/// The dependency state of a var. Invariant: when no write is running and the queue is not
/// empty, the queue's front is a write (reads are only queued behind a running or queued write,
/// and completing a write grants every read at the front).
#[derive(Default)]
struct VarState {
    queue: VecDeque<Pending>,
    running_reads: u32,
    write_running: bool,
    version: u64,
    poison: Option<Arc<Poison>>,
}

/// Blocks granted while a var's lock was held, to be handed on after it is released.
pub(crate) type Grants = SmallVec<[BlockRef; 4]>;

impl VarState {
    /// Grants a read when no write runs and nothing is queued (a queued write keeps later
    /// reads behind it); returns whether it did.
    fn grant_read(&mut self) -> bool {
        let granted = !self.write_running && self.queue.is_empty();
        if granted {
            self.running_reads += 1;
        }
        granted
    }

    /// Grants a write when nothing runs and nothing is queued; returns whether it did.
    fn grant_write(&mut self) -> bool {
        let granted = !self.write_running && self.running_reads == 0 && self.queue.is_empty();
        if granted {
            self.write_running = true;
        }
        granted
    }
}

impl VarInner {
    pub(crate) fn has_flag(&self, flag: u8) -> bool {
        // Acquire pairs with the Release in `set_flags`: a reader that sees the bit also sees what
        // was written before it (the poison slot, under the lock it will take anyway).
        self.flags.load(Ordering::Acquire) & flag != 0
    }

    fn set_flags(&self, set: u8, clear: u8) {
        let old = self.flags.load(Ordering::Relaxed);
        let new = (old | set) & !clear;
        if new != old {
            // Flags only change under the var's lock, so a plain store cannot lose an update.
            self.flags.store(new, Ordering::Release);
        }
    }

    /// Marks the var deleted. Returns `None` if it already was; otherwise `Some(idle)`, where
    /// `idle` means no operation was running or queued on the var: it is then marked freed too,
    /// and the caller frees at once instead of queueing a delete operation.
    pub(crate) fn mark_deleted(&self) -> Option<bool> {
        let s = self.state.lock();
        if self.has_flag(FLAG_DELETED) {
            return None;
        }
        let idle = !s.write_running && s.running_reads == 0 && s.queue.is_empty();
        self.set_flags(FLAG_DELETED | if idle { FLAG_FREED } else { 0 }, 0);
        Some(idle)
    }

    /// Marks that the var's delete operation has run.
    pub(crate) fn mark_freed(&self) {
        let _state = self.state.lock();
        self.set_flags(FLAG_FREED, 0);
    }

    /// Grants a read at once if [`append_read`](Self::append_read) would (no write running,
    /// nothing queued); otherwise changes nothing and returns false. A granted read is released
    /// with [`complete_read`](Self::complete_read), like one granted by `append_read`.
    pub(crate) fn try_read(&self) -> bool {
        self.state.lock().grant_read()
    }

    /// Grants a write at once if [`append_write`](Self::append_write) would (nothing running,
    /// nothing queued); otherwise changes nothing and returns false. Released with
    /// [`complete_write`](Self::complete_write).
    pub(crate) fn try_write(&self) -> bool {
        self.state.lock().grant_write()
    }

    /// Registers a read by `block`. Returns true if granted at once; otherwise the block is queued.
    pub(crate) fn append_read(&self, block: &BlockRef) -> bool {
        self.append(block, false)
    }

    /// Registers a write by `block`. Returns true if granted at once; otherwise the block is queued.
    pub(crate) fn append_write(&self, block: &BlockRef) -> bool {
        self.append(block, true)
    }

    /// Registers a read or a write by `block`: granted at once, or queued.
    fn append(&self, block: &BlockRef, write: bool) -> bool {
        let mut s = self.state.lock();
        let granted = if write {
            s.grant_write()
        } else {
            s.grant_read()
        };
        if !granted {
            s.queue.push_back(Pending {
                block: block.clone(),
                write,
            });
        }
        granted
    }

    /// A granted read finished. A write waiting for the last reader is granted into `grants`.
    pub(crate) fn complete_read(&self, grants: &mut Grants) {
        let mut s = self.state.lock();
        debug_assert!(s.running_reads > 0 && !s.write_running);
        s.running_reads -= 1;
        if s.running_reads == 0 && s.queue.front().is_some_and(|p| p.write) {
            let next = s.queue.pop_front().expect("front checked just above");
            s.write_running = true;
            grants.push(next.block);
        }
    }

    /// A granted write finished, leaving `poison` (the operation's error, if any) on the var.
    /// Grants the reads that follow, or the next write if no read precedes it.
    pub(crate) fn complete_write(&self, poison: Option<&Arc<Poison>>, grants: &mut Grants) {
        let mut s = self.state.lock();
        debug_assert!(s.write_running && s.running_reads == 0);
        s.version += 1;
        s.write_running = false;
        match poison {
            Some(p) => {
                s.poison = Some(p.clone());
                self.set_flags(FLAG_POISONED, 0);
            }
            None if s.poison.is_some() => {
                s.poison = None;
                self.set_flags(0, FLAG_POISONED);
            }
            None => {}
        }
        while let Some(front) = s.queue.front() {
            if front.write {
                if s.running_reads == 0 {
                    let next = s.queue.pop_front().expect("front checked just above");
                    s.write_running = true;
                    grants.push(next.block);
                }
                break;
            }
            let next = s.queue.pop_front().expect("front checked just above");
            s.running_reads += 1;
            grants.push(next.block);
        }
    }

    /// The error this var carries, if any (and not yet observed by a wait).
    pub(crate) fn poison(&self) -> Option<Arc<Poison>> {
        if !self.has_flag(FLAG_POISONED) {
            return None;
        }
        let s = self.state.lock();
        s.poison.as_ref().filter(|p| p.is_set()).cloned()
    }

    /// Whether a write is running or queued: a wait on this var must then block.
    pub(crate) fn has_pending_write(&self) -> bool {
        let s = self.state.lock();
        s.write_running || !s.queue.is_empty()
    }
}
