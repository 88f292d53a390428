//! The ScalingExperiment controller's decisions: a pure function of what was observed, the
//! operator's settings and the time, to the next status, one effect (create the child
//! LoadTest), what happens to the sampler, an event and when to look again.

use std::time::Duration;

use crds::LoadTest;
use crds::common::Time;
use crds::conditions::{ExperimentCondition as C, ExperimentConditionReason as R};
use crds::plan::{self, ExperimentPlan};
use crds::scaling_experiment::{
    ExperimentPhase, ExperimentReason, MAX_STATUS_EVENTS, MAX_STATUS_SAMPLES,
    ScalingExperimentStatus,
};
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;

use super::child::{child, child_name};
use super::kpis::{self, Point, Target, Window};
use super::observe::Observed;
use super::phase::{self, Child, Inputs, Step};
use super::series::{targets_of, window_of, with_series};
use super::targets::{COOLDOWN_MARGIN_SECS, TargetsError, cooldown_warning, resolve, windows};
use crate::conditions::{self, Stamp};
use crate::context::Settings;
use crate::controllers::error::Class;
use crate::controllers::status::Note;
use crate::controllers::{Next, comparison};

/// How often status is written at most while the phase stays the same.
pub const STATUS_EVERY: Duration = Duration::from_secs(10);
/// How often an experiment waiting for its cluster looks again.
const POLL: Duration = Duration::from_secs(5);

/// What to do in the platform cluster.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    /// Nothing.
    None,
    /// Create the child LoadTest (one that exists already is fine).
    CreateChild(Box<LoadTest>),
}

/// What happens to the experiment's sampler.
#[derive(Clone, Debug, PartialEq)]
pub enum Sampler {
    /// Leave it as it is.
    Keep,
    /// Start it (it is not running): these targets, this often, from these points (the
    /// samples in status, after an operator restart).
    Start {
        /// The targets, in sample order.
        targets: Vec<Target>,
        /// Between samples.
        every: Duration,
        /// The series so far.
        seed: Vec<Point>,
    },
    /// Stop it: the experiment is over.
    Stop,
}

/// The next step of one experiment.
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    /// The status to write (nothing is written when it equals the current one).
    pub status: ScalingExperimentStatus,
    /// The effect, carried out before the status is written.
    pub effect: Effect,
    /// The sampler.
    pub sampler: Sampler,
    /// An event besides the phase change's own.
    pub event: Option<Note>,
    /// When to look again.
    pub next: Next,
}

impl Effect {
    /// The effect's name, for logs.
    pub fn name(&self) -> &'static str {
        match self {
            Self::None => "None",
            Self::CreateChild(_) => "CreateChild",
        }
    }
}

impl Decision {
    fn new(status: ScalingExperimentStatus, next: Next) -> Self {
        Self {
            status,
            effect: Effect::None,
            sampler: Sampler::Keep,
            event: None,
            next,
        }
    }
}

/// Decides the next step of the observed experiment (pure); one with spec.baseline that
/// finishes is compared with its baseline once (never when its load measured nothing).
pub fn decide(o: &Observed, settings: &Settings, now: Timestamp) -> Decision {
    let mut d = step(o, settings, now);
    let se = o.experiment.as_ref();
    if let Some(baseline) = &se.spec.baseline
        && let Some(selector) = baseline.selector()
    {
        let s = &mut d.status;
        let mut facts = comparison::experiment_facts(s);
        if let Some(why) = simulated_load(o.child.as_ref()) {
            facts.readings = Err(why);
        }
        if comparison::due(facts.finished, &s.conditions) {
            let tolerance = comparison::experiment_tolerance(&baseline.tolerance);
            let verdict = comparison::verdict(se, &facts, selector, &o.baselines, tolerance);
            let at = Stamp {
                generation: se.metadata.generation,
                now,
            };
            comparison::record(verdict, &mut s.comparison, &mut s.conditions, at);
        }
    }
    d
}

/// Why the load measured nothing, when the child LoadTest says so (it ran on a simulated
/// node): the HPAs then saw no real load, and the KPIs are not compared.
fn simulated_load(child: Option<&LoadTest>) -> Option<String> {
    let s = child?.status.as_ref()?;
    (s.phase == Some(crds::load_test::LoadTestPhase::Completed)).then(|| {
        format!(
            "its load, LoadTest {}, measured nothing: {}",
            child.map(ResourceExt::name_any).unwrap_or_default(),
            s.reason.map_or("Completed", |r| r.name())
        )
    })
}

