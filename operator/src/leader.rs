//! Leader election on a `coordination.k8s.io/v1` Lease, so several replicas are safe: only
//! the leader reconciles, every replica serves the API.
//!
//! The shape of client-go's elector, in the operator's observe → decide → act form:
//! [`observe`] reads the Lease, [`decide`] (pure, table-tested) picks the next step from
//! it, this replica's memory and the clock, and the loop in [`run`] carries it out with
//! optimistic concurrency (a `replace` that carries the Lease's resourceVersion, so two
//! replicas can never both win a round).
//!
//! Why not a crate: `kube-lease-manager` (the maintained one for kube 5) keeps a leader
//! leading while its renewals fail, so after a partition two replicas would reconcile at
//! once. Here a leader that has not renewed within the renew deadline steps down, which
//! is before any other replica may take the Lease (it waits a whole lease duration after
//! the last change it saw, measured on its own clock, so clock skew does not matter).
//!
//! A replica that loses leadership stops: [`run`] returns [`LeaderError::Lost`] and the
//! operator exits, so it restarts as a follower with fresh caches (what client-go's users
//! do too).

use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::Timestamp;
use kube::Client;
use kube::api::{Api, ObjectMeta, PostParams};
use tokio::sync::watch;

/// Where and how this replica takes part in the election.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaderConfig {
    /// The Lease's name.
    pub lease: String,
    /// The Lease's namespace.
    pub namespace: String,
    /// This replica's identity in the Lease (the Pod's name).
    pub identity: String,
    /// How long a Lease holds without renewal (whole seconds, at least 1).
    pub lease_duration: Duration,
}

impl LeaderConfig {
    /// A leader that has not renewed for this long steps down: two thirds of the lease
    /// duration (client-go's 10 s of 15 s), before any follower may take over.
    pub fn renew_deadline(&self) -> Duration {
        self.lease_duration * 2 / 3
    }

    /// How often the Lease is read and renewed: a seventh of the lease duration (client-go's
    /// 2 s of 15 s), at least 100 ms.
    pub fn retry_period(&self) -> Duration {
        (self.lease_duration / 7).max(Duration::from_millis(100))
    }

    fn duration_seconds(&self) -> i32 {
        i32::try_from(self.lease_duration.as_secs().max(1)).unwrap_or(i32::MAX)
    }
}

/// Why the election stopped.
#[derive(Debug, thiserror::Error)]
pub enum LeaderError {
    /// This replica led and lost the Lease (another holder, or no renewal within the
    /// deadline).
    #[error(
        "lost leadership of Lease {namespace}/{lease}: {why}; stopping so this replica restarts as a follower"
    )]
    Lost {
        /// The Lease's namespace.
        namespace: String,
        /// The Lease's name.
        lease: String,
        /// What happened.
        why: String,
    },
}

/// The part of a Lease the election reads.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Record {
    /// The holder; none when the Lease was released.
    pub holder: Option<String>,
    /// When the holder last renewed (as the holder's clock saw it; compared only for change).
    pub renew_time: Option<Timestamp>,
    /// The holder's lease duration in seconds.
    pub duration_seconds: Option<i32>,
}

impl Record {
    fn of(lease: &Lease) -> Self {
        let spec = lease.spec.clone().unwrap_or_default();
        Self {
            holder: spec.holder_identity.filter(|h| !h.is_empty()),
            renew_time: spec.renew_time.map(|t| t.0),
            duration_seconds: spec.lease_duration_seconds,
        }
    }
}

/// What this replica remembers between rounds.
#[derive(Clone, Debug)]
pub struct Memory {
    /// The Lease record last seen, and when (on this replica's clock) it last changed.
    pub seen: Option<(Record, Instant)>,
    /// Whether this replica leads.
    pub leading: bool,
    /// When this replica last created, took or renewed the Lease.
    pub renewed: Option<Instant>,
}

/// The next step of the election.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// No Lease yet: create it, held by this replica.
    Create,
    /// The Lease is free or expired: take it.
    Take,
    /// This replica holds it: renew.
    Renew,
    /// Someone else holds it and it has not expired: wait.
    Follow,
    /// This replica led and must stop.
    StepDown(Lost),
}

