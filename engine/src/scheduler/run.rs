//! How a pushed operation runs (steps 1–4 of the module docs of [`super`]): registering it
//! with its vars ([`submit`]), running it on the pusher when every var grants it at once
//! ([`run_now`]), dispatching a ready block inline or to the workers, running its body
//! ([`run_block`]), and completing it: releasing its vars, recording it in the profile and
//! recycling its block.

use std::borrow::Cow;
use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::cpu_pool::WorkerCtx;
use super::{DRAINING, INLINE_QUEUE, PUSH_CACHE, RUNNING, Shared, op_failed};
use crate::deps::VarRefs;
use crate::operation::{BlockRef, Body, Completion, OprBlock, RunContext, SyncBody};
use crate::poison::Poison;
use crate::profiler::{OpRecord, Profiler};
use crate::sync::Latch;
use crate::var::{FLAG_FREED, FLAG_POISONED, Grants, VarInner};
use crate::{Context, Error, Var};

/// Where and how a submitted block runs.
pub(super) struct Placement {
    pub(super) context: Context,
    pub(super) priority: i32,
    pub(super) inline_if_ready: bool,
}

impl Placement {
    /// Internal blocks (waits, deletes): on cpu(0), ordinary priority.
    pub(super) const INTERNAL: Placement = Placement {
        context: Context::cpu(0),
        priority: 0,
        inline_if_ready: false,
    };
}

/// Registers an operation with its vars (step 1 of the module docs) and dispatches it if every
/// var grants it at once.
///
/// An operation that may run on the pusher when ready (`inline_if_ready`, outside another
/// inline run) first tries to take its vars without a block: if every var grants it, it runs
/// here and now ([`run_now`]) and no block is made. Otherwise a block is created (reusing a
/// recycled one when it can) holding the vars granted so far, and registered with the rest.
pub(super) fn submit(
    shared: &Arc<Shared>,
    name: Cow<'static, str>,
    body: Body,
    reads: &[&Var],
    writes: &[&Var],
    placement: Placement,
) {
    let Placement {
        context,
        priority,
        inline_if_ready,
    } = placement;
    shared.pending.fetch_add(1, Ordering::SeqCst);
    let (mut var_reads, mut var_writes) = (VarRefs::new(), VarRefs::new());
    crate::deps::normalize_into(reads, writes, &mut var_reads, &mut var_writes);
    // Vars taken before a block exists, in registration order: reads, then writes. Taking a
    // var this way is the same grant `append_read`/`append_write` would give, so a block made
    // afterwards counts it as granted and releases it on completion like any other.
    let mut taken = 0;
    let try_now = inline_if_ready && matches!(body, Body::Sync(_)) && !DRAINING.with(Cell::get);
    if try_now {
        for var in &var_reads {
            if !var.try_read() {
                break;
            }
            taken += 1;
        }
        if taken == var_reads.len() {
            for var in &var_writes {
                if !var.try_write() {
                    break;
                }
                taken += 1;
            }
        }
    }
    let all_taken = taken == var_reads.len() + var_writes.len();
    let body = match body {
        Body::Sync(f) if try_now && all_taken => {
            return run_now(shared, &name, f, &var_reads, &var_writes, context);
        }
        other => other,
    };
    let inline = shared.naive || body.is_internal();
    let done = (shared.naive && matches!(body, Body::Async(_))).then(|| Arc::new(Latch::default()));
    let mut block = shared
        .take_recycled()
        .unwrap_or_else(|| Arc::new(OprBlock::new(Arc::clone(shared))));
    let b = Arc::get_mut(&mut block).expect(
        "a new or recycled block is unique: only blocks without other references are recycled, \
         and nothing clones them in the free list",
    );
    // Pushed one by one: SmallVec's generic `extend` is several times slower for a few vars.
    b.reads.clear();
    for v in &var_reads {
        b.reads.push(Arc::clone(v));
    }
    b.writes.clear();
    for v in &var_writes {
        b.writes.push(Arc::clone(v));
    }
    let holds = b.reads.len() + b.writes.len() + 1;
    *b.wait.get_mut() = holds;
    *b.body.get_mut() = Some(body);
    b.context = context;
    b.priority = priority;
    b.name = name;
    b.inline = inline;
    b.done = done;
    let mut granted = 1 + taken; // the pusher's own hold and the vars taken above
    let n_reads = block.reads.len();
    for var in block.reads.iter().skip(taken) {
        granted += usize::from(var.append_read(&block));
    }
    for var in block.writes.iter().skip(taken.saturating_sub(n_reads)) {
        granted += usize::from(var.append_write(&block));
    }
    // If every var granted at once, no queue refers to the block and no other thread can touch
    // `wait`: the block is ready. Otherwise AcqRel: the thread that brings `wait` to zero must
    // see every var registration (Release by the granters) before it runs the block (Acquire).
    if granted == holds || block.wait.fetch_sub(granted, Ordering::AcqRel) == granted {
        // Ready on this thread now: internal and naive blocks always run here, and so do
        // operations that asked to when ready at push.
        if block.inline || inline_if_ready {
            run_inline(block);
        } else {
            shared.route(block);
        }
    }
}