fn step(o: &Observed, settings: &Settings, now: Timestamp) -> Decision {
    let se = o.experiment.as_ref();
    let old = se.status.clone().unwrap_or_default();
    let at = Stamp {
        generation: se.metadata.generation,
        now,
    };
    if old.phase.is_some_and(ExperimentPhase::is_finished) {
        let mut d = Decision::new(old, Next::AwaitChange);
        if o.series.is_some() {
            d.sampler = Sampler::Stop;
        }
        return d;
    }
    let mut s = old.clone();
    s.observed_generation = se.metadata.generation;
    s.phase.get_or_insert(ExperimentPhase::Pending);
    let plan = match plan::plan_experiment(&se.spec) {
        Ok(plan) => plan,
        Err(e) => {
            let message = format!("invalid spec: {e}");
            return finished(s, Some(ExperimentReason::InvalidSpec), message, at);
        }
    };
    if let Some(message) = &o.unusable {
        return unavailable(o, s, message, settings, at);
    }
    // Memory: at most max_live_experiments series at once. One that has not begun waits; one
    // that has (e.g. after an operator restart) always resumes its sampler.
    let begun = o.series.is_some() || old.phase.is_some_and(|p| p != ExperimentPhase::Pending);
    if !begun && o.sampling >= settings.max_live_experiments {
        s.message = Some(format!(
            "waiting to start: {} experiments are sampling, at most {} at once (--max-live-experiments)",
            o.sampling, settings.max_live_experiments
        ));
        return Decision::new(s, Next::Requeue(POLL));
    }
    at.set(
        &mut s.conditions,
        C::ClusterReachable,
        true,
        R::Reachable,
        "",
    );
    let mut event = None;
    if s.deployments.is_empty() {
        match targets(o, &mut s, &plan, at) {
            Ok(warning) => event = warning,
            Err(e) => {
                return finished(s, Some(ExperimentReason::NoHpa), e.to_string(), at);
            }
        }
    }
    let mut d = progress(o, &old, s, &plan, at);
    d.event = d.event.or(event);
    if o.series.is_none() && d.sampler == Sampler::Keep {
        d.sampler = Sampler::Start {
            targets: targets_of(&d.status.deployments),
            every: Duration::from_secs(plan.sample_interval_secs.into()),
            seed: kpis::from_samples(&old.samples),
        };
    }
    d
}

/// Ends the experiment: phase, reason, Complete condition; the sampler stops.
fn finish(
    s: &mut ScalingExperimentStatus,
    failure: Option<ExperimentReason>,
    message: String,
    at: Stamp,
) {
    s.phase = Some(if failure.is_some() {
        ExperimentPhase::Failed
    } else {
        ExperimentPhase::Completed
    });
    s.reason = failure;
    match failure {
        Some(r) => at.set(&mut s.conditions, C::Complete, true, r, message.clone()),
        None => at.set(
            &mut s.conditions,
            C::Complete,
            true,
            R::Completed,
            message.clone(),
        ),
    }
    s.message = Some(message);
    s.finished_at = Some(Time(at.now));
}

fn finished(
    mut s: ScalingExperimentStatus,
    failure: Option<ExperimentReason>,
    message: String,
    at: Stamp,
) -> Decision {
    finish(&mut s, failure, message, at);
    let mut d = Decision::new(s, Next::AwaitChange);
    d.sampler = Sampler::Stop;
    d
}

/// The cluster cannot be read: wait, or fail once the unavailability window is over.
fn unavailable(
    o: &Observed,
    mut s: ScalingExperimentStatus,
    message: &str,
    settings: &Settings,
    at: Stamp,
) -> Decision {
    let cluster = o.experiment.spec.cluster.as_str();
    at.set(
        &mut s.conditions,
        C::ClusterReachable,
        false,
        R::ClusterUnavailable,
        message,
    );
    let window = settings.cluster_unavailable_timeout;
    if conditions::since(&s.conditions, C::ClusterReachable, at.now) >= window {
        let message = format!(
            "cluster {cluster} stayed unavailable for more than {}s: {message}",
            window.as_secs()
        );
        return finished(s, Some(ExperimentReason::ClusterUnavailable), message, at);
    }
    s.message = Some(format!("waiting for cluster {cluster}: {message}"));
    Decision::new(s, Next::Requeue(POLL))
}

