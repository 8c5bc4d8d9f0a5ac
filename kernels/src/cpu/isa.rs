//! Which vector instruction set mxr's own CPU kernels use.
//!
//! The kernels are compiled for every instruction set they support and pick one at run time
//! (the binary never needs `target-cpu=native`): the best the CPU has, capped by the environment
//! variable `MXR_CPU_ISA` (`avx512`, `avx2` or `scalar`, read once). The cap lets an AVX-512
//! machine run and test the AVX2 kernels, as a user's CPU without AVX-512 would. Kernels that
//! take an [`Isa`] argument run exactly that one (tests compare them); the rest ask
//! [`Isa::current`].
//!
//! ```
//! use mxr_kernels::cpu::isa::Isa;
//! let isa = Isa::current();
//! assert!(isa <= Isa::detected());
//! assert!(Isa::Scalar.is_available());
//! ```

use std::sync::OnceLock;

/// A vector instruction set, ordered from the least to the most capable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Isa {
    /// Portable Rust: no vector intrinsics (the reference, and CPUs without AVX2).
    Scalar,
    /// AVX2 with FMA: 8 floats per register, 16 registers.
    Avx2,
    /// AVX-512F (with FMA): 16 floats per register, 32 registers.
    Avx512,
}

impl Isa {
    /// The best instruction set this CPU has.
    pub fn detected() -> Isa {
        static DETECTED: OnceLock<Isa> = OnceLock::new();
        *DETECTED.get_or_init(|| {
            #[cfg(target_arch = "x86_64")]
            {
                if std::arch::is_x86_feature_detected!("avx512f")
                    && std::arch::is_x86_feature_detected!("fma")
                {
                    return Isa::Avx512;
                }
                if std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("fma")
                {
                    return Isa::Avx2;
                }
            }
            Isa::Scalar
        })
    }

    /// What the kernels use: [`Isa::detected`], capped by `MXR_CPU_ISA` (`avx512`, `avx2`,
    /// `scalar`; case-insensitive) when it is set. An unknown value is ignored (with a
    /// warning on stderr, once).
    pub fn current() -> Isa {
        static CURRENT: OnceLock<Isa> = OnceLock::new();
        *CURRENT.get_or_init(|| {
            let detected = Isa::detected();
            match std::env::var("MXR_CPU_ISA") {
                Ok(v) => match Isa::parse(&v) {
                    Some(cap) => cap.min(detected),
                    None => {
                        eprintln!(
                            "mxr: MXR_CPU_ISA={v:?} is not one of avx512, avx2, scalar; using {}",
                            detected.name()
                        );
                        detected
                    }
                },
                Err(_) => detected,
            }
        })
    }

    /// Parses `avx512`, `avx2` or `scalar` (case-insensitive, surrounding spaces ignored).
    pub fn parse(name: &str) -> Option<Isa> {
        match name.trim().to_ascii_lowercase().as_str() {
            "avx512" | "avx-512" | "avx512f" => Some(Isa::Avx512),
            "avx2" => Some(Isa::Avx2),
            "scalar" | "none" => Some(Isa::Scalar),
            _ => None,
        }
    }

    /// The name `MXR_CPU_ISA` takes.
    pub fn name(self) -> &'static str {
        match self {
            Isa::Scalar => "scalar",
            Isa::Avx2 => "avx2",
            Isa::Avx512 => "avx512",
        }
    }

    /// Whether this CPU can run kernels of this instruction set.
    pub fn is_available(self) -> bool {
        self <= Isa::detected()
    }

    /// Every instruction set this CPU can run, the most capable first (for tests that compare
    /// them).
    pub fn available() -> Vec<Isa> {
        [Isa::Avx512, Isa::Avx2, Isa::Scalar]
            .into_iter()
            .filter(|i| i.is_available())
            .collect()
    }
}

impl std::fmt::Display for Isa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_order() {
        for isa in [Isa::Scalar, Isa::Avx2, Isa::Avx512] {
            assert_eq!(Isa::parse(isa.name()), Some(isa));
        }
        assert_eq!(Isa::parse(" AVX2 "), Some(Isa::Avx2));
        assert_eq!(Isa::parse("sse"), None);
        assert!(Isa::Scalar < Isa::Avx2 && Isa::Avx2 < Isa::Avx512);
        assert_eq!(Isa::available().last(), Some(&Isa::Scalar));
        assert!(Isa::current().is_available());
    }
}