/// Runs a synchronous operation on the pushing thread, its vars all granted at push, without a
/// block: steps 3 and 4 of the module docs as `run_block` and `complete` do them for a block
/// run inline (skipped for an upstream error; panics caught; vars released, granting what
/// waits behind them; the in-flight count dropped). Like `run_inline`, it marks this thread as
/// draining, so that operations the body pushes run after it, then drains them.
#[expect(
    clippy::ptr_arg,
    reason = "the profiler records the name as a `Cow`: cloning it keeps a static name unallocated"
)]
fn run_now(
    shared: &Arc<Shared>,
    name: &Cow<'static, str>,
    f: SyncBody,
    reads: &[&Arc<VarInner>],
    writes: &[&Arc<VarInner>],
    context: Context,
) {
    DRAINING.with(|d| d.set(true));
    let vars = || reads.iter().chain(writes).map(|v| &***v);
    let poison = match upstream_error_of(shared, vars) {
        Some(poison) => {
            drop(f);
            Some(poison)
        }
        None => {
            let rc = RunContext::new(context, RunContext::INLINE);
            let start_ns = if shared.profiler.is_enabled() {
                shared.profiler.now_ns().max(1)
            } else {
                0
            };
            RUNNING.with(|r| r.set(r.get() + 1));
            let result = catch_unwind(AssertUnwindSafe(|| f.call(&rc)));
            RUNNING.with(|r| r.set(r.get() - 1));
            record_op(
                &shared.profiler,
                name,
                context,
                RunContext::INLINE,
                start_ns,
            );
            let error = match result {
                Ok(Ok(())) => None,
                Ok(Err(e)) => Some(op_failed(name, e)),
                Err(payload) => Some(Error::OpPanicked {
                    op: name.to_string(),
                    message: panic_message(payload.as_ref()),
                }),
            };
            error.map(|e| shared.new_poison(e))
        }
    };
    let mut grants = Grants::new();
    release_vars(
        reads.iter().map(|v| &***v),
        writes.iter().map(|v| &***v),
        poison.as_ref(),
        &mut grants,
    );
    hand_on(grants, None);
    shared.finish(1);
    while let Some(next) = INLINE_QUEUE.with(|q| q.borrow_mut().pop_front()) {
        run_block(next, RunContext::INLINE, None);
    }
    DRAINING.with(|d| d.set(false));
}

/// Sends a ready block to where it runs.
fn dispatch(block: BlockRef, worker: Option<&WorkerCtx<'_>>) {
    if block.inline {
        run_inline(block);
        return;
    }
    match worker {
        Some(worker) if block.context.is_cpu() && worker.owns(&block) => worker.push(block),
        _ => {
            let queued = Arc::clone(&block);
            block.engine.route(queued);
        }
    }
}

