//! The KVStore: keys, stored values, merging and the updater (MXNet's `KVStoreLocal`, and the
//! worker side of `KVStoreDist` over [`Comm`]).

use std::any::Any;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use mxr_engine::Context;
use parking_lot::Mutex;

use super::dist::Comm;
use super::key::Key;
use super::reduce::{push_pull_copy, push_sum};
use super::updater::{IntoKeyUpdater, KeyUpdater};
use crate::nd::NDArray;
use crate::{Error, Result};

/// A user updater: `(key, merged, stored)`, mutating `stored` (MXNet's `_set_updater`).
type UpdaterFn = Box<dyn FnMut(&Key, &NDArray, &NDArray) -> Result<()> + Send>;

/// What a push applies to the stored value.
enum Merge {
    /// Assignment (no updater set).
    Assign,
    /// A user closure.
    Closure(UpdaterFn),
    /// An optimizer with per-key states (`set_optimizer`).
    Optimizer(Box<dyn KeyUpdater>),
}

/// The kinds of store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Local,
    Device,
    DistSync,
}

/// Settings of [`KVStore::create_with`].
///
/// ```
/// use std::time::Duration;
/// use mxr::kv::KVStoreOptions;
/// let o = KVStoreOptions::default().timeout(Duration::from_secs(5));
/// assert_eq!(o.timeout, Duration::from_secs(5));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct KVStoreOptions {
    /// How long a distributed store waits for the other workers in one collective step
    /// (barrier, sum across workers, broadcast of initial values) before it gives up with an
    /// error naming the step (a worker died or stopped taking part). Default 60 s.
    pub timeout: Duration,
}

impl Default for KVStoreOptions {
    fn default() -> Self {
        KVStoreOptions {
            timeout: Duration::from_secs(60),
        }
    }
}

impl KVStoreOptions {
    /// Sets [`KVStoreOptions::timeout`].
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

/// One key's storage.
struct Slot {
    /// The integer id: the key itself for int keys, the first-`init` order for strings.
    id: usize,
    stored: NDArray,
    /// The merge buffer for pushes of several values when an updater is set (and for the sum
    /// across workers), made on first use.
    merge: Option<NDArray>,
    /// `device`: the context merges of this key run on, chosen at its first push.
    aggregate: Option<Context>,
}

struct State {
    /// The kind of key this store uses, once it has one.
    key_kind: Option<&'static str>,
    slots: HashMap<Key, Slot>,
    next_str_id: usize,
    merge: Merge,
    /// `device`: bytes of merge buffers placed on each context (MXNet's load balancing).
    placed: HashMap<Context, usize>,
}

/// A key-value store for synchronising parameters (MXNet's `mx.kv.KVStore`).
///
/// `local` merges on the CPU, `device` on the contexts of the pushed values, `dist_sync`
/// (with the `mpi` feature, launched with `mpirun`) also sums every push across all workers
/// before the update, so every worker holds the same values.
///
/// Every step is an engine operation on the key's stored array: a push's sum of several values
/// is one operation reading them and writing the stored value (or the key's merge buffer); an
/// updater pushes its own operations; a pull is one copy per output reading the stored value.
/// Calls return at once, and calls on one key run in call order. The store is `Sync`: calls
/// from several threads are ordered by the order in which they enter it.
///
/// Semantics follow MXNet's `KVStoreLocal`, with one difference: without an updater, a push of
/// a single value **copies** it into the store, where MXNet makes the store alias the pushed
/// array (so that later writes to the array would show in the store).
///
/// ```
/// use mxr::kv::KVStore;
/// use mxr::nd::NDArray;
/// let kv = KVStore::create("local")?;
/// kv.init(3, &NDArray::full(&[2, 3], 2.0)?)?;
/// let a = NDArray::zeros(&[2, 3])?;
/// kv.pull(3, &[&a])?;
/// assert_eq!(a.to_vec::<f32>()?, vec![2.0; 6]);
/// let ones = NDArray::ones(&[2, 3])?;
/// kv.push(3, &[&ones, &ones, &ones, &ones])?; // summed, then assigned
/// kv.pull(3, &[&a])?;
/// assert_eq!(a.to_vec::<f32>()?, vec![4.0; 6]);
/// kv.set_updater(|_key, input, stored| {
///     let twice = input * 2.0;
///     stored.assign(&(stored + &twice))
/// });
/// kv.push(3, &[&ones])?;
/// kv.pull(3, &[&a])?;
/// assert_eq!(a.to_vec::<f32>()?, vec![6.0; 6]);
/// # Ok::<(), mxr::Error>(())
/// ```
pub struct KVStore {
    kind: Kind,
    name: String,
    state: Mutex<State>,
    comm: Option<Arc<Comm>>,
}

impl fmt::Debug for KVStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KVStore")
            .field("type", &self.name)
            .field("rank", &self.rank())
            .field("num_workers", &self.num_workers())
            .finish_non_exhaustive()
    }
}

