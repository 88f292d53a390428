//! A run's node usage record (pure): the target cluster's node CPU and memory before the run
//! (the last reading before it started), at its peak (the highest reading during it, folded
//! in at every look while it runs) and after it (the first reading a settle time after it
//! ended). The readings come from the cluster collector's metrics-API polls
//! ([`crate::collectors::usage::NodeSample`]); where there are none, the record says why and
//! never holds a zero it did not read.

use std::collections::BTreeMap;
use std::time::Duration;

use crds::common::Time;
use crds::node_usage::{NodeUsageFigures, NodeUsageRecord, NodeUsageSummary};
use k8s_openapi::jiff::{SignedDuration, Timestamp};

use crate::collectors::usage::NodeSample;
use crate::collectors::views::percent;

/// How old the last reading before the start may be to count as `before`.
pub const BEFORE_WINDOW: Duration = Duration::from_secs(120);
/// How long past the settle time a run waits for its `after` reading before it records why
/// there is none.
pub const AFTER_GRACE: Duration = Duration::from_secs(60);
/// How often a finished run looks again while it waits for its `after` reading.
const AFTER_POLL: Duration = Duration::from_secs(5);

/// What a node is, as the cluster's node cache says.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NodeFacts {
    /// Allocatable CPU, millicores.
    pub cpu_allocatable: Option<u64>,
    /// Allocatable memory, bytes.
    pub memory_allocatable: Option<u64>,
    /// kwok simulates it.
    pub simulated: bool,
}

/// The readings of a run's cluster, from its collector (no API call).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Readings {
    /// The recent polls, oldest first.
    pub samples: Vec<NodeSample>,
    /// The nodes by name.
    pub nodes: BTreeMap<String, NodeFacts>,
}

/// When the run ran.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Window {
    /// When its runner started.
    pub started: Timestamp,
    /// When it ended, if it has.
    pub finished: Option<Timestamp>,
}

fn plus(t: Timestamp, d: Duration) -> Timestamp {
    t.checked_add(SignedDuration::try_from(d).unwrap_or(SignedDuration::MAX))
        .unwrap_or(t)
}

fn minus(t: Timestamp, d: Duration) -> Timestamp {
    t.checked_sub(SignedDuration::try_from(d).unwrap_or(SignedDuration::MAX))
        .unwrap_or(t)
}

/// The oldest reading [`fold`] can still use for a run that started at `started` and has
/// the record `prev` (pure): the `before` window until a reading has been folded, then the
/// run's start once `before` is taken, then the second of the last reading folded. Readings
/// older than that change nothing, so a look needs only the ones since.
pub fn needed_since(prev: Option<&NodeUsageRecord>, started: Timestamp) -> Timestamp {
    match prev {
        Some(NodeUsageRecord {
            during_through: Some(through),
            ..
        }) => Timestamp::from_second(through.0.as_second()).unwrap_or(through.0),
        Some(NodeUsageRecord {
            before_at: Some(_), ..
        }) => started,
        _ => minus(started, BEFORE_WINDOW),
    }
}

/// A sample's node figures, when it has any.
fn figures(s: &NodeSample) -> Option<&std::collections::HashMap<String, (u64, u64)>> {
    s.nodes.as_ref().ok().filter(|n| !n.is_empty())
}