/// Why a leader steps down.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lost {
    /// Another replica holds the Lease.
    Taken,
    /// No renewal succeeded within the renew deadline.
    NotRenewed,
}

/// The next step, from the Lease as observed (`None`: it does not exist, `Some(None)`:
/// could not be read), this replica's memory and the time.
pub fn decide(
    lease: Option<Option<&Record>>,
    memory: &Memory,
    config: &LeaderConfig,
    now: Instant,
) -> Step {
    if memory.leading
        && memory
            .renewed
            .is_none_or(|at| now.saturating_duration_since(at) >= config.renew_deadline())
    {
        return Step::StepDown(Lost::NotRenewed);
    }
    let record = match lease {
        None => return Step::Create,
        // Unreadable: nothing to act on; a leader's deadline above still runs.
        Some(None) => return Step::Follow,
        Some(Some(record)) => record,
    };
    match &record.holder {
        Some(holder) if *holder == config.identity => Step::Renew,
        None => Step::Take,
        Some(_) => {
            if memory.leading {
                return Step::StepDown(Lost::Taken);
            }
            // Expired when it has not changed for a whole lease duration of its holder,
            // on this replica's clock.
            let duration = record
                .duration_seconds
                .and_then(|s| u64::try_from(s).ok())
                .map_or(config.lease_duration, Duration::from_secs);
            let unchanged_since = memory
                .seen
                .as_ref()
                .filter(|(seen, _)| seen == record)
                .map_or(now, |(_, at)| *at);
            if now.saturating_duration_since(unchanged_since) >= duration {
                Step::Take
            } else {
                Step::Follow
            }
        }
    }
}

/// Reads the Lease: `Ok(None)` when it does not exist.
pub async fn observe(api: &Api<Lease>, name: &str) -> Result<Option<Lease>, kube::Error> {
    api.get_opt(name).await
}

fn spec(config: &LeaderConfig, acquired: Option<MicroTime>, transitions: i32) -> LeaseSpec {
    let now = MicroTime(Timestamp::now());
    LeaseSpec {
        holder_identity: Some(config.identity.clone()),
        lease_duration_seconds: Some(config.duration_seconds()),
        acquire_time: Some(acquired.unwrap_or_else(|| now.clone())),
        renew_time: Some(now),
        lease_transitions: Some(transitions),
        ..LeaseSpec::default()
    }
}

/// Carries out `step` against the Lease last read (`current`); true when this replica now
/// holds the Lease. A conflict (another replica wrote first) is not an error: it is lost
/// for this round.
async fn act(
    api: &Api<Lease>,
    config: &LeaderConfig,
    step: Step,
    current: Option<&Lease>,
) -> Result<bool, kube::Error> {
    let written = match (step, current) {
        (Step::Create, _) => {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(config.lease.clone()),
                    namespace: Some(config.namespace.clone()),
                    labels: Some(
                        [(
                            "app.kubernetes.io/part-of".to_owned(),
                            "tart-infra".to_owned(),
                        )]
                        .into(),
                    ),
                    ..ObjectMeta::default()
                },
                spec: Some(spec(config, None, 0)),
            };
            api.create(&PostParams::default(), &lease).await
        }
        (Step::Take | Step::Renew, Some(current)) => {
            let old = current.spec.clone().unwrap_or_default();
            let (acquired, transitions) = if step == Step::Renew {
                (old.acquire_time, old.lease_transitions.unwrap_or(0))
            } else {
                (None, old.lease_transitions.unwrap_or(0).saturating_add(1))
            };
            let mut lease = current.clone();
            lease.spec = Some(spec(config, acquired, transitions));
            // The resourceVersion read makes this a compare-and-swap.
            api.replace(&config.lease, &PostParams::default(), &lease)
                .await
        }
        _ => return Ok(false),
    };
    match written {
        Ok(_) => Ok(true),
        Err(kube::Error::Api(s)) if s.code == 409 => Ok(false),
        Err(e) => Err(e),
    }
}

