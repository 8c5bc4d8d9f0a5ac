//! Host code on arrays: "run this closure on these arrays' bytes" as one engine operation,
//! for the parts above the operators (the KVStore's merges, the data iterators' gathers) that
//! need no registry operator. The operation reads the sources' vars and writes the
//! destination's, so it is ordered with every other operation on those arrays; the closure
//! sees plain byte slices and never the storage behind them.

use std::sync::Arc;

use mxr_engine::storage::Buffer;
use mxr_engine::{BoxError, Operation, Var};
use parking_lot::RwLock;
use smallvec::SmallVec;

use crate::nd::NDArray;
use crate::{Error, Result};

/// A CPU array's storage and its bytes in it, as an operation body holds them (for bodies
/// that finish later, on another thread: [`push_async`]). Reading or writing it is only
/// ordered with other operations inside an operation that declared the array's var.
pub(crate) struct Region {
    data: Arc<RwLock<Buffer>>,
    range: std::ops::Range<usize>,
}

impl Region {
    /// The region of `a`; an error naming `who` for an array on a GPU.
    pub(crate) fn of(a: &NDArray, who: &'static str) -> Result<Region> {
        Ok(Region {
            data: Arc::clone(a.chunk.host(who)?),
            range: a.byte_range(),
        })
    }

    /// Runs `f` on the region's bytes under a read lock.
    #[cfg(feature = "mpi")]
    pub(crate) fn read<R>(&self, f: impl FnOnce(&[u8]) -> R) -> R {
        f(&self.data.read().as_bytes()[self.range.clone()])
    }

    /// Runs `f` on the bytes of every region in `regions`, in order, under read locks (views
    /// of one storage share one lock).
    pub(crate) fn read_all<R>(regions: &[Region], f: impl FnOnce(&[&[u8]]) -> R) -> R {
        let mut guards: SmallVec<[_; 4]> = SmallVec::new();
        for r in regions {
            if !guards.iter().any(|(d, _)| Arc::ptr_eq(d, &r.data)) {
                guards.push((Arc::clone(&r.data), r.data.read()));
            }
        }
        let mut bytes: SmallVec<[&[u8]; 4]> = SmallVec::new();
        for r in regions {
            let Some((_, guard)) = guards.iter().find(|(d, _)| Arc::ptr_eq(d, &r.data)) else {
                unreachable!("every region's storage has a guard (taken above)");
            };
            bytes.push(&guard.as_bytes()[r.range.clone()]);
        }
        f(&bytes)
    }

    /// Runs `f` on the region's bytes under a write lock.
    pub(crate) fn write<R>(&self, f: impl FnOnce(&mut [u8]) -> R) -> R {
        f(&mut self.data.write().as_bytes_mut()[self.range.clone()])
    }
}

/// The number of CPU workers of the engine that holds `a` (how many threads a host body may
/// split its work over).
pub(crate) fn cpu_workers(a: &NDArray) -> usize {
    a.chunk.engine.config().cpu_workers
}

/// Pushes `body(sources, out)` as one engine operation named `name` on `out`'s context (a
/// CPU): it reads the vars of `sources` and writes `out`'s, and `body` gets the sources' bytes
/// (in order; views of one storage share one lock) and `out`'s bytes.
///
/// # Errors
/// [`Error::InvalidArgument`] when an array is not on a CPU context or a source shares storage
/// with `out` (the body would read what it writes); an engine error if the push is refused.
pub fn push_host(
    name: &'static str,
    sources: &[&NDArray],
    out: &NDArray,
    body: impl FnOnce(&[&[u8]], &mut [u8]) -> std::result::Result<(), BoxError> + Send + 'static,
) -> Result<()> {
    if let Some(k) = sources.iter().position(|a| a.shares_storage_with(out)) {
        return Err(Error::InvalidArgument {
            call: name,
            reason: format!("source {k} shares storage with the destination"),
        });
    }
    let regions = sources
        .iter()
        .map(|a| Region::of(a, name))
        .collect::<Result<SmallVec<[Region; 4]>>>()?;
    let dst = Region::of(out, name)?;
    let op = Operation::sync(name, move |_| {
        // No source shares the destination's storage (checked above): the locks cannot meet.
        Region::read_all(&regions, |sources| dst.write(|out| body(sources, out)))
    });
    let reads: SmallVec<[&Var; 4]> = sources.iter().map(|a| &a.chunk.var).collect();
    out.chunk.engine.push(
        op.reads(&reads)
            .writes(&[&out.chunk.var])
            .context(out.context()),
    )?;
    Ok(())
}

/// Pushes an asynchronous engine operation named `name` reading the vars of `sources` and
/// writing `dest`'s: `body` starts the work and must complete it through the [`mxr_engine::Completion`]
/// (from any thread), after writing `dest` (through its [`Region`]) if it does.
///
/// # Errors
/// An engine error if the push is refused.
#[cfg(feature = "mpi")]
pub(crate) fn push_async(
    name: &'static str,
    sources: &[&NDArray],
    dest: &NDArray,
    body: impl FnOnce(&mxr_engine::RunContext, mxr_engine::Completion) + Send + 'static,
) -> Result<()> {
    let reads: SmallVec<[&Var; 4]> = sources.iter().map(|a| &a.chunk.var).collect();
    dest.chunk.engine.push(
        Operation::asynchronous(name, body)
            .reads(&reads)
            .writes(&[&dest.chunk.var]),
    )?;
    Ok(())
}
