//! What the API does alike for every kind of run (LoadTest, ScalingExperiment): list
//! (`GET /api/v1/<kind>`), create (`POST`), read and delete one
//! (`/api/v1/<kind>/{namespace}/{name}`). A kind says what differs in [`Kind`]; the
//! routes, the create body and the handlers are written once here.

use std::borrow::Cow;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Extension, Path, Query, State};
use axum::http::{StatusCode, header};
use axum::routing::{get, post};
use kube::api::DeleteParams;
use kube::core::NamespaceResourceScope;
use kube::runtime::reflector::{ObjectRef, Store};
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::access::{NamespaceQuery, ObjectPath, Permission, Scope, Verb};
use super::auth::{Caller, Resource};
use super::body::{JsonBody, RequestBody, Target};
use super::error::ApiError;
use super::impersonation::impersonate;
use super::openapi::Operation;
use super::{ApiState, Route};

/// The words of a kind's route documentation (OpenAPI summaries and descriptions).
pub struct Docs {
    /// The list's summary.
    pub list: &'static str,
    /// What `?namespace=` does.
    pub namespace_filter: &'static str,
    /// The list's answer.
    pub listed: &'static str,
    /// The create body's schema name.
    pub create_schema: &'static str,
    /// How a name is made when the create body has none.
    pub generated_name: &'static str,
    /// The create summary.
    pub create: &'static str,
    /// The create answer.
    pub created: &'static str,
    /// The read-one summary.
    pub get: &'static str,
    /// The read-one answer.
    pub got: &'static str,
    /// The delete summary.
    pub delete: &'static str,
    /// The `{namespace}` path parameter.
    pub namespace: &'static str,
    /// The `{name}` path parameter.
    pub name: &'static str,
}

/// A kind of run the API lists, creates, reads and deletes.
pub trait Kind:
    kube::Resource<DynamicType = (), Scope = NamespaceResourceScope>
    + Clone
    + DeserializeOwned
    + std::fmt::Debug
    + Send
    + Sync
    + 'static
{
    /// The collection's path, e.g. `/api/v1/tests`.
    const COLLECTION: &'static str;
    /// One object's path, e.g. `/api/v1/tests/{namespace}/{name}`.
    const ITEM: &'static str;
    /// The RBAC resource the routes check.
    const RESOURCE: Resource;
    /// The route documentation.
    const DOCS: Docs;
    /// The spec a create body carries.
    type Spec: DeserializeOwned + JsonSchema + Clone + std::fmt::Debug + Send + Sync + 'static;
    /// How the dashboard reads one.
    type View: serde::Serialize + JsonSchema + Send + 'static;

    /// The platform's watch cache of the kind.
    fn cache(state: &ApiState) -> &Store<Self>;
    /// The view of one object.
    fn view(state: &ApiState, object: &Self) -> Self::View;
    /// The view of one object in a list: the same as [`Kind::view`] unless it carries
    /// data too large to send for every object.
    fn list_view(state: &ApiState, object: &Self) -> Self::View {
        Self::view(state, object)
    }
    /// What lists sort by: a time (RFC 3339; newest first), then the name.
    fn sort_key(view: &Self::View) -> (Option<&str>, &str);
    /// The generateName prefix (ending in `-`) of an object created without a name.
    fn name_prefix(spec: &Self::Spec) -> String;
}

/// A body that creates an object of kind `K`.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, bound = "")]
pub struct Create<K: Kind> {
    /// The namespace (default `default`).
    #[serde(default)]
    pub namespace: Option<String>,
    /// The name; generated when absent (see [`Kind::name_prefix`]).
    #[serde(default)]
    pub name: Option<String>,
    /// The spec, exactly as in a manifest.
    pub spec: K::Spec,
}

impl<K: Kind> RequestBody for Create<K> {
    fn target(&self) -> Target {
        Target {
            namespace: self
                .namespace
                .clone()
                .unwrap_or_else(|| "default".to_owned()),
            name: self.name.clone(),
        }
    }
}

/// Written out rather than derived so each kind keeps its own schema name and words.
impl<K: Kind> JsonSchema for Create<K> {
    fn schema_name() -> Cow<'static, str> {
        K::DOCS.create_schema.into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let kind = K::kind(&());
        let mut spec = generator.subschema_for::<K::Spec>();
        spec.insert(
            "description".into(),
            format!("The {kind}'s spec, exactly as in a manifest.").into(),
        );
        let optional = |description: &str| json_schema!({ "default": null, "description": description, "type": ["string", "null"] });
        json_schema!({
            "additionalProperties": false,
            "description": format!("A {kind} to create."),
            "properties": {
                "name": optional(K::DOCS.generated_name),
                "namespace": optional("The namespace (default `default`)."),
                "spec": spec,
            },
            "required": ["spec"],
            "type": "object",
        })
    }
}

/// Creates an object through the API server as `caller` with strict field validation,
/// mapping the answer's field paths to the request body's.
async fn create_object<K: Kind>(
    state: &ApiState,
    caller: &Caller,
    namespace: &str,
    object: serde_json::Value,
) -> Result<K, ApiError> {
    let url = format!(
        "{}?fieldValidation=Strict&fieldManager=tart-operator-api",
        K::url_path(&(), Some(namespace))
    );
    let body = serde_json::to_vec(&object).map_err(ApiError::internal)?;
    let mut req = http::Request::post(url)
        .header(header::CONTENT_TYPE, "application/json")
        .body(body)
        .map_err(ApiError::internal)?;
    impersonate(&mut req, caller)?;
    state.platform.request::<K>(req).await.map_err(|e| {
        let mut err = ApiError::from_kube(e);
        err.field = err.field.map(|f| match f.as_str() {
            "metadata.name" | "metadata.generateName" => "name".to_owned(),
            "metadata.namespace" => "namespace".to_owned(),
            _ => f,
        });
        if err.status == StatusCode::NOT_FOUND && err.message.contains("namespaces") {
            err.field = Some("namespace".into());
        }
        err
    })
}

