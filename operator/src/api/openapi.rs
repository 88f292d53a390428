//! The OpenAPI 3.1 document of `/api/v1`, built from the route table and the JSON schemas
//! of the request and response types (schemars), served at `/api/v1/openapi.json` and
//! committed as `docs/api/openapi.json` (a test keeps the two equal).

use axum::Json;
use axum::routing::get;
use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde_json::{Map, Value, json};

use super::Route;
use super::access::Permission;
use super::body::{BodyCheck, RequestBody, check_body};
use super::error::ErrorBody;

type SchemaFn = fn(&mut SchemaGenerator) -> Schema;

fn schema_of<T: JsonSchema>(g: &mut SchemaGenerator) -> Schema {
    g.subschema_for::<T>()
}

/// A parameter.
pub struct Param {
    name: &'static str,
    location: &'static str,
    description: &'static str,
    required: bool,
}

/// Request and responses of one route.
#[derive(Default)]
pub struct Operation {
    request: Option<(SchemaFn, BodyCheck)>,
    responses: Vec<(u16, &'static str, Option<SchemaFn>, &'static str)>,
    params: Vec<Param>,
}

impl Operation {
    /// An operation without a body.
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes a JSON body of type `T`, which the route's guard checks before authorizing.
    pub fn request<T: RequestBody>(mut self) -> Self {
        self.request = Some((schema_of::<T>, check_body::<T>));
        self
    }

    /// How the declared request body is checked, when there is one.
    pub fn body_check(&self) -> Option<BodyCheck> {
        self.request.map(|(_, check)| check)
    }

    /// Answers `status` with a JSON `T`.
    pub fn json<T: JsonSchema>(mut self, status: u16, description: &'static str) -> Self {
        self.responses.push((
            status,
            description,
            Some(schema_of::<T>),
            "application/json",
        ));
        self
    }

    /// Answers `status` with a body of another media type (schema: string).
    pub fn text(mut self, status: u16, description: &'static str, media: &'static str) -> Self {
        self.responses
            .push((status, description, Some(schema_of::<String>), media));
        self
    }

    /// Answers `status` with a stream of `media` (e.g. `text/event-stream`) whose events'
    /// data are each a JSON `T`.
    pub fn stream<T: JsonSchema>(
        mut self,
        status: u16,
        description: &'static str,
        media: &'static str,
    ) -> Self {
        self.responses
            .push((status, description, Some(schema_of::<T>), media));
        self
    }

    /// Answers `status` without a body.
    pub fn empty(mut self, status: u16, description: &'static str) -> Self {
        self.responses.push((status, description, None, ""));
        self
    }

    /// Documents the error statuses it may answer. A route that authenticates (401) may also
    /// answer 429: too many failed authentications from the client's address.
    pub fn errors(mut self, statuses: &[u16]) -> Self {
        let limited = statuses.contains(&401) && !statuses.contains(&429);
        for s in statuses.iter().chain(limited.then_some(&429)) {
            let description = match s {
                400 => "The body or a parameter is malformed; `field` names it",
                401 => "No valid bearer token",
                403 => "The token's identity lacks the RBAC permission",
                404 => "Not found",
                409 => "Already exists",
                415 => "The body is not application/json",
                422 => "The API server rejected the object; `field` names the field",
                429 => {
                    "Too many failed authentications from this address (or, for the event stream, too many streams of this token); retry after Retry-After seconds"
                }
                503 => "The API server could not be asked",
                _ => "Error",
            };
            self.responses.push((
                *s,
                description,
                Some(schema_of::<ErrorBody>),
                "application/json",
            ));
        }
        self
    }

    /// A path parameter.
    pub fn path(mut self, name: &'static str, description: &'static str) -> Self {
        self.params.push(Param {
            name,
            location: "path",
            description,
            required: true,
        });
        self
    }

    /// An optional query parameter.
    pub fn query(mut self, name: &'static str, description: &'static str) -> Self {
        self.params.push(Param {
            name,
            location: "query",
            description,
            required: false,
        });
        self
    }
}