impl KVStore {
    /// A store of type `name` (case-insensitive, as MXNet's `mx.kv.create`): `local`, `device`,
    /// or `dist_sync` (also `dist_sync_device`, `dist_device_sync`, `dist`), which needs the
    /// `mpi` feature and starts MPI (one distributed store per process).
    ///
    /// ```
    /// use mxr::kv::KVStore;
    /// let kv = KVStore::create("Device")?;
    /// assert_eq!((kv.kv_type(), kv.rank(), kv.num_workers()), ("device", 0, 1));
    /// assert!(KVStore::create("nccl").unwrap_err().to_string().contains("nccl"));
    /// # Ok::<(), mxr::Error>(())
    /// ```
    pub fn create(name: &str) -> Result<KVStore> {
        KVStore::create_with(name, KVStoreOptions::default())
    }

    /// [`KVStore::create`] with settings.
    pub fn create_with(name: &str, options: KVStoreOptions) -> Result<KVStore> {
        let lower = name.to_ascii_lowercase();
        let unsupported = |reason: String| Error::KVStore {
            store: name.to_owned(),
            call: "create",
            key: None,
            reason,
        };
        let kind = match lower.as_str() {
            "local" => Kind::Local,
            "device" => Kind::Device,
            "dist_sync" | "dist_sync_device" | "dist_device_sync" | "dist" => Kind::DistSync,
            s if s.contains("async") => {
                return Err(unsupported(
                    "asynchronous distributed stores are not supported (use dist_sync)".into(),
                ));
            }
            _ => {
                return Err(unsupported(
                    "unknown store type (available: local, device, dist_sync)".into(),
                ));
            }
        };
        let comm = match kind {
            Kind::DistSync => {
                Some(
                    Comm::start(options.timeout).map_err(|reason| Error::KVStore {
                        store: lower.clone(),
                        call: "create",
                        key: None,
                        reason,
                    })?,
                )
            }
            _ => None,
        };
        Ok(KVStore {
            kind,
            name: lower,
            state: Mutex::new(State {
                key_kind: None,
                slots: HashMap::new(),
                next_str_id: 0,
                merge: Merge::Assign,
                placed: HashMap::new(),
            }),
            comm,
        })
    }

    /// The store's type as created (MXNet's `kv.type`), in lower case.
    pub fn kv_type(&self) -> &str {
        &self.name
    }

    /// This worker's rank: 0 for non-distributed stores.
    pub fn rank(&self) -> usize {
        self.comm.as_ref().map_or(0, |c| c.rank())
    }

    /// The number of workers: 1 for non-distributed stores.
    pub fn num_workers(&self) -> usize {
        self.comm.as_ref().map_or(1, |c| c.size())
    }

    /// Blocks until every worker has reached this barrier (nothing to wait for without a
    /// distributed store). An error when a worker does not arrive within the timeout.
    pub fn barrier(&self) -> Result<()> {
        match &self.comm {
            Some(comm) => comm
                .barrier()
                .map_err(|reason| self.err("barrier", None, reason)),
            None => Ok(()),
        }
    }

    fn err(&self, call: &'static str, key: Option<&Key>, reason: String) -> Error {
        Error::KVStore {
            store: self.name.clone(),
            call,
            key: key.map(Key::to_string),
            reason,
        }
    }

    /// An error from `call` unless there are as many `lists` (named `what`) as keys.
    fn check_pairs(&self, call: &'static str, keys: usize, lists: usize, what: &str) -> Result<()> {
        if keys == lists {
            return Ok(());
        }
        Err(self.err(call, None, format!("{keys} keys and {lists} {what}")))
    }

    /// An error from `call` naming `key` unless every array (a `what`: value, output) has the
    /// shape and dtype of the `stored` value.
    fn check_like_stored(
        &self,
        call: &'static str,
        key: &Key,
        what: &str,
        arrays: &[&NDArray],
        stored: &NDArray,
    ) -> Result<()> {
        let unlike = arrays
            .iter()
            .position(|a| a.shape() != stored.shape() || a.dtype() != stored.dtype());
        let Some(i) = unlike else {
            return Ok(());
        };
        Err(self.err(
            call,
            Some(key),
            format!(
                "{what} {i} is {:?} of {}, the stored value {:?} of {}",
                arrays[i].shape(),
                arrays[i].dtype(),
                stored.shape(),
                stored.dtype()
            ),
        ))
    }