async fn list<K: Kind>(
    State(state): State<Arc<ApiState>>,
    Query(q): Query<NamespaceQuery>,
) -> Json<Vec<K::View>> {
    let ns = q.namespace.unwrap_or_default();
    let mut views: Vec<K::View> = K::cache(&state)
        .state()
        .iter()
        .filter(|o| ns.is_empty() || o.meta().namespace.as_deref() == Some(ns.as_str()))
        .map(|o| K::list_view(&state, o))
        .collect();
    views.sort_by(|a, b| {
        let ((a_time, a_name), (b_time, b_name)) = (K::sort_key(a), K::sort_key(b));
        b_time.cmp(&a_time).then_with(|| a_name.cmp(b_name))
    });
    Json(views)
}

async fn create<K: Kind>(
    State(state): State<Arc<ApiState>>,
    Extension(caller): Extension<Caller>,
    body: JsonBody<Create<K>>,
) -> Result<(StatusCode, Json<K::View>), ApiError> {
    let target = body.value.target();
    let mut metadata = serde_json::json!({ "namespace": target.namespace });
    match &target.name {
        Some(name) => metadata["name"] = name.clone().into(),
        None => metadata["generateName"] = K::name_prefix(&body.value.spec).into(),
    }
    let object = serde_json::json!({
        "apiVersion": K::api_version(&()),
        "kind": K::kind(&()),
        "metadata": metadata,
        // The raw spec, so fields the typed parse would ignore reach the API server's
        // strict validation instead of being dropped.
        "spec": body.raw["spec"],
    });
    let created: K = create_object(&state, &caller, &target.namespace, object).await?;
    Ok((StatusCode::CREATED, Json(K::view(&state, &created))))
}

fn lookup<K: Kind>(state: &ApiState, namespace: &str, name: &str) -> Result<Arc<K>, ApiError> {
    K::cache(state)
        .get(&ObjectRef::new(name).within(namespace))
        .ok_or_else(|| ApiError::not_found(format!("no {} {namespace}/{name}", K::kind(&()))))
}

async fn get_one<K: Kind>(
    State(state): State<Arc<ApiState>>,
    Path(p): Path<ObjectPath>,
) -> Result<Json<K::View>, ApiError> {
    let object = lookup::<K>(&state, &p.namespace, &p.name)?;
    Ok(Json(K::view(&state, &object)))
}

/// Deletes an object through the API server as `caller`.
async fn delete<K: Kind>(
    State(state): State<Arc<ApiState>>,
    Extension(caller): Extension<Caller>,
    Path(p): Path<ObjectPath>,
) -> Result<(StatusCode, Json<K::View>), ApiError> {
    let mut req = kube::core::Request::new(K::url_path(&(), Some(&p.namespace)))
        .delete(&p.name, &DeleteParams::default())
        .map_err(ApiError::internal)?;
    impersonate(&mut req, &caller)?;
    let answer: serde_json::Value = state
        .platform
        .request(req)
        .await
        .map_err(ApiError::from_kube)?;
    // The object while finalizers run; a Status once it is gone.
    let view = match serde_json::from_value::<K>(answer) {
        Ok(object) => K::view(&state, &object),
        Err(_) => K::view(&state, &*lookup::<K>(&state, &p.namespace, &p.name)?),
    };
    Ok((StatusCode::ACCEPTED, Json(view)))
}

/// The routes of kind `K`.
pub fn routes<K: Kind>() -> Vec<Route> {
    let docs = &K::DOCS;
    let one = |verb| Permission::rbac(verb, K::RESOURCE).scoped(Scope::Path);
    let about_one = || {
        Operation::new()
            .path("namespace", docs.namespace)
            .path("name", docs.name)
    };
    vec![
        Route {
            method: "GET",
            path: K::COLLECTION,
            summary: docs.list,
            permission: Permission::rbac(Verb::List, K::RESOURCE).scoped(Scope::Query),
            doc: Operation::new()
                .query("namespace", docs.namespace_filter)
                .json::<Vec<K::View>>(200, docs.listed)
                .errors(&[400, 401, 403, 503]),
            handler: get(list::<K>),
        },
        Route {
            method: "POST",
            path: K::COLLECTION,
            summary: docs.create,
            permission: Permission::rbac(Verb::Create, K::RESOURCE).scoped(Scope::Body),
            doc: Operation::new()
                .request::<Create<K>>()
                .json::<K::View>(201, docs.created)
                .errors(&[400, 401, 403, 404, 409, 415, 422, 503]),
            handler: post(create::<K>),
        },
        Route {
            method: "GET",
            path: K::ITEM,
            summary: docs.get,
            permission: one(Verb::Get),
            doc: about_one()
                .json::<K::View>(200, docs.got)
                .errors(&[401, 403, 404, 503]),
            handler: get(get_one::<K>),
        },
        Route {
            method: "DELETE",
            path: K::ITEM,
            summary: docs.delete,
            permission: one(Verb::Delete),
            doc: about_one()
                .json::<K::View>(202, "Deletion started")
                .errors(&[401, 403, 404, 503]),
            handler: axum::routing::delete(delete::<K>),
        },
    ]
}
