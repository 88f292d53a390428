//! The experiment's child LoadTest: its name and the object (pure).

use crds::plan::ExperimentPlan;
use crds::{LoadTest, LoadTestSpec, ScalingExperiment};
use kube::{Resource, ResourceExt};

/// The label on the child LoadTest naming its experiment.
pub const EXPERIMENT_LABEL: &str = "tartinfra.dev/scalingexperiment";

/// The child LoadTest's name: `<experiment>-load`, cut to fit a resource name.
pub fn child_name(experiment: &str) -> String {
    let mut prefix: String = experiment.chars().take(253 - 5).collect();
    while prefix.ends_with(['-', '.']) {
        prefix.pop();
    }
    format!("{prefix}-load")
}

/// The child LoadTest of `se`: the plan's load on the experiment's cluster, owned by the
/// experiment (None when the experiment has no uid yet).
pub fn child(se: &ScalingExperiment, plan: &ExperimentPlan) -> Option<LoadTest> {
    let name = child_name(&se.name_any());
    let mut lt = LoadTest::new(
        &name,
        LoadTestSpec {
            http: Some(plan.load.clone()),
            ..LoadTestSpec::on(se.spec.cluster.clone())
        },
    );
    lt.metadata.namespace = se.namespace();
    lt.metadata.labels = Some([(EXPERIMENT_LABEL.to_owned(), se.name_any())].into());
    lt.metadata.owner_references = Some(vec![se.controller_owner_ref(&())?]);
    Some(lt)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn child_names_fit_and_stay_valid() {
        assert_eq!(child_name("web"), "web-load");
        let long = child_name(&format!("{}.-x", "a".repeat(247)));
        assert!(long.len() <= 253 && long.ends_with("a-load"), "{long}");
    }
}
