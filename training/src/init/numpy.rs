//! numpy's legacy `RandomState`, for reproducing MXNet scripts that draw their data or initial
//! weights with numpy (`np.random.RandomState(1234).uniform(-0.07, 0.07, size)`).

use crate::io::shuffle::Mt19937;

/// numpy's `np.random.RandomState(seed)` (MT19937 with `init_genrand`): the same doubles, in the
/// same order.
///
/// ```
/// use mxr::init::NumpyRandomState;
/// let mut rs = NumpyRandomState::new(0);
/// assert_eq!(rs.random_sample(), 0.5488135039273248); // np.random.RandomState(0).random_sample()
/// let mut rs = NumpyRandomState::new(1234);
/// let w = rs.uniform_f32(-0.07, 0.07, 2);
/// assert_eq!(w, vec![-0.043187275528907776f32, 0.017095228657126427]);
/// ```
#[derive(Debug, Clone)]
pub struct NumpyRandomState {
    mt: Mt19937,
}

impl NumpyRandomState {
    /// Seeded as `np.random.RandomState(seed)`.
    pub fn new(seed: u32) -> NumpyRandomState {
        NumpyRandomState {
            mt: Mt19937::new(seed),
        }
    }

    /// numpy's `random_sample()`: a double in [0, 1) from 53 random bits.
    pub fn random_sample(&mut self) -> f64 {
        let a = f64::from(self.mt.next_u32() >> 5);
        let b = f64::from(self.mt.next_u32() >> 6);
        (a * 67_108_864.0 + b) / 9_007_199_254_740_992.0
    }

    /// numpy's `randint(low, high, size=n)` (legacy, 64-bit integers): draws masked to the
    /// next power of two above `high - 1 - low`, retried while out of range. An empty range
    /// (`high <= low`) gives `low` every time.
    ///
    /// ```
    /// use mxr::init::NumpyRandomState;
    /// let labels = NumpyRandomState::new(0).randint(0, 1000, 4);
    /// assert_eq!(labels, vec![684, 559, 629, 192]); // np.random.RandomState(0).randint(0, 1000, 4)
    /// ```
    pub fn randint(&mut self, low: i64, high: i64, n: usize) -> Vec<i64> {
        let span = high.saturating_sub(low).saturating_sub(1).max(0) as u64;
        let mask = u64::MAX >> span.leading_zeros().min(63);
        let mask = if span == 0 { 0 } else { mask };
        (0..n)
            .map(|_| {
                if span == 0 {
                    return low;
                }
                loop {
                    let draw = if span <= u64::from(u32::MAX) {
                        u64::from(self.mt.next_u32()) & mask
                    } else {
                        let hi = u64::from(self.mt.next_u32());
                        ((hi << 32) | u64::from(self.mt.next_u32())) & mask
                    };
                    if draw <= span {
                        return low + draw as i64;
                    }
                }
            })
            .collect()
    }

    /// numpy's `uniform(low, high, size=n)`, then `.astype(np.float32)`.
    pub fn uniform_f32(&mut self, low: f64, high: f64, n: usize) -> Vec<f32> {
        (0..n)
            .map(|_| (low + (high - low) * self.random_sample()) as f32)
            .collect()
    }
}
