//! Normalising an operation's read and write sets.
//!
//! Each var counts once, and a var that is both read and written counts as written
//! (MXNet's `DeduplicateVarHandle`): the operation then holds it exclusively.

use std::sync::Arc;

use crate::Var;
use crate::operation::VarList;

/// Above this many vars, deduplicate by sorting instead of pairwise comparison.
const SMALL: usize = 16;

/// Fills `out_reads` and `out_writes` (cleared first) with the vars, duplicates removed and
/// written vars removed from the reads.
pub(crate) fn normalize_into(
    reads: &[&Var],
    writes: &[&Var],
    out_reads: &mut VarList,
    out_writes: &mut VarList,
) {
    out_writes.clear();
    out_reads.clear();
    dedup(writes.iter().map(|v| &v.0), &[], out_writes);
    dedup(reads.iter().map(|v| &v.0), out_writes, out_reads);
}

fn dedup<'a>(
    vars: impl ExactSizeIterator<Item = &'a Arc<crate::var::VarInner>>,
    exclude: &[Arc<crate::var::VarInner>],
    out: &mut VarList,
) {
    if vars.len() + exclude.len() <= SMALL {
        for v in vars {
            if !out.iter().chain(exclude.iter()).any(|x| Arc::ptr_eq(x, v)) {
                out.push(Arc::clone(v));
            }
        }
        return;
    }
    let mut excluded: Vec<*const crate::var::VarInner> = exclude.iter().map(Arc::as_ptr).collect();
    excluded.sort_unstable();
    let mut seen = std::collections::HashSet::with_capacity(vars.len());
    for v in vars {
        let p = Arc::as_ptr(v);
        if excluded.binary_search(&p).is_err() && seen.insert(p) {
            out.push(Arc::clone(v));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(list: &VarList) -> Vec<u64> {
        list.iter().map(|v| v.id).collect()
    }

    fn normalize(reads: &[&Var], writes: &[&Var]) -> (VarList, VarList) {
        let (mut r, mut w) = (VarList::new(), VarList::new());
        normalize_into(reads, writes, &mut r, &mut w);
        (r, w)
    }

    #[test]
    fn duplicates_count_once_and_read_write_is_write() {
        let (a, b, c) = (Var::new(), Var::new(), Var::new());
        let (r, w) = normalize(&[&a, &b, &a, &c], &[&c, &c]);
        assert_eq!(ids(&r), vec![a.id(), b.id()]);
        assert_eq!(ids(&w), vec![c.id()]);
    }

    #[test]
    fn large_sets_dedup_too() {
        let vars: Vec<Var> = (0..40).map(|_| Var::new()).collect();
        let reads: Vec<&Var> = vars.iter().chain(vars.iter()).collect();
        let writes: Vec<&Var> = vars[..10].iter().collect();
        let (r, w) = normalize(&reads, &writes);
        assert_eq!(w.len(), 10);
        assert_eq!(ids(&r), vars[10..].iter().map(Var::id).collect::<Vec<_>>());
    }
}
