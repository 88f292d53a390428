//! The condition types and reasons each kind writes into `status.conditions`, as typed
//! names: a controller cannot misspell one, and a reader (the API, the dashboard's
//! generator, a test) finds them all here.

/// A name written into a condition's `type` or `reason`.
pub trait ConditionName: Copy {
    /// The name as it appears in status.
    fn as_str(self) -> &'static str;
}

macro_rules! names {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vdoc])* $variant),+
        }

        impl $name {
            /// Every name, in declaration order.
            pub const ALL: &[$name] = &[$(Self::$variant),+];

            /// The name as it appears in status.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => stringify!($variant)),+
                }
            }
        }

        impl ConditionName for $name {
            fn as_str(self) -> &'static str {
                $name::as_str(self)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

names! {
    /// The conditions of a LoadTest.
    LoadTestCondition {
        /// True while the test waits for a free slot on its cluster.
        Queued,
        /// The runner Job was created in the target cluster.
        RunnerCreated,
        /// Whether the target cluster could be used at the last attempt.
        ClusterReachable,
        /// The test is over (reason Succeeded, Failed or NotMeasured).
        Complete,
        /// The runner was removed after ttlSecondsAfterFinished.
        RunnerDeleted,
        /// Set False (reason RunnerSimulated) when the runner ran on a simulated (kwok) node
        /// and so measured nothing; the test then ends Completed.
        Measured,
        /// After the test finished: True once no runner pod runs any more (the slot on the
        /// cluster is free), False while one still does.
        RunnerStopped,
    }
}

names! {
    /// The reasons of a LoadTest's conditions.
    LoadTestConditionReason {
        /// Queued: the cluster has no free slot.
        WaitingForSlot,
        /// Queued turned False: a slot is free.
        Admitted,
        /// RunnerCreated.
        JobCreated,
        /// ClusterReachable is True.
        Reachable,
        /// ClusterReachable is False.
        ClusterUnavailable,
        /// Complete, without a failure.
        Succeeded,
        /// Complete, with a failure (status.reason says which).
        Failed,
        /// Complete, phase Completed: the runner ran but measured nothing.
        NotMeasured,
        /// RunnerDeleted.
        TTLExpired,
        /// Measured is False: the runner ran on a simulated (kwok) node.
        RunnerSimulated,
        /// RunnerStopped is True.
        PodsStopped,
        /// RunnerStopped is False.
        PodsRunning,
    }
}

names! {
    /// The conditions of a ScalingExperiment.
    ExperimentCondition {
        /// Every target resolved to the HPA that scales it.
        TargetsResolved,
        /// The cooldown is long enough to see the targets scale down.
        CooldownSufficient,
        /// Whether the cluster's HPAs could be read at the last attempt.
        ClusterReachable,
        /// The experiment is over (reason Completed or the failure reason).
        Complete,
    }
}

names! {
    /// The reasons of a ScalingExperiment's conditions (Complete's failures use
    /// [`crate::scaling_experiment::ExperimentReason`]).
    ExperimentConditionReason {
        /// TargetsResolved is True.
        Resolved,
        /// TargetsResolved is False.
        NoHpa,
        /// CooldownSufficient is False.
        ShorterThanStabilizationWindow,
        /// CooldownSufficient is True.
        ExceedsStabilizationWindow,
        /// ClusterReachable is True.
        Reachable,
        /// ClusterReachable is False.
        ClusterUnavailable,
        /// Complete, without a failure.
        Completed,
    }
}

names! {
    /// The condition a LoadTest or ScalingExperiment with spec.baseline gets when it
    /// finishes.
    ComparisonCondition {
        /// True when a metric is worse than the baseline's past its tolerance (the message
        /// names which), False when all are within tolerance, Unknown when nothing could be
        /// compared (the reason says why).
        RegressionDetected,
    }
}

names! {
    /// The reasons of RegressionDetected.
    ComparisonReason {
        /// True: at least one metric passed its tolerance.
        Regressed,
        /// False: every compared metric is within its tolerance.
        WithinTolerance,
        /// Unknown: spec.baseline names no run in this namespace, or no finished run has
        /// its labels.
        BaselineNotFound,
        /// Unknown: the named baseline had not finished when this run did.
        BaselineNotFinished,
        /// Unknown: the baseline measured nothing (e.g. it ran on a simulated node).
        BaselineNotMeasured,
        /// Unknown: this run measured nothing (e.g. RunnerSimulated, or it failed without
        /// results).
        NotMeasured,
        /// Unknown: the runs measured no metric in common (e.g. a stress test, or both
        /// runs' percentiles are per runner and nothing else was measured).
        NothingToCompare,
    }
}

names! {
    /// The conditions of a TestSchedule.
    ScheduleCondition {
        /// True while the schedule creates runs (reason Scheduled); False when it is
        /// suspended or its schedule or time zone is invalid (the reason says which).
        Ready,
        /// True after a due run was skipped (reason ConcurrencyForbidden or
        /// MissedStartingDeadline), False once a run is created again.
        RunSkipped,
    }
}

names! {
    /// The reasons of a TestSchedule's conditions.
    ScheduleConditionReason {
        /// Ready is True.
        Scheduled,
        /// Ready is False: spec.suspend is true.
        Suspended,
        /// Ready is False: spec.schedule is not a cron schedule.
        ScheduleInvalid,
        /// Ready is False: spec.timeZone is not a known IANA time zone.
        TimeZoneInvalid,
        /// RunSkipped is True: concurrencyPolicy Forbid and a run was still active.
        ConcurrencyForbidden,
        /// RunSkipped is True: the run was due longer ago than startingDeadlineSeconds.
        MissedStartingDeadline,
        /// RunSkipped is False: a run was created.
        RunCreated,
    }
}

names! {
    /// The conditions of a ManagedCluster.
    ClusterCondition {
        /// The API server answered with the kubeconfig's credentials.
        Reachable,
        /// Every node is Ready.
        NodesReady,
        /// spec.paused is true.
        Paused,
        /// The cluster's VMs exist, run and have addresses (provider tart).
        Provisioned,
        /// `kubeadm init` ran on the control plane and the kubeconfig Secret is written
        /// (provider tart).
        Bootstrapped,
        /// Every worker passed the network preflight and joined (provider tart).
        Joined,
        /// Every addon of spec.addons is installed and Ready in the cluster (provider tart).
        AddonsReady,
        /// Every node resolves the platform's stable names (the registry's and the
        /// platform's API name) to the platform's current address (provider tart).
        PlatformNames,
    }
}

names! {
    /// The reasons of a ManagedCluster's conditions.
    ClusterConditionReason {
        /// Paused is True.
        Paused,
        /// Paused turned False.
        Resumed,
        /// The host agent's VM API is not configured (its Secret is missing or invalid).
        HostAgentMissing,
        /// The host agent's VM API did not answer.
        HostAgentUnreachable,
        /// The host agent refused the operator's token.
        HostAgentUnauthorized,
        /// Provisioned is False: the host refused a VM that would overcommit it.
        CapacityExceeded,
        /// Provisioned is False: the hypervisor's VM limit is reached.
        VmLimitReached,
        /// Provisioned is False: a VM exists with other resources than spec.nodes asks.
        VmSpecMismatch,
        /// Provisioned is False: a VM operation failed otherwise.
        VmFailed,
        /// Provisioned is False: VMs are being created.
        CreatingVms,
        /// Provisioned is False: VMs are being started.
        StartingVms,
        /// Provisioned is False: a VM has no IP address yet.
        WaitingForAddress,
        /// Provisioned is True.
        VmsRunning,
        /// Bootstrapped is False: the operator's SSH key Secret is missing.
        SshKeyMissing,
        /// Bootstrapped or Joined is False: a VM has no guest agent for the first contact.
        GuestAgentMissing,
        /// Bootstrapped or Joined is False: SSH to a VM failed (refused, timed out, key
        /// not accepted).
        SshFailed,
        /// Bootstrapped or Joined is False: a VM presented another host key than pinned.
        HostKeyChanged,
        /// Bootstrapped is False: SSH access is being set up or kubeadm init runs.
        Initializing,
        /// Bootstrapped is False: kubeadm init failed; the message ends with its stderr.
        KubeadmFailed,
        /// Bootstrapped is True.
        Initialized,
        /// Joined is False: workers are joining.
        Joining,
        /// Joined is False: a worker cannot reach the control plane.
        PreflightFailed,
        /// Joined is False: kubeadm join failed; the message ends with its stderr.
        JoinFailed,
        /// Joined is True.
        AllJoined,
        /// AddonsReady is False: the addons are being installed or are not Ready yet.
        AddonsNotReady,
        /// AddonsReady is True.
        AddonsInstalled,
        /// PlatformNames is False: the platform's address is unknown (the host agent's
        /// Secret does not name the platform's VM, or the VM has no address); nothing is done.
        PlatformAddressUnknown,
        /// PlatformNames is False: the names are being pointed at the platform's address.
        SettingPlatformNames,
        /// PlatformNames is True.
        PlatformNamesSet,
        /// PlatformNames is False: the step failed on a node; the message ends with its stderr.
        PlatformNamesFailed,
        /// Reachable is True.
        Connected,
        /// The kubeconfig Secret does not exist.
        SecretMissing,
        /// The operator may not read the kubeconfig Secret.
        SecretForbidden,
        /// Reading the kubeconfig Secret failed otherwise.
        SecretUnreadable,
        /// The kubeconfig is missing, malformed or unsupported.
        KubeconfigInvalid,
        /// The kubeconfig sets `insecure-skip-tls-verify` and spec.connection does not
        /// allow it.
        InsecureKubeconfig,
        /// The kubeconfig sets a `proxy-url` and spec.connection does not allow it.
        ProxyNotAllowed,
        /// The API server did not answer.
        Unreachable,
        /// The API server refused the credentials or their permissions.
        Unauthorized,
        /// NodesReady is unknown: the cluster cannot be reached.
        Unknown,
        /// NodesReady is False: the cluster has no nodes.
        NoNodes,
        /// NodesReady is True.
        AllNodesReady,
        /// NodesReady is False: some nodes are not Ready.
        NodesNotReady,
    }
}

impl ConditionName for crate::load_test::LoadTestReason {
    fn as_str(self) -> &'static str {
        self.name()
    }
}

