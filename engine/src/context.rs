//! Devices: where data lives and where an operation runs.

use std::fmt;

/// The kind of device, with MXNet's numeric codes (used in `.params` files and symbol JSON).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(i32)]
pub enum DeviceType {
    /// Host memory and the CPU worker pool (MXNet code 1).
    Cpu = 1,
    /// A CUDA device (MXNet code 2).
    Gpu = 2,
    /// Page-locked host memory, computed on by the CPU pool (MXNet code 3).
    CpuPinned = 3,
}

impl DeviceType {
    /// MXNet's numeric device-type code: 1 = cpu, 2 = gpu, 3 = cpu_pinned.
    pub fn code(self) -> i32 {
        self as i32
    }

    /// The device type for an MXNet numeric code, or `None` for an unknown code.
    pub fn from_code(code: i32) -> Option<Self> {
        match code {
            1 => Some(DeviceType::Cpu),
            2 => Some(DeviceType::Gpu),
            3 => Some(DeviceType::CpuPinned),
            _ => None,
        }
    }
}

/// A device: its type and its index (`cpu(0)`, `gpu(1)`), as in MXNet's `mx.Context`.
///
/// ```
/// use mxr_engine::{Context, DeviceType};
/// let c = Context::gpu(1);
/// assert_eq!(c.device_type(), DeviceType::Gpu);
/// assert_eq!(c.device_type().code(), 2);
/// assert_eq!(c.to_string(), "gpu(1)");
/// assert_eq!(Context::default(), Context::cpu(0));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Context {
    dev_type: DeviceType,
    dev_id: u32,
}

impl Context {
    /// The CPU with index `dev_id` (MXNet's `mx.cpu(n)`; the index only separates data, the CPU
    /// pool is shared).
    pub const fn cpu(dev_id: u32) -> Self {
        Context {
            dev_type: DeviceType::Cpu,
            dev_id,
        }
    }

    /// The CUDA device `dev_id` (MXNet's `mx.gpu(n)`).
    pub const fn gpu(dev_id: u32) -> Self {
        Context {
            dev_type: DeviceType::Gpu,
            dev_id,
        }
    }

    /// Page-locked host memory (MXNet's `mx.cpu_pinned(n)`).
    pub const fn cpu_pinned(dev_id: u32) -> Self {
        Context {
            dev_type: DeviceType::CpuPinned,
            dev_id,
        }
    }

    /// A context from its parts.
    pub const fn new(dev_type: DeviceType, dev_id: u32) -> Self {
        Context { dev_type, dev_id }
    }

    /// The device type.
    pub fn device_type(&self) -> DeviceType {
        self.dev_type
    }

    /// The device index.
    pub fn device_id(&self) -> u32 {
        self.dev_id
    }

    /// Whether operations in this context run on the CPU worker pool (cpu and cpu_pinned).
    pub fn is_cpu(&self) -> bool {
        matches!(self.dev_type, DeviceType::Cpu | DeviceType::CpuPinned)
    }
}

impl Default for Context {
    fn default() -> Self {
        Context::cpu(0)
    }
}

impl fmt::Display for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self.dev_type {
            DeviceType::Cpu => "cpu",
            DeviceType::Gpu => "gpu",
            DeviceType::CpuPinned => "cpu_pinned",
        };
        write!(f, "{name}({})", self.dev_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for t in [DeviceType::Cpu, DeviceType::Gpu, DeviceType::CpuPinned] {
            assert_eq!(DeviceType::from_code(t.code()), Some(t));
        }
        assert_eq!(DeviceType::from_code(0), None);
        assert_eq!(DeviceType::from_code(4), None);
        assert_eq!(Context::cpu_pinned(0).to_string(), "cpu_pinned(0)");
        assert!(Context::cpu_pinned(0).is_cpu());
        assert!(!Context::gpu(0).is_cpu());
    }
}
