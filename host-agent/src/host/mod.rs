//! The Mac that runs the VMs: what `tart-infra up` observes of it ([`facts`]: operating
//! system, CPUs, memory, free disk, `tart`, the SSH key) and whether that host can run the
//! cluster file's VMs ([`preflight`], a pure function of those facts and the [`Config`]).
//! Nothing here creates or changes anything.
//!
//! [`Config`]: crate::config::Config

pub mod facts;
pub mod parse;
pub mod preflight;
pub mod test_override;

pub use facts::{
    Arch, FactsError, HostFacts, KeyState, Os, expand_home as expand_home_path, gather,
};
pub use preflight::{MIN_TART_VERSION, Problem, preflight};