impl ConditionName for crate::scaling_experiment::ExperimentReason {
    fn as_str(self) -> &'static str {
        self.name()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load_test::LoadTestReason;
    use crate::scaling_experiment::ExperimentReason;

    /// A name must be a PascalCase word: the API server and `kubectl wait --for=condition=`
    /// compare them literally.
    fn pascal(name: &str) -> bool {
        name.starts_with(|c: char| c.is_ascii_uppercase())
            && name.chars().all(|c| c.is_ascii_alphanumeric())
    }

    #[test]
    fn names_are_pascal_case_and_unique_per_kind() {
        let lists: [Vec<&str>; 10] = [
            ScheduleCondition::ALL.iter().map(|n| n.as_str()).collect(),
            ScheduleConditionReason::ALL
                .iter()
                .map(|n| n.as_str())
                .collect(),
            ComparisonCondition::ALL
                .iter()
                .map(|n| n.as_str())
                .collect(),
            ComparisonReason::ALL.iter().map(|n| n.as_str()).collect(),
            LoadTestCondition::ALL.iter().map(|n| n.as_str()).collect(),
            LoadTestConditionReason::ALL
                .iter()
                .map(|n| n.as_str())
                .collect(),
            ExperimentCondition::ALL
                .iter()
                .map(|n| n.as_str())
                .collect(),
            ExperimentConditionReason::ALL
                .iter()
                .map(|n| n.as_str())
                .collect(),
            ClusterCondition::ALL.iter().map(|n| n.as_str()).collect(),
            ClusterConditionReason::ALL
                .iter()
                .map(|n| n.as_str())
                .collect(),
        ];
        for list in lists {
            let mut unique = list.clone();
            unique.sort_unstable();
            unique.dedup();
            assert_eq!(unique.len(), list.len(), "{list:?}");
            assert!(list.iter().all(|n| pascal(n)), "{list:?}");
        }
        assert_eq!(
            LoadTestConditionReason::TTLExpired.to_string(),
            "TTLExpired"
        );
    }

    #[test]
    fn failure_reasons_read_as_in_status() {
        for r in LoadTestReason::ALL {
            assert_eq!(
                serde_json::to_value(r).expect("serializes"),
                serde_json::json!(ConditionName::as_str(*r))
            );
        }
        for r in ExperimentReason::ALL {
            assert_eq!(
                serde_json::to_value(r).expect("serializes"),
                serde_json::json!(ConditionName::as_str(*r))
            );
        }
        assert_eq!(
            ConditionName::as_str(LoadTestReason::OomKilled),
            "OOMKilled"
        );
    }
}
