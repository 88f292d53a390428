//! `/api/v1/experiments`: list, create, read and delete ScalingExperiments.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use crds::scaling_experiment::{
    DeploymentResult, ExperimentPhase, ExperimentReason, Kpis, ReplicaEvent, Sample, ScalingPreset,
};
use crds::{ScalingExperiment, ScalingExperimentSpec};
use kube::Api;
use kube::api::DeleteParams;
use kube::runtime::reflector::ObjectRef;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::auth::Resource;
use super::body::{JsonBody, check_names};
use super::error::ApiError;
use super::loadtests::{NamespaceQuery, create_object};
use super::openapi::Operation;
use super::{ApiState, Route};
use crate::controllers::scaling_experiment::kpis::Point;
use crate::controllers::scaling_experiment::live::MAX_POINTS;
use crate::controllers::scaling_experiment::with_series;

/// A ScalingExperiment to create.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateExperiment {
    /// The namespace (default `default`).
    #[serde(default)]
    pub namespace: Option<String>,
    /// The name; generated from the preset when absent.
    #[serde(default)]
    pub name: Option<String>,
    /// The ScalingExperiment's spec, exactly as in a manifest.
    pub spec: ScalingExperimentSpec,
}

/// A ScalingExperiment as the dashboard reads it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExperimentView {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// The cluster under test.
    pub cluster: String,
    /// The preset, when it is one.
    pub preset: Option<ScalingPreset>,
    /// Phase.
    pub phase: Option<ExperimentPhase>,
    /// Why it failed.
    pub reason: Option<ExperimentReason>,
    /// What is happening.
    pub message: Option<String>,
    /// Still running (samples keep coming).
    pub live: bool,
    /// The child LoadTest.
    pub load_test: Option<String>,
    /// When sampling started.
    pub started_at: Option<String>,
    /// When the load started.
    pub load_started_at: Option<String>,
    /// When the load ended.
    pub load_ended_at: Option<String>,
    /// When it finished.
    pub finished_at: Option<String>,
    /// Being deleted.
    pub deleting: bool,
    /// The KPIs.
    pub kpis: Option<Kpis>,
    /// Per deployment results (also the column order of samples).
    pub deployments: Vec<DeploymentResult>,
    /// Replica changes.
    pub events: Vec<ReplicaEvent>,
    /// The sampled series.
    pub samples: Vec<Sample>,
    /// The spec.
    pub spec: ScalingExperimentSpec,
}

/// The dashboard's view of a ScalingExperiment (pure). `live` is the full series of a
/// running experiment; its numbers replace the (downsampled, up to 10 s old) stored ones.
pub fn experiment_view(se: &ScalingExperiment, live: Option<&[Point]>) -> ExperimentView {
    let mut s = se.status.clone().unwrap_or_default();
    if let Some(points) = live {
        with_series(&mut s, points, None, MAX_POINTS, MAX_POINTS);
    }
    let t = |t: Option<crds::common::Time>| t.map(|t| t.0.to_string());
    ExperimentView {
        namespace: se.metadata.namespace.clone().unwrap_or_default(),
        name: se.metadata.name.clone().unwrap_or_default(),
        cluster: se.spec.cluster.0.clone(),
        preset: se.spec.load.preset,
        live: !matches!(
            s.phase,
            Some(ExperimentPhase::Completed | ExperimentPhase::Failed)
        ),
        phase: s.phase,
        reason: s.reason,
        message: s.message,
        load_test: s.load_test,
        started_at: t(s.started_at),
        load_started_at: t(s.load_started_at),
        load_ended_at: t(s.load_ended_at),
        finished_at: t(s.finished_at),
        deleting: se.metadata.deletion_timestamp.is_some(),
        kpis: s.kpis,
        deployments: s.deployments,
        events: s.events,
        samples: s.samples,
        spec: se.spec.clone(),
    }
}

/// The view with the live series while the experiment samples.
fn view(state: &ApiState, se: &ScalingExperiment) -> ExperimentView {
    let run = se
        .metadata
        .uid
        .as_deref()
        .and_then(|uid| state.samplers.get(uid));
    let points = run.map(|r| r.points());
    experiment_view(se, points.as_deref())
}

async fn list(
    State(state): State<Arc<ApiState>>,
    headers: HeaderMap,
    Query(q): Query<NamespaceQuery>,
) -> Result<Json<Vec<ExperimentView>>, ApiError> {
    let ns = q.namespace.unwrap_or_default();
    state
        .auth
        .authorize(&headers, "list", Resource::ScalingExperiments, &ns)
        .await?;
    let mut views: Vec<ExperimentView> = state
        .experiments
        .state()
        .iter()
        .filter(|se| ns.is_empty() || se.metadata.namespace.as_deref() == Some(ns.as_str()))
        .map(|se| view(&state, se))
        .collect();
    views.sort_by(|a, b| {
        b.started_at
            .cmp(&a.started_at)
            .then_with(|| a.name.cmp(&b.name))
    });
    Ok(Json(views))
}