/// The OpenAPI document of `routes`.
pub fn document(routes: &[Route]) -> Value {
    let mut settings = SchemaSettings::draft2020_12();
    settings.definitions_path = "#/components/schemas/".into();
    let mut generator = settings.into_generator();
    let mut paths = Map::new();
    for route in routes {
        let mut op = Map::new();
        op.insert("summary".into(), json!(route.summary));
        op.insert(
            "operationId".into(),
            json!(format!("{} {}", route.method, route.path)),
        );
        let mut description = String::new();
        match &route.permission {
            Permission::Rbac(rule) => {
                description.push_str(&format!(
                    "Requires a bearer token whose identity may `{rule}` (group tartinfra.dev)."
                ));
                op.insert("security".into(), json!([{ "bearer": [] }]));
            }
            Permission::Filtered => {
                description.push_str(
                    "Requires a bearer token; answers only what its identity may read (`get managedclusters/<name>` per cluster, `get` or `list` of loadtests and scalingexperiments per object's namespace).",
                );
                op.insert("security".into(), json!([{ "bearer": [] }]));
            }
            Permission::Public => {
                description.push_str("Public.");
                op.insert("security".into(), json!([]));
            }
        }
        op.insert("description".into(), json!(description));
        if !route.doc.params.is_empty() {
            let params: Vec<Value> = route
                .doc
                .params
                .iter()
                .map(|p| json!({ "name": p.name, "in": p.location, "required": p.required, "description": p.description, "schema": { "type": "string" } }))
                .collect();
            op.insert("parameters".into(), Value::Array(params));
        }
        if let Some((request, _)) = route.doc.request {
            op.insert(
                "requestBody".into(),
                json!({ "required": true, "content": { "application/json": { "schema": request(&mut generator) } } }),
            );
        }
        let mut responses = Map::new();
        for (status, description, schema, media) in &route.doc.responses {
            let mut r = json!({ "description": description });
            if let Some(schema) = schema {
                r["content"] = json!({ *media: { "schema": schema(&mut generator) } });
            }
            responses.insert(status.to_string(), r);
        }
        op.insert("responses".into(), Value::Object(responses));
        let path = paths
            .entry(route.path.to_owned())
            .or_insert_with(|| json!({}));
        path[route.method.to_lowercase()] = Value::Object(op);
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "tart-operator API",
            "version": "v1",
            "description": "What the tart-infra dashboard reads and writes. Reads come from the operator's watch caches; writes create tartinfra.dev objects through the Kubernetes API server. Authenticate with a Kubernetes bearer token; RBAC on the tartinfra.dev resources decides what it may do.",
        },
        "paths": paths,
        "components": {
            "schemas": generator.take_definitions(true),
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } },
        },
    })
}

/// `GET /api/v1/openapi.json`.
pub fn route() -> Route {
    Route {
        method: "GET",
        path: "/api/v1/openapi.json",
        summary: "This OpenAPI document",
        permission: Permission::Public,
        doc: Operation::new().json::<Value>(200, "The OpenAPI 3.1 document"),
        handler: get(|| async { Json(document(&super::routes())) }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const COMMITTED: &str = include_str!("../../../docs/api/openapi.json");

    #[test]
    fn the_committed_document_matches_the_routes() {
        let generated =
            serde_json::to_string_pretty(&document(&crate::api::routes())).expect("json") + "\n";
        if std::env::var_os("UPDATE_OPENAPI").is_some() {
            let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/api/openapi.json");
            std::fs::write(path, &generated).expect("write");
            return;
        }
        assert!(
            generated == COMMITTED,
            "docs/api/openapi.json is out of date: run `UPDATE_OPENAPI=1 cargo test -p operator --lib openapi` and commit it"
        );
    }

    #[test]
    fn every_route_is_documented_with_its_parameters() {
        let doc = document(&crate::api::routes());
        for route in crate::api::routes() {
            let op = &doc["paths"][route.path][route.method.to_lowercase()];
            assert!(op.is_object(), "{} {} missing", route.method, route.path);
            for segment in route.path.split('/').filter(|s| s.starts_with('{')) {
                let name = segment.trim_matches(|c| c == '{' || c == '}');
                let params = op["parameters"].as_array().cloned().unwrap_or_default();
                assert!(
                    params.iter().any(|p| p["name"] == name),
                    "{} lacks parameter {name}",
                    route.path
                );
            }
        }
    }
}
