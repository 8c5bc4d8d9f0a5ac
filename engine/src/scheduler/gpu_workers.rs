//! Per-GPU workers: one thread per device runs that device's ready operations in order.
//!
//! An operation on `gpu(n)` typically queues kernels on the device's compute stream and hands its
//! [`Completion`](crate::Completion) to [`GpuDevice::when_done`](crate::gpu::GpuDevice::when_done),
//! so the worker moves on at once while the stream works; the operation completes (and releases
//! its vars) when the stream has reached it. One thread per device keeps the order in which
//! work reaches the stream the order in which it became ready.

use std::collections::HashMap;
use std::sync::mpsc;
use std::thread::{self, JoinHandle};

use parking_lot::Mutex;

use super::run_block;
use crate::operation::BlockRef;

/// Worker indices of GPU workers start here (CPU workers count from 0).
pub(crate) const GPU_WORKER_BASE: u32 = 1 << 20;

#[derive(Default)]
pub(crate) struct GpuWorkers {
    senders: Mutex<HashMap<u32, mpsc::Sender<BlockRef>>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl GpuWorkers {
    /// Hands a ready block to the worker of `gpu(ordinal)`, starting it on first use; runs the
    /// block here if no thread can be started (it is then still run, in order).
    pub(crate) fn send(&self, ordinal: u32, block: BlockRef) {
        let mut senders = self.senders.lock();
        let block = match senders.get(&ordinal) {
            Some(tx) => match tx.send(block) {
                Ok(()) => return,
                Err(mpsc::SendError(b)) => b,
            },
            None => block,
        };
        let (tx, rx) = mpsc::channel::<BlockRef>();
        let worker = GPU_WORKER_BASE + ordinal;
        block
            .engine
            .profiler
            .register_worker(worker, &format!("gpu({ordinal}) worker"));
        let spawned = thread::Builder::new()
            .name(format!("mxr-gpu{ordinal}-worker"))
            .spawn(move || {
                for block in rx {
                    run_block(block, worker, None);
                }
            });
        match spawned {
            Ok(handle) => {
                self.threads.lock().push(handle);
                // The receiver is alive in the new thread, so this send succeeds.
                let _ = tx.send(block);
                senders.insert(ordinal, tx);
            }
            Err(_) => {
                drop(senders);
                run_block(block, worker, None);
            }
        }
    }

    /// Closes the queues; returns the threads, which finish what was queued and exit.
    pub(crate) fn stop(&self) -> Vec<JoinHandle<()>> {
        self.senders.lock().clear();
        std::mem::take(&mut *self.threads.lock())
    }
}