    /// Initialises `key` with a copy of `value` (MXNet's `init`). In a distributed store the
    /// value of worker 0 is stored everywhere, and the call ends with a barrier.
    pub fn init(&self, key: impl Into<Key>, value: &NDArray) -> Result<()> {
        self.init_list(&[key.into()], &[value])
    }

    /// Initialises several keys (MXNet's `init` with lists).
    pub fn init_list<K: Into<Key> + Clone>(&self, keys: &[K], values: &[&NDArray]) -> Result<()> {
        self.check_pairs("init", keys.len(), values.len(), "values")?;
        {
            let mut state = self.state.lock();
            let keys: Vec<Key> = keys.iter().cloned().map(Into::into).collect();
            for (k, key) in keys.iter().enumerate() {
                self.check_kind(&mut state, "init", key)?;
                if state.slots.contains_key(key) || keys[..k].contains(key) {
                    return Err(self.err("init", Some(key), "duplicate init of key".into()));
                }
                if let Key::Int(i) = key
                    && *i < 0
                    && self.kind == Kind::DistSync
                {
                    return Err(self.err("init", Some(key), "keys must be >= 0".into()));
                }
            }
            for (key, value) in keys.into_iter().zip(values) {
                let stored = match (self.kind, &self.comm) {
                    (Kind::DistSync, Some(comm)) => {
                        let stored = NDArray::new(value.shape(), value.dtype(), Context::cpu(0))?;
                        comm.push_broadcast(value, &stored)
                            .map_err(|reason| self.err("init", Some(&key), reason))?;
                        stored
                    }
                    (Kind::Device, _) => value.copy_to(value.context())?,
                    _ => value.copy_to(Context::cpu(0))?,
                };
                let id = match &key {
                    Key::Int(i) => usize::try_from(*i).unwrap_or(usize::MAX),
                    Key::Str(_) => {
                        state.next_str_id += 1;
                        state.next_str_id - 1
                    }
                };
                state.slots.insert(
                    key,
                    Slot {
                        id,
                        stored,
                        merge: None,
                        aggregate: None,
                    },
                );
            }
        }
        self.barrier()
    }

    fn check_kind(&self, state: &mut State, call: &'static str, key: &Key) -> Result<()> {
        match state.key_kind {
            Some(kind) if kind != key.kind() => Err(self.err(
                call,
                Some(key),
                format!(
                    "mixed key types are not allowed: this store uses {kind} keys, got a {} key",
                    key.kind()
                ),
            )),
            Some(_) => Ok(()),
            None => {
                state.key_kind = Some(key.kind());
                Ok(())
            }
        }
    }

    /// Pushes values to `key` (MXNet's `push`): they are summed (one value is taken as is),
    /// and the updater merges the sum into the stored value (without one, the sum replaces it).
    /// Every value must have the stored value's shape and dtype; they may be on any contexts.
    pub fn push(&self, key: impl Into<Key>, values: &[&NDArray]) -> Result<()> {
        self.push_list(&[key.into()], &[values])
    }