/// Resolves the targets into `s` (deployments and conditions); the event warns of a
/// cooldown too short to see the scale-down.
fn targets(
    o: &Observed,
    s: &mut ScalingExperimentStatus,
    plan: &ExperimentPlan,
    at: Stamp,
) -> Result<Option<Note>, TargetsError> {
    let cluster = o.experiment.spec.cluster.as_str();
    let found = match resolve(&plan.targets, &o.hpas, cluster) {
        Ok(found) => found,
        Err(e) => {
            let message = e.to_string();
            at.set(
                &mut s.conditions,
                C::TargetsResolved,
                false,
                R::NoHpa,
                message,
            );
            return Err(e);
        }
    };
    let list: Vec<String> = found
        .iter()
        .map(|t| format!("{}/{} (HPA {})", t.namespace, t.deployment, t.hpa))
        .collect();
    at.set(
        &mut s.conditions,
        C::TargetsResolved,
        true,
        R::Resolved,
        list.join(", "),
    );
    let warning = cooldown_warning(plan.cooldown_secs, &windows(&found, &o.hpas));
    match &warning {
        Some(w) => at.set(
            &mut s.conditions,
            C::CooldownSufficient,
            false,
            R::ShorterThanStabilizationWindow,
            w.clone(),
        ),
        None => at.set(
            &mut s.conditions,
            C::CooldownSufficient,
            true,
            R::ExceedsStabilizationWindow,
            format!(
                "the cooldown of {}s exceeds every target HPA's scale-down stabilization window plus {COOLDOWN_MARGIN_SECS}s",
                plan.cooldown_secs
            ),
        ),
    }
    s.deployments = kpis::deployments(&[], &found, &Window::default());
    Ok(warning.map(|w| Note::warning("CooldownTooShort", w)))
}

/// The targets are known: take the experiment's next step from its phase, its child and
/// its samples, then say whether the numbers in status are due.
fn progress(
    o: &Observed,
    old: &ScalingExperimentStatus,
    mut s: ScalingExperimentStatus,
    plan: &ExperimentPlan,
    at: Stamp,
) -> Decision {
    let se = o.experiment.as_ref();
    let uid = se.metadata.uid.clone().unwrap_or_default();
    if let Some(lt) = &o.child
        && !lt.owner_references().iter().any(|r| r.uid == uid)
    {
        let message = format!(
            "LoadTest {} exists and does not belong to this experiment: delete it, or give the experiment another name",
            child_key(o)
        );
        return finished(s, Some(ExperimentReason::LoadTestFailed), message, at);
    }
    let points = o
        .series
        .clone()
        .unwrap_or_else(|| kpis::from_samples(&old.samples));
    let window = window_of(&s);
    let ends_at_baseline = se.spec.end_cooldown_when_baseline_restored;
    let inputs = Inputs {
        phase: s.phase,
        child: Child::of(o.child.as_ref(), s.load_test.is_some(), at.now),
        // Status times have whole seconds, so the runner's start can read up to a second
        // early: only samples from before the current second surely precede the load.
        samples: points
            .iter()
            .filter(|p| p.at.as_second() < at.now.as_second())
            .count(),
        load_ended: window.load_end,
        cooldown: Duration::from_secs(plan.cooldown_secs.into()),
        ends_at_baseline,
        restored: ends_at_baseline && kpis::restored(&points, s.deployments.len(), &window),
        now: at.now,
    };
    let every = Duration::from_secs(plan.sample_interval_secs.into());
    let step = phase::step(&inputs, every, STATUS_EVERY);
    let (effect, next) = match take(step, o, old, &mut s, plan, at) {
        Ok(taken) => taken,
        Err(decision) => return *decision,
    };
    let rps = o
        .child
        .as_ref()
        .and_then(|lt| lt.status.as_ref()?.results.as_ref()?.rps);
    numbers(o, old, s, &points, rps, effect, next)
}

/// `namespace/name` of the experiment's child.
fn child_key(o: &Observed) -> String {
    let se = o.experiment.as_ref();
    format!(
        "{}/{}",
        se.namespace().unwrap_or_default(),
        child_name(&se.name_any())
    )
}