/// Runs a block on this thread; nested inline runs are queued and drained iteratively.
fn run_inline(block: BlockRef) {
    INLINE_QUEUE.with(|q| q.borrow_mut().push_back(block));
    if DRAINING.with(|d| d.replace(true)) {
        return;
    }
    while let Some(next) = INLINE_QUEUE.with(|q| q.borrow_mut().pop_front()) {
        run_block(next, RunContext::INLINE, None);
    }
    DRAINING.with(|d| d.set(false));
}

/// The error an operation inherits from its vars (reads first), if any.
fn upstream_error(block: &OprBlock) -> Option<Arc<Poison>> {
    upstream_error_of(&block.engine, || {
        block.reads.iter().chain(&block.writes).map(|v| &**v)
    })
}

/// [`upstream_error`] of the vars `vars()` lists (reads first), on `engine`.
fn upstream_error_of<'a, I>(engine: &Shared, vars: impl Fn() -> I) -> Option<Arc<Poison>>
where
    I: Iterator<Item = &'a VarInner>,
{
    for var in vars() {
        if var.has_flag(FLAG_FREED) {
            return Some(engine.new_poison(Error::VarDeleted { var: var.id }));
        }
    }
    vars()
        .filter(|v| v.has_flag(FLAG_POISONED))
        .find_map(|v| v.poison())
}

/// Runs a dispatched block (step 3 of the module docs).
pub(crate) fn run_block(block: BlockRef, worker: u32, ctx: Option<&WorkerCtx<'_>>) {
    let body = block
        .body
        .lock()
        .take()
        .expect("a block is dispatched exactly once: only the thread that zeroes `wait` does");
    let body = match body {
        Body::Wait(latch) => {
            latch.set();
            return complete(block, None, ctx);
        }
        Body::Delete(free) => {
            // A panicking destructor must not stop the engine; there is nobody to report to.
            let _ = catch_unwind(AssertUnwindSafe(free));
            for var in &block.writes {
                var.mark_freed();
            }
            return complete(block, None, ctx);
        }
        other => other,
    };
    if let Some(poison) = upstream_error(&block) {
        return complete(block, Some(poison), ctx);
    }
    let engine = &block.engine;
    let rc = RunContext::new(block.context, worker);
    // 0: not profiled (see `record`).
    let start_ns = if engine.profiler.is_enabled() {
        engine.profiler.now_ns().max(1)
    } else {
        0
    };
    RUNNING.with(|r| r.set(r.get() + 1));
    match body {
        Body::Sync(f) => {
            let result = catch_unwind(AssertUnwindSafe(|| f.call(&rc)));
            RUNNING.with(|r| r.set(r.get() - 1));
            record(&block, worker, start_ns);
            let error = match result {
                Ok(Ok(())) => None,
                Ok(Err(e)) => Some(op_failed(&block.name, e)),
                Err(payload) => Some(Error::OpPanicked {
                    op: block.name.to_string(),
                    message: panic_message(payload.as_ref()),
                }),
            };
            let poison = error.map(|e| block.engine.new_poison(e));
            complete(block, poison, ctx);
        }
        Body::Async(f) => {
            let done = block.done.clone();
            let completion = Completion {
                block: Some(Arc::clone(&block)),
                start_ns,
            };
            drop(block);
            // A panic drops the completion during unwinding, which fails the operation.
            let _ = catch_unwind(AssertUnwindSafe(|| f(&rc, completion)));
            RUNNING.with(|r| r.set(r.get() - 1));
            if let Some(done) = done {
                done.wait(); // naive mode: the operation is complete before `push` returns
            }
        }
        Body::Wait(_) | Body::Delete(_) => unreachable!("handled above"),
    }
}

fn record(block: &OprBlock, worker: u32, start_ns: u64) {
    record_op(
        &block.engine.profiler,
        &block.name,
        block.context,
        worker,
        start_ns,
    );
}