async fn create(
    State(state): State<Arc<ApiState>>,
    headers: HeaderMap,
    body: JsonBody<CreateExperiment>,
) -> Result<(StatusCode, Json<ExperimentView>), ApiError> {
    let ns = body
        .value
        .namespace
        .clone()
        .unwrap_or_else(|| "default".to_owned());
    check_names(&ns, body.value.name.as_deref())?;
    state
        .auth
        .authorize(&headers, "create", Resource::ScalingExperiments, &ns)
        .await?;
    let mut metadata = serde_json::json!({ "namespace": ns });
    match &body.value.name {
        Some(name) => metadata["name"] = name.clone().into(),
        None => {
            let prefix = body
                .value
                .spec
                .load
                .preset
                .map_or("experiment", ScalingPreset::name);
            metadata["generateName"] = format!("{prefix}-").into();
        }
    }
    let object = serde_json::json!({
        "apiVersion": format!("{}/{}", crds::GROUP, crds::VERSION),
        "kind": "ScalingExperiment",
        "metadata": metadata,
        "spec": body.raw["spec"],
    });
    let created: ScalingExperiment =
        create_object(&state, "scalingexperiments", &ns, object).await?;
    Ok((StatusCode::CREATED, Json(experiment_view(&created, None))))
}

fn lookup(
    state: &ApiState,
    namespace: &str,
    name: &str,
) -> Result<Arc<ScalingExperiment>, ApiError> {
    state
        .experiments
        .get(&ObjectRef::new(name).within(namespace))
        .ok_or_else(|| ApiError::not_found(format!("no ScalingExperiment {namespace}/{name}")))
}

async fn get_one(
    State(state): State<Arc<ApiState>>,
    headers: HeaderMap,
    Path((namespace, name)): Path<(String, String)>,
) -> Result<Json<ExperimentView>, ApiError> {
    check_names(&namespace, Some(&name))?;
    state
        .auth
        .authorize(&headers, "get", Resource::ScalingExperiments, &namespace)
        .await?;
    Ok(Json(view(
        &state,
        lookup(&state, &namespace, &name)?.as_ref(),
    )))
}

async fn delete(
    State(state): State<Arc<ApiState>>,
    headers: HeaderMap,
    Path((namespace, name)): Path<(String, String)>,
) -> Result<(StatusCode, Json<ExperimentView>), ApiError> {
    check_names(&namespace, Some(&name))?;
    state
        .auth
        .authorize(&headers, "delete", Resource::ScalingExperiments, &namespace)
        .await?;
    let api: Api<ScalingExperiment> = Api::namespaced(state.platform.clone(), &namespace);
    let view = match api
        .delete(&name, &DeleteParams::default())
        .await
        .map_err(ApiError::from_kube)?
    {
        either::Either::Left(se) => view(&state, &se),
        either::Either::Right(_) => view(&state, lookup(&state, &namespace, &name)?.as_ref()),
    };
    Ok((StatusCode::ACCEPTED, Json(view)))
}

const NS: &str = "The experiment's namespace";
const NAME: &str = "The experiment's name";

/// The `/api/v1/experiments` routes.
pub fn routes() -> Vec<Route> {
    vec![
        Route {
            method: "GET",
            path: "/api/v1/experiments",
            summary: "ScalingExperiments, newest first",
            permission: Some("list scalingexperiments"),
            doc: Operation::new()
                .query("namespace", "Only this namespace")
                .json::<Vec<ExperimentView>>(200, "The experiments")
                .errors(&[400, 401, 403, 503]),
            handler: get(list),
        },
        Route {
            method: "POST",
            path: "/api/v1/experiments",
            summary: "Create a ScalingExperiment (validated by the API server)",
            permission: Some("create scalingexperiments"),
            doc: Operation::new()
                .request::<CreateExperiment>()
                .json::<ExperimentView>(201, "The experiment was created")
                .errors(&[400, 401, 403, 404, 409, 415, 422, 503]),
            handler: post(create),
        },
        Route {
            method: "GET",
            path: "/api/v1/experiments/{namespace}/{name}",
            summary: "One ScalingExperiment with its KPIs and samples",
            permission: Some("get scalingexperiments"),
            doc: Operation::new()
                .path("namespace", NS)
                .path("name", NAME)
                .json::<ExperimentView>(200, "The experiment")
                .errors(&[401, 403, 404, 503]),
            handler: get(get_one),
        },
        Route {
            method: "DELETE",
            path: "/api/v1/experiments/{namespace}/{name}",
            summary: "Delete a ScalingExperiment",
            permission: Some("delete scalingexperiments"),
            doc: Operation::new()
                .path("namespace", NS)
                .path("name", NAME)
                .json::<ExperimentView>(202, "Deletion started")
                .errors(&[401, 403, 404, 503]),
            handler: axum::routing::delete(delete),
        },
    ]
}