    /// Pushes to several keys (MXNet's `push` with lists): `values[k]` are the values for
    /// `keys[k]`. Values given for the same key in one call are merged together; keys are
    /// processed in ascending order.
    pub fn push_list<'a, K, V>(&self, keys: &[K], values: &[V]) -> Result<()>
    where
        K: Into<Key> + Clone,
        V: AsRef<[&'a NDArray]>,
    {
        self.check_pairs("push", keys.len(), values.len(), "value lists")?;
        let mut state = self.state.lock();
        // Group by key, in ascending key order (ids for string keys).
        let mut groups: Vec<(Key, Vec<&NDArray>)> = Vec::new();
        for (key, vals) in keys.iter().cloned().map(Into::into).zip(values) {
            let vals = vals.as_ref();
            if vals.is_empty() {
                return Err(self.err("push", Some(&key), "no values given".into()));
            }
            match groups.iter_mut().find(|(k, _)| *k == key) {
                Some((_, g)) => g.extend_from_slice(vals),
                None => groups.push((key, vals.to_vec())),
            }
        }
        for (key, vals) in &groups {
            self.check_kind(&mut state, "push", key)?;
            let slot = self.slot(&state, "push", key)?;
            self.check_like_stored("push", key, "value", vals, &slot.stored)?;
        }
        let ordered = {
            let mut order: Vec<(usize, usize)> = groups
                .iter()
                .enumerate()
                .map(|(g, (key, _))| (state.slots[key].id, g))
                .collect();
            order.sort_unstable();
            order
        };
        for (_, g) in ordered {
            let (key, vals) = &groups[g];
            self.push_one(&mut state, key, vals)?;
        }
        Ok(())
    }

    fn slot<'s>(&self, state: &'s State, call: &'static str, key: &Key) -> Result<&'s Slot> {
        state.slots.get(key).ok_or_else(|| {
            self.err(
                call,
                Some(key),
                "the key was never initialised (call init first)".into(),
            )
        })
    }

    /// One key's push, values checked.
    fn push_one(&self, state: &mut State, key: &Key, vals: &[&NDArray]) -> Result<()> {
        let State {
            slots,
            merge,
            placed,
            ..
        } = state;
        let slot = slots
            .get_mut(key)
            .expect("push_list checked every key has a slot");
        if self.kind == Kind::Device {
            // Merge on one of the values' contexts, the least loaded when the key is first
            // pushed (MXNet's CommDevice); the stored value moves there.
            let aggregate = *slot.aggregate.get_or_insert_with(|| {
                let bytes = slot.stored.size() * slot.stored.dtype().size();
                let best = vals
                    .iter()
                    .map(|v| v.context())
                    .min_by_key(|c| (placed.get(c).copied().unwrap_or(0), *c))
                    .expect("a push has at least one value");
                *placed.entry(best).or_default() += bytes;
                best
            });
            if slot.stored.context() != aggregate {
                slot.stored = slot.stored.copy_to(aggregate)?;
            }
        }
        let assign = matches!(merge, Merge::Assign);
        let merged: NDArray = match (&self.comm, vals) {
            (Some(comm), _) => {
                // The sum across workers lands in the stored value (no updater) or the merge
                // buffer.
                let dest = if assign {
                    slot.stored.clone()
                } else {
                    merge_buffer(slot)?
                };
                comm.push_allreduce(vals, &dest)
                    .map_err(|reason| self.err("push", Some(key), reason))?;
                if assign {
                    return Ok(());
                }
                dest
            }
            (None, [one]) if assign => return slot.stored.assign(one),
            (None, [one]) => (*one).clone(),
            (None, _) if assign => return push_sum("kvstore_sum", vals, &slot.stored),
            (None, _) => {
                let buffer = merge_buffer(slot)?;
                push_sum("kvstore_sum", vals, &buffer)?;
                buffer
            }
        };
        match merge {
            Merge::Assign => unreachable!("assignments returned above"),
            Merge::Closure(f) => f(key, &merged, &slot.stored),
            Merge::Optimizer(updater) => {
                let index = match key {
                    Key::Int(i) => usize::try_from(*i).map_err(|_| {
                        self.err(
                            "push",
                            Some(key),
                            "an optimizer needs keys >= 0 (its parameter indices)".into(),
                        )
                    })?,
                    Key::Str(_) => slot.id,
                };
                updater.update(index, &merged, &slot.stored)
            }
        }
    }

    /// Copies the value of `key` into every output (MXNet's `pull`); outputs may be on any
    /// contexts and must have the stored value's shape and dtype.
    pub fn pull(&self, key: impl Into<Key>, outs: &[&NDArray]) -> Result<()> {
        self.pull_list(&[key.into()], &[outs])
    }

    /// Pulls several keys (MXNet's `pull` with lists): `outs[k]` receive `keys[k]`.
    pub fn pull_list<'a, K, V>(&self, keys: &[K], outs: &[V]) -> Result<()>
    where
        K: Into<Key> + Clone,
        V: AsRef<[&'a NDArray]>,
    {
        self.check_pairs("pull", keys.len(), outs.len(), "output lists")?;
        let state = self.state.lock();
        let keys: Vec<Key> = keys.iter().cloned().map(Into::into).collect();
        for (key, outs) in keys.iter().zip(outs) {
            let slot = self.slot(&state, "pull", key)?;
            self.check_like_stored("pull", key, "output", outs.as_ref(), &slot.stored)?;
        }
        for (key, outs) in keys.iter().zip(outs) {
            let stored = &state.slots[key].stored;
            for o in outs.as_ref() {
                push_pull_copy(stored, o)?;
            }
        }
        Ok(())
    }

    /// Pushes `values` to `key`, then pulls it into `outs`, or into the pushed arrays
    /// themselves when `outs` is `None` (MXNet's `pushpull`).
    pub fn pushpull(
        &self,
        key: impl Into<Key>,
        values: &[&NDArray],
        outs: Option<&[&NDArray]>,
    ) -> Result<()> {
        let key = key.into();
        self.push(key.clone(), values)?;
        self.pull(key, outs.unwrap_or(values))
    }

    /// [`KVStore::pushpull`] for several keys.
    pub fn pushpull_list<'a, K, V>(
        &self,
        keys: &[K],
        values: &[V],
        outs: Option<&[V]>,
    ) -> Result<()>
    where
        K: Into<Key> + Clone,
        V: AsRef<[&'a NDArray]>,
    {
        self.push_list(keys, values)?;
        self.pull_list(keys, outs.unwrap_or(values))
    }

    /// Initialises `key` with `value`, then pulls it into `outs` (MXNet's `broadcast`).
    pub fn broadcast(&self, key: impl Into<Key>, value: &NDArray, outs: &[&NDArray]) -> Result<()> {
        let key = key.into();
        self.init(key.clone(), value)?;
        self.pull(key, outs)
    }

    /// Sets the updater (MXNet's `_set_updater`): `f(key, merged, stored)` must update
    /// `stored` in place from the merged pushed value, with NDArray operations (which the
    /// engine orders with the key's pulls). It runs on the pushing thread while the store is
    /// locked, so it must not call back into this store. In a distributed store every worker
    /// applies it to the same sum.
    pub fn set_updater<F>(&self, f: F)
    where
        F: FnMut(&Key, &NDArray, &NDArray) -> Result<()> + Send + 'static,
    {
        self.state.lock().merge = Merge::Closure(Box::new(f));
    }

    /// Updates with `optimizer` (MXNet's `set_optimizer`): an optimizer of `mxr::optim` (or a
    /// boxed one) wrapped in an `mxr::optim::Updater` with per-key states, or such an updater,
    /// called with the key as the parameter index (string keys: their first-`init` order).
    ///
    /// ```
    /// use mxr::kv::KVStore;
    /// use mxr::nd::NDArray;
    /// use mxr::optim::Sgd;
    /// let kv = KVStore::create("local")?;
    /// kv.init(0, &NDArray::ones(&[2])?)?;
    /// kv.set_optimizer(Sgd::new().learning_rate(0.1));
    /// kv.push(0, &[&NDArray::ones(&[2])?])?;
    /// let w = NDArray::zeros(&[2])?;
    /// kv.pull(0, &[&w])?;
    /// assert_eq!(w.to_vec::<f32>()?, vec![0.9, 0.9]);
    /// # Ok::<(), mxr::Error>(())
    /// ```
    pub fn set_optimizer(&self, optimizer: impl IntoKeyUpdater) {
        self.state.lock().merge = Merge::Optimizer(optimizer.into_key_updater());
    }

    /// Runs `f` on the optimizer's updater, of type `U` (`mxr::optim::Updater` for what
    /// [`KVStore::set_optimizer`] installed: to read its states or change its learning rate);
    /// `None` when no optimizer is set or it is not a `U`.
    ///
    /// ```
    /// use mxr::kv::KVStore;
    /// use mxr::nd::NDArray;
    /// use mxr::optim::{Sgd, Updater};
    /// let kv = KVStore::create("local")?;
    /// kv.init(3, &NDArray::ones(&[2])?)?;
    /// kv.set_optimizer(Sgd::new().learning_rate(0.1));
    /// kv.push(3, &[&NDArray::ones(&[2])?])?;
    /// assert_eq!(kv.with_optimizer(|u: &mut Updater| u.states().len()), Some(1));
    /// # Ok::<(), mxr::Error>(())
    /// ```
    pub fn with_optimizer<U: KeyUpdater, R>(&self, f: impl FnOnce(&mut U) -> R) -> Option<R> {
        match &mut self.state.lock().merge {
            Merge::Optimizer(updater) => {
                let any: &mut dyn Any = updater.as_mut();
                any.downcast_mut::<U>().map(f)
            }
            _ => None,
        }
    }
}

/// The key's merge buffer, made on the stored value's context on first use.
fn merge_buffer(slot: &mut Slot) -> Result<NDArray> {
    if let Some(buffer) = &slot.merge
        && buffer.context() == slot.stored.context()
    {
        return Ok(buffer.clone());
    }
    let buffer = NDArray::new(
        slot.stored.shape(),
        slot.stored.dtype(),
        slot.stored.context(),
    )?;
    slot.merge = Some(buffer.clone());
    Ok(buffer)
}