#[expect(
    clippy::ptr_arg,
    reason = "the profiler records the name as a `Cow`: cloning it keeps a static name unallocated"
)]
fn record_op(
    profiler: &Profiler,
    name: &Cow<'static, str>,
    context: Context,
    worker: u32,
    start_ns: u64,
) {
    // `start_ns` is 0 when the profiler was off as the operation started: no event then.
    if profiler.is_enabled() && start_ns != 0 {
        let end = profiler.now_ns();
        profiler.record(OpRecord {
            name: name.clone(),
            context,
            worker,
            start_ns,
            duration_ns: end.saturating_sub(start_ns),
        });
    }
}

/// Called by a [`Completion`] (from any thread).
pub(crate) fn complete_async(block: BlockRef, error: Option<Error>, start_ns: u64) {
    record(&block, RunContext::INLINE, start_ns);
    let poison = error.map(|e| block.engine.new_poison(e));
    complete(block, poison, None);
}

/// Releases a finished block's vars and hands on what became ready (step 4 of the module
/// docs). On a worker of the block's own engine, the block is then recycled if nothing else
/// refers to it, and the completion is counted in the worker's batch; elsewhere the in-flight
/// count drops at once and the block is freed.
fn complete(mut block: BlockRef, poison: Option<Arc<Poison>>, ctx: Option<&WorkerCtx<'_>>) {
    let mut grants = Grants::new();
    release_vars(
        block.reads.iter().map(|v| &**v),
        block.writes.iter().map(|v| &**v),
        poison.as_ref(),
        &mut grants,
    );
    if let Some(done) = &block.done {
        done.set();
    }
    hand_on(grants, ctx);
    match ctx {
        Some(ctx) if ctx.owns(&block) => {
            // A granter of this block may still hold a reference for a moment after its grant;
            // then the block is simply freed.
            if let Some(b) = Arc::get_mut(&mut block) {
                b.reads.clear();
                b.writes.clear();
                b.name = Cow::Borrowed("");
                b.done = None;
                ctx.recycle(block);
            }
            ctx.count_completion();
        }
        Some(_) => block.engine.finish(1),
        None => {
            block.engine.finish(1);
            recycle_here(block);
        }
    }
}

/// Releases a finished operation's vars, leaving `poison` on the written ones; the blocks this
/// grants go into `grants`.
fn release_vars<'a>(
    reads: impl Iterator<Item = &'a VarInner>,
    writes: impl Iterator<Item = &'a VarInner>,
    poison: Option<&Arc<Poison>>,
    grants: &mut Grants,
) {
    for var in reads {
        var.complete_read(grants);
    }
    for var in writes {
        var.complete_write(poison, grants);
    }
}

/// Takes one grant from each block in `grants`, dispatching those that become ready.
fn hand_on(grants: Grants, ctx: Option<&WorkerCtx<'_>>) {
    if grants.is_empty() {
        return; // the usual case, without moving the list into an iterator
    }
    for granted in grants {
        // AcqRel: see `submit`.
        if granted.wait.fetch_sub(1, Ordering::AcqRel) == 1 {
            dispatch(granted, ctx);
        }
    }
}

/// Blocks a thread keeps for its next pushes, at most.
const PUSH_CACHE_CAP: usize = 64;

/// Keeps a block completed off the workers (run inline by its pusher, or completed by an
/// asynchronous callback) for this thread's next push to the same engine, if nothing else
/// refers to it: a pusher running small operations inline then reuses one block instead of
/// allocating and moving a new one for every operation.
fn recycle_here(mut block: BlockRef) {
    let Some(b) = Arc::get_mut(&mut block) else {
        return;
    };
    b.reads.clear();
    b.writes.clear();
    b.name = Cow::Borrowed("");
    b.done = None;
    *b.body.get_mut() = None;
    // `try_with`: a thread being torn down (its cache gone) just frees the block.
    let _ = PUSH_CACHE.try_with(|cache| {
        let Ok(mut cache) = cache.try_borrow_mut() else {
            return;
        };
        let engine: *const Shared = &*block.engine;
        if cache.blocks.is_empty() {
            cache.engine = engine;
        }
        if std::ptr::eq(cache.engine, engine) && cache.blocks.len() < PUSH_CACHE_CAP {
            cache.blocks.push(block);
        }
    });
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_owned()
    }
}
