//! Capacity admission: a VM is created or started only when the CPUs and memory of the
//! VMs that run, plus its own, fit the host minus what is kept for macOS. Pure.

use vm_api::{Resources, VmError};

/// What is kept for the host itself (macOS, the agent, the user's apps).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reserve {
    /// CPUs kept.
    pub cpu: u32,
    /// Memory kept, in MiB.
    pub memory_mib: u64,
}

impl Default for Reserve {
    /// 2 CPUs and 4 GiB: enough for macOS and a browser next to the lab.
    fn default() -> Self {
        Self {
            cpu: 2,
            memory_mib: 4096,
        }
    }
}

/// Whether `vm` (not running) needing `need` fits next to what the `running` VMs take of
/// `host`, with `reserve` kept; [`VmError::CapacityExceeded`] with the numbers otherwise.
pub fn admit(
    vm: &str,
    need: Resources,
    host: Resources,
    running: Resources,
    reserve: Reserve,
) -> Result<(), VmError> {
    let free_cpu = host
        .cpu
        .saturating_sub(reserve.cpu)
        .saturating_sub(running.cpu);
    let free_memory = host
        .memory_mib
        .saturating_sub(reserve.memory_mib)
        .saturating_sub(running.memory_mib);
    if need.cpu > free_cpu || need.memory_mib > free_memory {
        return Err(VmError::capacity_exceeded(
            vm,
            need,
            (free_cpu, free_memory),
            host,
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(cpu: u32, memory_mib: u64) -> Resources {
        Resources {
            cpu,
            memory_mib,
            disk_gib: 20,
        }
    }

    const HOST: Resources = Resources {
        cpu: 10,
        memory_mib: 32_768,
        disk_gib: 500,
    };

    #[test]
    fn a_vm_fits_until_the_reserve() {
        let reserve = Reserve::default();
        admit("a", r(4, 8192), HOST, r(4, 8192), reserve).expect("8 of 8 CPUs");
        let err =
            admit("a", r(4, 8192), HOST, r(4, 8192).plus(r(1, 1024)), reserve).expect_err("9 of 8");
        assert_eq!(
            err,
            VmError::CapacityExceeded {
                vm: "a".into(),
                need_cpu: 4,
                need_memory_mib: 8192,
                free_cpu: 3,
                free_memory_mib: 32_768 - 4096 - 8192 - 1024,
                host_cpu: 10,
                host_memory_mib: 32_768,
            }
        );
        assert!(err.to_string().contains("3 CPUs"), "{err}");
    }

    #[test]
    fn memory_counts_too_and_nothing_overflows() {
        let reserve = Reserve {
            cpu: 0,
            memory_mib: 0,
        };
        assert!(admit("a", r(1, 32_769), HOST, Resources::zero(), reserve).is_err());
        admit("a", r(1, 32_768), HOST, Resources::zero(), reserve).expect("exactly the host");
        let huge = r(u32::MAX, u64::MAX).plus(r(u32::MAX, u64::MAX));
        assert!(admit("a", r(1, 1), HOST, huge, reserve).is_err());
        let big_reserve = Reserve {
            cpu: 64,
            memory_mib: u64::MAX,
        };
        assert!(admit("a", r(1, 1), HOST, Resources::zero(), big_reserve).is_err());
    }
}