/// Takes `step` into `s`: the effect and the longest wait before the next look, or a whole
/// decision when the step ends here (a child that cannot be created).
fn take(
    step: Step,
    o: &Observed,
    old: &ScalingExperimentStatus,
    s: &mut ScalingExperimentStatus,
    plan: &ExperimentPlan,
    at: Stamp,
) -> Result<(Effect, Duration), Box<Decision>> {
    let name = child_name(&o.experiment.name_any());
    match step {
        Step::Baseline => {
            s.phase = Some(ExperimentPhase::Baseline);
            s.started_at = Some(Time(at.now));
            s.message = Some(format!(
                "sampling {} target(s) every {}s for a baseline",
                s.deployments.len(),
                plan.sample_interval_secs
            ));
        }
        Step::Stay(after) => return Ok((Effect::None, after.min(STATUS_EVERY))),
        Step::CreateLoad => return create_load(o, old, s, plan, at).map(|e| (e, STATUS_EVERY)),
        Step::Loading(started) => {
            s.phase = Some(ExperimentPhase::Loading);
            s.load_started_at = Some(Time(started));
            s.message = Some(format!("load running since {started} (LoadTest {name})"));
        }
        Step::CoolingDown(ended, failure) => {
            s.phase = Some(ExperimentPhase::CoolingDown);
            s.load_ended_at = Some(Time(ended));
            let how = failure.map_or_else(String::new, |f| format!(" (the LoadTest failed: {f})"));
            let early = if o.experiment.spec.end_cooldown_when_baseline_restored {
                ", or until every target is back at its baseline"
            } else {
                ""
            };
            s.message = Some(format!(
                "load ended{how}; sampling for up to {}s of cooldown{early}",
                plan.cooldown_secs
            ));
        }
        Step::Completed(message) => finish(s, None, message, at),
        Step::Failed(reason, message) => finish(s, Some(reason), message, at),
    }
    Ok((Effect::None, STATUS_EVERY))
}

/// The baseline is taken: create the child LoadTest, or decide what its failed creation
/// means.
fn create_load(
    o: &Observed,
    old: &ScalingExperimentStatus,
    s: &mut ScalingExperimentStatus,
    plan: &ExperimentPlan,
    at: Stamp,
) -> Result<Effect, Box<Decision>> {
    let name = child_name(&o.experiment.name_any());
    match (&o.failure, child(&o.experiment, plan)) {
        (Some(f), _) if f.class == Class::Permanent => {
            let message = format!("cannot create LoadTest {}: {}", child_key(o), f.message);
            let failed = finished(
                s.clone(),
                Some(ExperimentReason::LoadTestFailed),
                message,
                at,
            );
            Err(Box::new(failed))
        }
        (Some(f), _) => {
            let why = format!("cannot create LoadTest {}: {}", child_key(o), f.message);
            Err(Box::new(Decision::new(old.clone(), Next::Retry(why))))
        }
        // No uid yet to own the child by: look again.
        (None, None) => Err(Box::new(Decision::new(old.clone(), Next::Requeue(POLL)))),
        (None, Some(lt)) => {
            s.load_test = Some(name.clone());
            s.message = Some(format!(
                "baseline taken; LoadTest {name} created, waiting for its runner to run"
            ));
            Ok(Effect::CreateChild(Box::new(lt)))
        }
    }
}

/// The numbers, from every sample so far (a phase change moved the window), go into status
/// at once on a change of phase or condition, else at most every [`STATUS_EVERY`].
fn numbers(
    o: &Observed,
    old: &ScalingExperimentStatus,
    mut s: ScalingExperimentStatus,
    points: &[Point],
    rps: Option<f64>,
    effect: Effect,
    next: Duration,
) -> Decision {
    let over = s.phase.is_some_and(ExperimentPhase::is_finished);
    let urgent = s.phase != old.phase
        || s.conditions != old.conditions
        || s.load_test != old.load_test
        || s.message != old.message;
    let due_in = o
        .since_written
        .map_or(Duration::ZERO, |since| STATUS_EVERY.saturating_sub(since));
    let (status, next) = if urgent || due_in.is_zero() {
        with_series(&mut s, points, rps, MAX_STATUS_SAMPLES, MAX_STATUS_EVENTS);
        (s, next)
    } else {
        (old.clone(), next.min(due_in))
    };
    Decision {
        status,
        effect,
        sampler: if over { Sampler::Stop } else { Sampler::Keep },
        event: None,
        next: if over {
            Next::AwaitChange
        } else {
            Next::Requeue(next)
        },
    }
}

#[cfg(test)]
#[path = "decide_tests/mod.rs"]
mod tests;
