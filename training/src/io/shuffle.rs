//! The shuffles of MXNet's iterators, reproduced exactly: a Mersenne Twister (MT19937, as in
//! C++'s `std::mt19937` and numpy's legacy `RandomState`) and the two ways MXNet draws a
//! permutation from it.
//!
//! - `NDArrayIter` shuffles with numpy's global generator (`np.random.shuffle`): for an
//!   integer seed that is MT19937 seeded with `init_genrand(seed)`, and
//!   [`Mt19937::numpy_shuffle`] is its algorithm.
//! - `MNISTIter` shuffles in C++ with `std::shuffle(.., std::mt19937(seed))` as compiled into
//!   MXNet 1.9.1's `libmxnet.so` (libstdc++'s Fisher-Yates with the divide-and-reject
//!   `uniform_int_distribution`): [`Mt19937::libstdcxx_shuffle`].

const N: usize = 624;
const M: usize = 397;

/// The 32-bit Mersenne Twister, MT19937.
#[derive(Clone)]
pub(crate) struct Mt19937 {
    state: Box<[u32; N]>,
    next: usize,
}

impl std::fmt::Debug for Mt19937 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mt19937")
            .field("next", &self.next)
            .finish_non_exhaustive()
    }
}

impl Mt19937 {
    /// Seeded like `std::mt19937(seed)` and numpy's `np.random.seed(seed)` (`init_genrand`).
    pub(crate) fn new(seed: u32) -> Mt19937 {
        let mut state = Box::new([0u32; N]);
        state[0] = seed;
        for i in 1..N {
            let prev = state[i - 1];
            state[i] = 1_812_433_253u32
                .wrapping_mul(prev ^ (prev >> 30))
                .wrapping_add(i as u32);
        }
        Mt19937 { state, next: N }
    }

    fn twist(&mut self) {
        for k in 0..N {
            let y = (self.state[k] & 0x8000_0000) | (self.state[(k + 1) % N] & 0x7fff_ffff);
            let mag = if y & 1 == 1 { 0x9908_b0df } else { 0 };
            self.state[k] = self.state[(k + M) % N] ^ (y >> 1) ^ mag;
        }
        self.next = 0;
    }

    /// The next 32-bit output.
    pub(crate) fn next_u32(&mut self) -> u32 {
        if self.next >= N {
            self.twist();
        }
        let mut y = self.state[self.next];
        self.next += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^= y >> 18;
        y
    }

    /// numpy's legacy `random_interval(max)`: uniform in `0..=max` by masking and rejection.
    fn numpy_interval(&mut self, max: u64) -> u64 {
        if max == 0 {
            return 0;
        }
        let mask = u64::MAX >> max.leading_zeros();
        loop {
            let value = if max <= u64::from(u32::MAX) {
                u64::from(self.next_u32()) & mask
            } else {
                // numpy's legacy next_uint64: two draws, the first is the high word.
                ((u64::from(self.next_u32()) << 32) | u64::from(self.next_u32())) & mask
            };
            if value <= max {
                return value;
            }
        }
    }

    /// numpy's legacy `RandomState.shuffle` of a 1-D array.
    pub(crate) fn numpy_shuffle<T>(&mut self, values: &mut [T]) {
        for i in (1..values.len()).rev() {
            let j = self.numpy_interval(i as u64) as usize;
            values.swap(i, j);
        }
    }

    /// libstdc++'s `uniform_int_distribution(0, max)` over a 32-bit generator (the
    /// divide-and-reject form).
    fn libstdcxx_uniform(&mut self, max: u64) -> u64 {
        const RANGE: u64 = u32::MAX as u64;
        // Only ranges narrower than the generator's are drawn here: `max < 2^32 - 1`.
        let erange = max + 1;
        let scaling = RANGE / erange;
        let past = erange * scaling;
        loop {
            let r = u64::from(self.next_u32());
            if r < past {
                return r / scaling;
            }
        }
    }

    /// `std::shuffle(first, last, gen)` as MXNet 1.9.1's `libmxnet.so` runs it: for `i` in
    /// `1..n`, swap element `i` with one drawn uniformly from `0..=i`. (Checked against
    /// MXNet's `MNISTIter` orders.) Past 2^32 - 1 elements, where libstdc++ would combine two
    /// draws, the draw is numpy's 64-bit one instead: no dataset of MXNet's gets there.
    pub(crate) fn libstdcxx_shuffle<T>(&mut self, values: &mut [T]) {
        for i in 1..values.len() {
            let j = if (i as u64) < u64::from(u32::MAX) {
                self.libstdcxx_uniform(i as u64)
            } else {
                self.numpy_interval(i as u64)
            } as usize;
            values.swap(i, j);
        }
    }
}
