//! A seeded pseudo-random generator for random operators (xoshiro256++, seeded by SplitMix64).
//!
//! mxr's random operators draw from one `Rng` per device, guarded by its own engine var, so a
//! seed reproduces the same sequence. (MXNet's own generator is a different algorithm: seeded
//! results match mxr runs, not MXNet runs.)
//!
//! ```
//! use mxr_kernels::cpu::random::Rng;
//! let mut a = Rng::seed(42);
//! let mut b = Rng::seed(42);
//! assert_eq!(a.next_u64(), b.next_u64());
//! let u = a.uniform_f64();
//! assert!((0.0..1.0).contains(&u));
//! ```

/// xoshiro256++ state.
#[derive(Debug, Clone)]
pub struct Rng {
    s: [u64; 4],
}

fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Rng {
    /// A generator seeded from `seed`.
    pub fn seed(seed: u64) -> Rng {
        let mut st = seed;
        Rng {
            s: [
                splitmix(&mut st),
                splitmix(&mut st),
                splitmix(&mut st),
                splitmix(&mut st),
            ],
        }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let result = s[0].wrapping_add(s[3]).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// Uniform in [0, 1) with 53 random bits.
    pub fn uniform_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in [0, 1) as `f32` (24 random bits).
    pub fn uniform_f32(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 * (1.0 / (1u32 << 24) as f32)
    }

    /// Standard normal (Box–Muller on two uniforms).
    pub fn normal_f64(&mut self) -> f64 {
        let u1 = 1.0 - self.uniform_f64(); // (0, 1]: ln is finite
        let u2 = self.uniform_f64();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// Fills `out` with uniform values in [low, high).
    pub fn fill_uniform_f32(&mut self, out: &mut [f32], low: f32, high: f32) {
        for v in out {
            *v = low + (high - low) * self.uniform_f32();
        }
    }

    /// Fills `out` with normal values of mean `loc` and standard deviation `scale`.
    pub fn fill_normal_f32(&mut self, out: &mut [f32], loc: f32, scale: f32) {
        for v in out {
            *v = loc + scale * self.normal_f64() as f32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Rng;

    #[test]
    fn moments_are_right() {
        let mut rng = Rng::seed(7);
        let n = 200_000;
        let u: Vec<f64> = (0..n).map(|_| rng.uniform_f64()).collect();
        let mean = u.iter().sum::<f64>() / n as f64;
        assert!((mean - 0.5).abs() < 0.005, "uniform mean {mean}");
        let z: Vec<f64> = (0..n).map(|_| rng.normal_f64()).collect();
        let zm = z.iter().sum::<f64>() / n as f64;
        let zv = z.iter().map(|x| (x - zm) * (x - zm)).sum::<f64>() / n as f64;
        assert!(
            zm.abs() < 0.01 && (zv - 1.0).abs() < 0.02,
            "normal {zm} {zv}"
        );
        let mut other = Rng::seed(8);
        assert_ne!(Rng::seed(7).next_u64(), other.next_u64());
    }
}
