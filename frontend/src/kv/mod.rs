//! KVStore: synchronising parameters across devices and processes (MXNet's `mx.kv`).
//!
//! A [`KVStore`] holds one array per [`Key`]. [`KVStore::push`] sums the values given for a key
//! and merges the sum into the stored array with the updater (assignment by default, a closure
//! from [`KVStore::set_updater`], or an optimizer from [`KVStore::set_optimizer`]);
//! [`KVStore::pull`] copies the stored array into outputs on any contexts. Every step is an
//! engine operation on the key's stored array, so calls return at once and run in order per key.
//!
//! - `local`: merges on the CPU; `device`: merges on one of the pushed values' contexts.
//! - `dist_sync` (cargo feature `mpi`, launched with `mpirun`): a push is summed across all
//!   workers before the update, which every worker applies identically, so pulls return the
//!   same value everywhere. Collective steps time out with an error when a worker dies.
//!
//! The data-parallel pattern (MXNet's Module with a kvstore): per parameter index `k`, push the
//! gradients of every device, pull the updated weight into every device's copy:
//!
//! ```
//! use mxr::kv::KVStore;
//! use mxr::nd::NDArray;
//! use mxr::optim::Sgd;
//! let kv = KVStore::create("device")?;
//! let weights = [NDArray::ones(&[3])?, NDArray::ones(&[2])?];
//! kv.init_list(&[0usize, 1], &[&weights[0], &weights[1]])?;
//! kv.set_optimizer(Sgd::new().learning_rate(0.5));
//! let grads = [[NDArray::full(&[3], 0.5)?, NDArray::full(&[3], 0.5)?],
//!              [NDArray::full(&[2], 1.0)?, NDArray::full(&[2], 1.0)?]];
//! let grad_refs: Vec<[&NDArray; 2]> = grads.iter().map(|g| [&g[0], &g[1]]).collect();
//! kv.push_list(&[0usize, 1], &grad_refs)?;
//! kv.pull_list(&[0usize, 1], &[[&weights[0]], [&weights[1]]])?;
//! assert_eq!(weights[0].to_vec::<f32>()?, vec![0.5; 3]); // 1 − 0.5 · (0.5 + 0.5)
//! assert_eq!(weights[1].to_vec::<f32>()?, vec![0.0; 2]); // 1 − 0.5 · (1 + 1)
//! # Ok::<(), mxr::Error>(())
//! ```

mod dist;
mod gpu_sum;
mod key;
#[cfg(feature = "mpi")]
mod mpi;
mod reduce;
mod store;
mod updater;

pub use key::Key;
pub use store::{KVStore, KVStoreOptions};
pub use updater::{IntoKeyUpdater, KeyUpdater};