/// `prev` with `readings` folded in (pure). Idempotent: a reading is counted once however
/// often it is folded. `readings` is `None` when the cluster's collector is not there.
pub fn fold(
    prev: Option<&NodeUsageRecord>,
    readings: Option<&Readings>,
    run: Window,
    settle: Duration,
    now: Timestamp,
) -> NodeUsageRecord {
    let mut rec = prev.cloned().unwrap_or_default();
    if rec.settled() {
        return rec;
    }
    let end = run.finished.unwrap_or(now);
    let after_due = run.finished.map(|f| plus(f, settle));
    if let Some(r) = readings {
        let facts = |node: &str| r.nodes.get(node).cloned().unwrap_or_default();
        let at = |cpu: u64, memory: u64, f: &NodeFacts| NodeUsageFigures {
            cpu_millis: cpu,
            cpu_percent: percent(cpu, f.cpu_allocatable),
            memory_bytes: memory,
            memory_percent: percent(memory, f.memory_allocatable),
        };
        if rec.before_at.is_none() && rec.during_through.is_none() {
            let oldest = minus(run.started, BEFORE_WINDOW);
            if let Some((s, nodes)) = r
                .samples
                .iter()
                // Status times have whole seconds: a reading in the second the run
                // started in may be from just before it, and is the best there is.
                .filter(|s| s.at.as_second() <= run.started.as_second() && s.at >= oldest)
                .filter_map(|s| Some((s, figures(s)?)))
                .next_back()
            {
                for (node, (cpu, memory)) in nodes {
                    let f = facts(node);
                    entry(&mut rec.nodes, node, &f).before = Some(at(*cpu, *memory, &f));
                }
                rec.before_at = Some(Time(s.at));
            }
        }
        // Status times have whole seconds: a reading is new when its second is.
        let through = rec.during_through.as_ref().map(|t| t.0.as_second());
        for s in r
            .samples
            .iter()
            .filter(|s| s.at > run.started && s.at <= end)
            .filter(|s| through.is_none_or(|t| s.at.as_second() > t))
        {
            let Some(nodes) = figures(s) else { continue };
            for (node, (cpu, memory)) in nodes {
                let f = facts(node);
                let n = entry(&mut rec.nodes, node, &f);
                let p = n.peak.get_or_insert_with(|| at(*cpu, *memory, &f));
                if *cpu >= p.cpu_millis {
                    p.cpu_millis = *cpu;
                    p.cpu_percent = percent(*cpu, f.cpu_allocatable);
                }
                if *memory >= p.memory_bytes {
                    p.memory_bytes = *memory;
                    p.memory_percent = percent(*memory, f.memory_allocatable);
                }
            }
            rec.samples_during += 1;
            rec.during_through = Some(Time(s.at));
        }
        if let Some(due) = after_due
            && now >= due
            && let Some((s, nodes)) = r
                .samples
                .iter()
                .filter(|s| s.at >= due && s.at <= plus(due, AFTER_GRACE))
                .find_map(|s| Some((s, figures(s)?)))
        {
            for (node, (cpu, memory)) in nodes {
                let f = facts(node);
                entry(&mut rec.nodes, node, &f).after = Some(at(*cpu, *memory, &f));
            }
            rec.after_at = Some(Time(s.at));
        }
        rec.not_measured = if rec.nodes.is_empty() {
            Some(why_none(r, minus(run.started, BEFORE_WINDOW), now))
        } else {
            None
        };
    }
    if let Some(due) = after_due
        && rec.after_at.is_none()
        && now >= plus(due, AFTER_GRACE)
    {
        rec.after_missing = Some(match readings {
            None => "the operator had no reading of the cluster after the run (not connected)"
                .to_owned(),
            Some(r) => r
                .samples
                .iter()
                .filter(|s| s.at >= due && s.at <= plus(due, AFTER_GRACE))
                .rev()
                .find_map(|s| s.nodes.as_ref().err().cloned())
                .unwrap_or_else(|| {
                    "no reading of the nodes within a minute of the settle time after the run"
                        .to_owned()
                }),
        });
        if rec.nodes.is_empty() && rec.not_measured.is_none() {
            rec.not_measured = rec.after_missing.clone();
        }
    }
    rec
}

/// The summary of `node` in `nodes` (kept sorted by name), added when missing.
fn entry<'a>(
    nodes: &'a mut Vec<NodeUsageSummary>,
    node: &str,
    facts: &NodeFacts,
) -> &'a mut NodeUsageSummary {
    let i = match nodes.binary_search_by(|n| n.node.as_str().cmp(node)) {
        Ok(i) => i,
        Err(i) => {
            nodes.insert(
                i,
                NodeUsageSummary {
                    node: node.to_owned(),
                    ..NodeUsageSummary::default()
                },
            );
            i
        }
    };
    nodes[i].simulated |= facts.simulated;
    &mut nodes[i]
}

/// Why the readings between `from` and `to` hold no node figures.
fn why_none(r: &Readings, from: Timestamp, to: Timestamp) -> String {
    let within: Vec<&NodeSample> = r
        .samples
        .iter()
        .filter(|s| s.at >= from && s.at <= to)
        .collect();
    match within.iter().rev().find_map(|s| s.nodes.as_ref().err()) {
        Some(why) => why.clone(),
        None if within.is_empty() => {
            "no reading of the metrics API in that time (the operator was not polling this cluster)"
                .to_owned()
        }
        None => "metrics-server listed no node figures yet".to_owned(),
    }
}

/// Whether a run without a record ended too long ago to get one: the operator was not
/// watching it then (e.g. it ended before an upgrade), and today's readings are not its.
pub fn too_late(finished: Option<Timestamp>, settle: Duration, now: Timestamp) -> bool {
    finished.is_some_and(|f| now > plus(plus(f, settle), AFTER_GRACE))
}

/// How soon a finished run must look again for its `after` reading; `None` when it need not.
pub fn next_look(
    rec: &NodeUsageRecord,
    finished: Option<Timestamp>,
    settle: Duration,
    now: Timestamp,
) -> Option<Duration> {
    let f = finished?;
    if rec.settled() {
        return None;
    }
    let due = plus(f, settle);
    if now < due {
        let wait = Duration::try_from(now.duration_until(due)).unwrap_or(AFTER_POLL);
        return Some(wait + Duration::from_secs(1));
    }
    Some(AFTER_POLL)
}

#[cfg(test)]
#[path = "node_usage_tests.rs"]
mod tests;
