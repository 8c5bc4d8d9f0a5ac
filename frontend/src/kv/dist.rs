//! The communicator of a `dist_sync` store: MPI with the `mpi` feature, else a stand-in whose
//! `start` explains how to get one.

#[cfg(feature = "mpi")]
pub(crate) use super::mpi::Comm;

#[cfg(not(feature = "mpi"))]
pub(crate) use stub::Comm;

#[cfg(not(feature = "mpi"))]
mod stub {
    use std::convert::Infallible;
    use std::sync::Arc;
    use std::time::Duration;

    use crate::nd::NDArray;

    /// No communicator exists in a build without MPI; `start` always fails.
    pub(crate) struct Comm {
        never: Infallible,
    }

    impl Comm {
        pub(crate) fn start(_timeout: Duration) -> Result<Arc<Comm>, String> {
            Err(
                "this build of mxr has no distributed store: build with `--features mpi` \
                 (needs a system MPI, e.g. Debian's libopenmpi-dev) and launch with mpirun"
                    .into(),
            )
        }
        pub(crate) fn rank(&self) -> usize {
            match self.never {}
        }
        pub(crate) fn size(&self) -> usize {
            match self.never {}
        }
        pub(crate) fn barrier(&self) -> Result<(), String> {
            match self.never {}
        }
        pub(crate) fn push_allreduce(&self, _: &[&NDArray], _: &NDArray) -> Result<(), String> {
            match self.never {}
        }
        pub(crate) fn push_broadcast(&self, _: &NDArray, _: &NDArray) -> Result<(), String> {
            match self.never {}
        }
    }
}