/// Gives the Lease up so a follower takes over at once instead of after it expires.
async fn release(api: &Api<Lease>, config: &LeaderConfig) {
    let Ok(Some(mut lease)) = observe(api, &config.lease).await else {
        return;
    };
    if Record::of(&lease).holder.as_deref() != Some(config.identity.as_str()) {
        return;
    }
    if let Some(spec) = lease.spec.as_mut() {
        spec.holder_identity = None;
        spec.lease_duration_seconds = Some(1);
        spec.renew_time = Some(MicroTime(Timestamp::now()));
    }
    match api
        .replace(&config.lease, &PostParams::default(), &lease)
        .await
    {
        Ok(_) => tracing::info!(lease = %config.lease, "released leadership"),
        Err(e) => {
            tracing::warn!(lease = %config.lease, error = %e, "cannot release the Lease; a follower takes over when it expires")
        }
    }
}

/// Takes part in the election until `shutdown` resolves (a leader then releases the
/// Lease) or leadership is lost. `leading` follows this replica's state.
pub async fn run(
    client: Client,
    config: LeaderConfig,
    leading: watch::Sender<bool>,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), LeaderError> {
    let api: Api<Lease> = Api::namespaced(client, &config.namespace);
    let mut memory = Memory {
        seen: None,
        leading: false,
        renewed: None,
    };
    tokio::pin!(shutdown);
    tracing::info!(lease = %config.lease, namespace = %config.namespace, identity = %config.identity, "joining the leader election");
    loop {
        let observed = observe(&api, &config.lease).await;
        let now = Instant::now();
        if let Err(e) = &observed {
            tracing::warn!(lease = %config.lease, error = %e, "cannot read the Lease");
        }
        let record = match &observed {
            Ok(Some(lease)) => Some(Some(Record::of(lease))),
            Ok(None) => None,
            Err(_) => Some(None),
        };
        if let Some(Some(record)) = &record
            && memory.seen.as_ref().is_none_or(|(seen, _)| seen != record)
        {
            memory.seen = Some((record.clone(), now));
        }
        let step = decide(record.as_ref().map(Option::as_ref), &memory, &config, now);
        if let Step::StepDown(lost) = step {
            let _ = leading.send(false);
            return Err(LeaderError::Lost {
                namespace: config.namespace.clone(),
                lease: config.lease.clone(),
                why: match lost {
                    Lost::Taken => format!(
                        "{} holds it now",
                        memory
                            .seen
                            .as_ref()
                            .and_then(|(r, _)| r.holder.clone())
                            .unwrap_or_default()
                    ),
                    Lost::NotRenewed => {
                        format!("no renewal succeeded within {:?}", config.renew_deadline())
                    }
                },
            });
        }
        let current = observed.ok().flatten();
        match act(&api, &config, step, current.as_ref()).await {
            Ok(true) => {
                memory.renewed = Some(now);
                if !memory.leading {
                    tracing::info!(lease = %config.lease, identity = %config.identity, "became the leader");
                    memory.leading = true;
                    let _ = leading.send(true);
                }
            }
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(lease = %config.lease, error = %e, ?step, "cannot write the Lease")
            }
        }
        tokio::select! {
            () = &mut shutdown => {
                if memory.leading {
                    release(&api, &config).await;
                    let _ = leading.send(false);
                }
                return Ok(());
            }
            () = tokio::time::sleep(config.retry_period()) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> LeaderConfig {
        LeaderConfig {
            lease: "tart-operator".into(),
            namespace: "tart-system".into(),
            identity: "me".into(),
            lease_duration: Duration::from_secs(15),
        }
    }

    fn held_by(holder: Option<&str>, renewed_at_secs: i64) -> Record {
        Record {
            holder: holder.map(str::to_owned),
            renew_time: Timestamp::from_second(renewed_at_secs).ok(),
            duration_seconds: Some(15),
        }
    }

    fn follower(seen: Option<(Record, Instant)>) -> Memory {
        Memory {
            seen,
            leading: false,
            renewed: None,
        }
    }

    #[test]
    fn timings_follow_client_go_ratios() {
        let c = config();
        assert_eq!(c.renew_deadline(), Duration::from_secs(10));
        assert_eq!(c.retry_period(), Duration::from_secs(15) / 7);
        let short = LeaderConfig {
            lease_duration: Duration::from_millis(500),
            ..config()
        };
        assert_eq!(short.retry_period(), Duration::from_millis(100));
        assert_eq!(short.duration_seconds(), 1);
    }

    #[test]
    fn steps_from_the_lease_and_the_memory() {
        let c = config();
        let t0 = Instant::now();
        let other = held_by(Some("other"), 100);
        let mine = held_by(Some("me"), 100);
        let free = held_by(None, 100);
        let leader = |renewed: Instant| Memory {
            seen: Some((mine.clone(), renewed)),
            leading: true,
            renewed: Some(renewed),
        };
        let s = |secs: u64| t0 + Duration::from_secs(secs);
        for (what, lease, memory, now, step) in [
            (
                "no Lease: create it",
                None,
                follower(None),
                t0,
                Step::Create,
            ),
            (
                "a released Lease is taken at once",
                Some(Some(&free)),
                follower(Some((free.clone(), t0))),
                t0,
                Step::Take,
            ),
            (
                "another holder, just seen: wait",
                Some(Some(&other)),
                follower(Some((other.clone(), t0))),
                t0,
                Step::Follow,
            ),
            (
                "another holder, unchanged for less than its duration: wait",
                Some(Some(&other)),
                follower(Some((other.clone(), t0))),
                s(14),
                Step::Follow,
            ),
            (
                "another holder, unchanged for its whole duration: take it",
                Some(Some(&other)),
                follower(Some((other.clone(), t0))),
                s(15),
                Step::Take,
            ),
            (
                "another holder renewed (the record changed): the clock restarts",
                Some(Some(&held_by(Some("other"), 110))),
                follower(Some((other.clone(), t0))),
                s(20),
                Step::Follow,
            ),
            (
                "the holder's own duration counts, not ours",
                Some(Some(&Record {
                    duration_seconds: Some(60),
                    ..other.clone()
                })),
                follower(Some((
                    Record {
                        duration_seconds: Some(60),
                        ..other.clone()
                    },
                    t0,
                ))),
                s(30),
                Step::Follow,
            ),
            (
                "the leader renews",
                Some(Some(&mine)),
                leader(t0),
                s(2),
                Step::Renew,
            ),
            (
                "a leader that finds another holder steps down",
                Some(Some(&other)),
                leader(t0),
                s(2),
                Step::StepDown(Lost::Taken),
            ),
            (
                "a leader that cannot read the Lease waits within its deadline",
                Some(None),
                leader(t0),
                s(9),
                Step::Follow,
            ),
            (
                "a leader without a renewal for the deadline steps down, whatever it reads",
                Some(None),
                leader(t0),
                s(10),
                Step::StepDown(Lost::NotRenewed),
            ),
            (
                "... also when the Lease still names it",
                Some(Some(&mine)),
                leader(t0),
                s(11),
                Step::StepDown(Lost::NotRenewed),
            ),
            (
                "a follower that cannot read the Lease waits",
                Some(None),
                follower(None),
                s(100),
                Step::Follow,
            ),
            (
                "a follower that finds itself named (a restart with the same name) renews",
                Some(Some(&mine)),
                follower(Some((mine.clone(), t0))),
                t0,
                Step::Renew,
            ),
        ] {
            assert_eq!(decide(lease, &memory, &c, now), step, "{what}");
        }
    }

    #[test]
    fn a_follower_takes_over_no_sooner_than_the_leader_steps_down() {
        // The safety margin: a leader stops at the renew deadline after its last renewal;
        // a follower needs the lease duration after it saw that renewal, which is later.
        let c = config();
        assert!(c.renew_deadline() < c.lease_duration);
    }
}
