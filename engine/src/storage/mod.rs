//! TEMPORARY placeholder, replaced by the storage helper's module.
#![allow(missing_docs)]
#[derive(Debug, Clone)]
pub struct CpuPool;
impl CpuPool {
    pub fn new(_c: crate::Context) -> Self {
        CpuPool
    }
}
