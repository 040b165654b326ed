//! Host detection: what CPU features this machine (or a capture of one)
//! supports, as an `ocifit_core::Target`.
//!
//! (Being written: see issue "Host detection".)

use ocifit_core::{FeatureId, Target};

/// A detected host: the target to select for, and what the detection saw.
#[derive(Debug, Clone)]
pub struct HostProfile {
    pub target: Target,
    /// Features the CPU has but the OS did not enable (e.g. AVX-512 without ZMM state).
    pub disabled_by_os: Vec<FeatureId>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostError {
    #[error("host detection is not supported on {0}")]
    Unsupported(String),
}

/// Detect this machine.
pub fn detect() -> Result<HostProfile, HostError> {
    Err(HostError::Unsupported(format!("{}/{} yet", std::env::consts::OS, std::env::consts::ARCH)))
}
