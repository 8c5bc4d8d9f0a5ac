//! Normalising an operation's read and write sets.
//!
//! Each var counts once, and a var that is both read and written counts as written
//! (MXNet's `DeduplicateVarHandle`): the operation then holds it exclusively.

use std::sync::Arc;

use smallvec::SmallVec;

use crate::Var;
use crate::var::VarInner;

/// Above this many vars, deduplicate by sorting instead of pairwise comparison.
const SMALL: usize = 16;

/// The normalised vars of one operation, borrowed from the pusher's lists (no reference counts
/// taken): what `submit` registers, and copies into a block only when it needs one.
pub(crate) type VarRefs<'a> = SmallVec<[&'a Arc<VarInner>; 4]>;

/// Fills `out_reads` and `out_writes` (cleared first) with the vars, duplicates removed and
/// written vars removed from the reads.
pub(crate) fn normalize_into<'a>(
    reads: &'a [&'a Var],
    writes: &'a [&'a Var],
    out_reads: &mut VarRefs<'a>,
    out_writes: &mut VarRefs<'a>,
) {
    out_writes.clear();
    out_reads.clear();
    dedup(writes.iter().map(|v| &v.0), &[], out_writes);
    dedup(reads.iter().map(|v| &v.0), out_writes, out_reads);
}

fn dedup<'a>(
    vars: impl ExactSizeIterator<Item = &'a Arc<VarInner>>,
    exclude: &[&'a Arc<VarInner>],
    out: &mut VarRefs<'a>,
) {
    if vars.len() + exclude.len() <= SMALL {
        for v in vars {
            if !out.iter().chain(exclude.iter()).any(|x| Arc::ptr_eq(x, v)) {
                out.push(v);
            }
        }
        return;
    }
    let mut excluded: Vec<*const VarInner> = exclude.iter().map(|v| Arc::as_ptr(v)).collect();
    excluded.sort_unstable();
    let mut seen = std::collections::HashSet::with_capacity(vars.len());
    for v in vars {
        let p = Arc::as_ptr(v);
        if excluded.binary_search(&p).is_err() && seen.insert(p) {
            out.push(v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The ids of the normalised (reads, writes).
    fn normalize(reads: &[&Var], writes: &[&Var]) -> (Vec<u64>, Vec<u64>) {
        let (mut r, mut w) = (VarRefs::new(), VarRefs::new());
        normalize_into(reads, writes, &mut r, &mut w);
        let ids = |list: &VarRefs<'_>| list.iter().map(|v| v.id).collect();
        (ids(&r), ids(&w))
    }

    #[test]
    fn duplicates_count_once_and_read_write_is_write() {
        let (a, b, c) = (Var::new(), Var::new(), Var::new());
        let (r, w) = normalize(&[&a, &b, &a, &c], &[&c, &c]);
        assert_eq!(r, vec![a.id(), b.id()]);
        assert_eq!(w, vec![c.id()]);
    }

    #[test]
    fn large_sets_dedup_too() {
        let vars: Vec<Var> = (0..40).map(|_| Var::new()).collect();
        let reads: Vec<&Var> = vars.iter().chain(vars.iter()).collect();
        let writes: Vec<&Var> = vars[..10].iter().collect();
        let (r, w) = normalize(&reads, &writes);
        assert_eq!(w.len(), 10);
        assert_eq!(r, vars[10..].iter().map(Var::id).collect::<Vec<_>>());
    }
}
