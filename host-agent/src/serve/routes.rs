//! The VM API's routes (documented in [`vm_api::wire`]): each checks the bearer token
//! (`require_token`), validates its inputs (400 naming the field), admits creates and
//! starts against the host's capacity ([`super::admission`]) and calls the backend.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use vm_api::wire::{AuthorizeSsh, HostKeys, IpAnswer, VmStatsAnswer};
use vm_api::{Capacity, Vm, VmBackend, VmError, VmSpec, VmState, validate};

use super::admission::{self, Reserve};
use super::http_error::ApiError;
use super::secrets::Token;

/// The longest `?wait=` an IP call may ask for.
const MAX_WAIT_SECS: u64 = 3600;
/// The longest `?timeout=` a stop may ask for.
const MAX_STOP_SECS: u64 = 600;

/// What the handlers share.
pub struct AppState<B> {
    /// The backend the API serves (shared with the stats collector).
    pub backend: Arc<B>,
    /// The token every call must carry.
    pub token: Token,
    /// What admission keeps for the host.
    pub reserve: Reserve,
    /// Starts are admitted one at a time, so two cannot both take the last CPUs.
    pub start_lock: tokio::sync::Mutex<()>,
    /// For messages: where this API is served.
    pub endpoint: String,
    /// The VMs' last figures ([`crate::stats`]).
    pub stats: crate::stats::Cache,
}

impl<B> AppState<B> {
    /// The state of an API serving `backend`.
    pub fn new(backend: B, token: Token, reserve: Reserve, endpoint: String) -> Self {
        Self {
            backend: Arc::new(backend),
            token,
            reserve,
            start_lock: tokio::sync::Mutex::new(()),
            endpoint,
            stats: crate::stats::Cache::default(),
        }
    }
}

type Shared<B> = State<Arc<AppState<B>>>;
type ApiResult<T> = Result<T, ApiError>;

/// The API's router: `/v1/...` behind the token, `/healthz` open.
pub fn router<B: VmBackend + 'static>(state: Arc<AppState<B>>) -> Router {
    let api = Router::new()
        .route("/v1/vms", get(list::<B>))
        .route(
            "/v1/vms/{name}",
            get(get_vm::<B>).put(create::<B>).delete(delete::<B>),
        )
        .route("/v1/vms/{name}/start", post(start::<B>))
        .route("/v1/vms/{name}/stop", post(stop::<B>))
        .route("/v1/vms/{name}/ip", get(ip::<B>))
        .route("/v1/vms/{name}/authorize-ssh", post(authorize_ssh::<B>))
        .route("/v1/vms/{name}/stats", get(vm_stats::<B>))
        .route("/v1/capacity", get(capacity::<B>))
        .route("/v1/stats", get(stats::<B>))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            require_token::<B>,
        ));
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .merge(api)
        .with_state(state)
}

/// 401 unless the request carries `Authorization: Bearer <token>` (compared in constant
/// time; the presented value is never logged).
async fn require_token<B: VmBackend + 'static>(
    State(state): Shared<B>,
    request: Request,
    next: Next,
) -> Response {
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if state.token.matches(presented) {
        next.run(request).await
    } else {
        let error = ApiError(VmError::Unauthorized {
            endpoint: state.endpoint.clone(),
        });
        let mut response = error.into_response();
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Bearer"),
        );
        response
    }
}

fn invalid(field: &str, message: impl Into<String>) -> ApiError {
    ApiError(VmError::Invalid {
        field: field.to_owned(),
        message: message.into(),
    })
}

/// A JSON body, or 400 naming the field that does not fit.
fn json_body<T: DeserializeOwned>(bytes: &Bytes) -> ApiResult<T> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." { "body".to_owned() } else { path };
        invalid(&field, e.into_inner().to_string())
    })
}

/// `VmSpec` as the body of `PUT /v1/vms/{name}`, read without serde's `flatten` (which
/// loses the path of a bad field, so the 400 could not name it).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SpecBody {
    name: String,
    image: String,
    cpu: u32,
    #[serde(rename = "memoryMiB")]
    memory_mib: u64,
    #[serde(rename = "diskGiB")]
    disk_gib: u64,
    #[serde(default)]
    networking: vm_api::Networking,
}

impl From<SpecBody> for VmSpec {
    fn from(b: SpecBody) -> Self {
        VmSpec {
            name: b.name,
            image: b.image,
            resources: vm_api::Resources {
                cpu: b.cpu,
                memory_mib: b.memory_mib,
                disk_gib: b.disk_gib,
            },
            networking: b.networking,
        }
    }
}

#[derive(Deserialize)]
struct WaitQuery {
    wait: Option<String>,
}

#[derive(Deserialize)]
struct TimeoutQuery {
    timeout: Option<String>,
}

/// `?name=SECS`: a whole number of seconds up to `max`, `default` when absent.
fn seconds(field: &str, value: Option<&str>, default: u64, max: u64) -> ApiResult<Duration> {
    let secs = match value {
        None => default,
        Some(text) => text
            .parse::<u64>()
            .ok()
            .filter(|s| *s <= max)
            .ok_or_else(|| invalid(field, format!("give whole seconds from 0 to {max}")))?,
    };
    Ok(Duration::from_secs(secs))
}

fn name(name: &str) -> ApiResult<()> {
    validate::vm_name(name).map_err(ApiError)
}

async fn list<B: VmBackend>(State(state): Shared<B>) -> ApiResult<Json<Vec<Vm>>> {
    Ok(Json(state.backend.list().await?))
}

async fn get_vm<B: VmBackend>(
    State(state): Shared<B>,
    Path(vm): Path<String>,
) -> ApiResult<Json<Vm>> {
    name(&vm)?;
    match state.backend.get(&vm).await? {
        Some(found) => Ok(Json(found)),
        None => Err(ApiError(VmError::NotFound { vm })),
    }
}

/// Admits `vm`, which does not run, against what the running VMs take of the host.
async fn admit<B: VmBackend>(
    state: &AppState<B>,
    vm: &str,
    need: vm_api::Resources,
) -> ApiResult<()> {
    let capacity = state.backend.capacity().await?;
    admission::admit(vm, need, capacity.host, capacity.running, state.reserve).map_err(ApiError)
}

async fn create<B: VmBackend>(
    State(state): Shared<B>,
    Path(vm): Path<String>,
    body: Bytes,
) -> ApiResult<Json<Vm>> {
    name(&vm)?;
    let spec: VmSpec = json_body::<SpecBody>(&body)?.into();
    if spec.name != vm {
        return Err(invalid(
            "name",
            format!(
                "the body names `{}` but the path `{vm}`; make them the same",
                spec.name
            ),
        ));
    }
    validate::vm_spec(&spec)?;
    // An existing VM is the backend's to compare (same spec: nothing to do, else a
    // mismatch); only a new one takes more of the host.
    if state.backend.get(&vm).await?.is_none() {
        admit(&state, &vm, spec.resources).await?;
    }
    tracing::info!(vm, image = %spec.image, "create");
    Ok(Json(state.backend.create(&spec).await?))
}

async fn start<B: VmBackend>(
    State(state): Shared<B>,
    Path(vm): Path<String>,
) -> ApiResult<StatusCode> {
    name(&vm)?;
    let _one_at_a_time = state.start_lock.lock().await;
    let found = state
        .backend
        .get(&vm)
        .await?
        .ok_or_else(|| ApiError(VmError::NotFound { vm: vm.clone() }))?;
    if found.state != VmState::Running {
        admit(&state, &vm, found.resources).await?;
        tracing::info!(vm, "start");
        state.backend.start(&vm).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

async fn stop<B: VmBackend>(
    State(state): Shared<B>,
    Path(vm): Path<String>,
    Query(query): Query<TimeoutQuery>,
) -> ApiResult<StatusCode> {
    name(&vm)?;
    let timeout = seconds("timeout", query.timeout.as_deref(), 30, MAX_STOP_SECS)?;
    tracing::info!(vm, "stop");
    state.backend.stop(&vm, timeout).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn delete<B: VmBackend>(
    State(state): Shared<B>,
    Path(vm): Path<String>,
) -> ApiResult<StatusCode> {
    name(&vm)?;
    tracing::info!(vm, "delete");
    state.backend.delete(&vm).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn ip<B: VmBackend>(
    State(state): Shared<B>,
    Path(vm): Path<String>,
    Query(query): Query<WaitQuery>,
) -> ApiResult<Json<IpAnswer>> {
    name(&vm)?;
    let wait = seconds("wait", query.wait.as_deref(), 0, MAX_WAIT_SECS)?;
    let ip = state.backend.ip(&vm, wait).await?;
    Ok(Json(IpAnswer { ip }))
}

async fn authorize_ssh<B: VmBackend>(
    State(state): Shared<B>,
    Path(vm): Path<String>,
    body: Bytes,
) -> ApiResult<Json<HostKeys>> {
    name(&vm)?;
    let request: AuthorizeSsh = json_body(&body)?;
    validate::ssh_user(&request.user)?;
    validate::public_key(&request.public_key)?;
    tracing::info!(vm, user = %request.user, "authorize-ssh");
    let host_keys = state
        .backend
        .authorize_ssh(&vm, &request.user, &request.public_key)
        .await?;
    Ok(Json(HostKeys { host_keys }))
}

async fn capacity<B: VmBackend>(State(state): Shared<B>) -> ApiResult<Json<Capacity>> {
    Ok(Json(state.backend.capacity().await?))
}

/// Every followed VM's last figures (from the collector's cache; no SSH on the request).
async fn stats<B: VmBackend>(State(state): Shared<B>) -> Json<Vec<VmStatsAnswer>> {
    Json(state.stats.all())
}

/// One VM's last figures: empty for a VM that exists but is not followed (yet).
async fn vm_stats<B: VmBackend>(
    State(state): Shared<B>,
    Path(vm): Path<String>,
) -> ApiResult<Json<VmStatsAnswer>> {
    name(&vm)?;
    if let Some(answer) = state.stats.get(&vm) {
        return Ok(Json(answer));
    }
    match state.backend.get(&vm).await? {
        Some(_) => Ok(Json(VmStatsAnswer {
            name: vm,
            ip: None,
            stats: None,
            error: None,
        })),
        None => Err(ApiError(VmError::NotFound { vm })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use std::net::Ipv4Addr;
    use tower::ServiceExt as _;
    use vm_api::{HostKey, Resources};

    /// A backend with one stopped VM `a` (2 CPUs, 2 GiB) on a host of 4 CPUs and 8 GiB of
    /// which `running` is taken; it records the VMs started.
    struct Fake {
        running: Resources,
        started: std::sync::Mutex<Vec<String>>,
    }

    const A: Resources = Resources {
        cpu: 2,
        memory_mib: 2048,
        disk_gib: 20,
    };

    impl VmBackend for Fake {
        async fn list(&self) -> Result<Vec<Vm>, VmError> {
            Ok(vec![])
        }
        async fn get(&self, name: &str) -> Result<Option<Vm>, VmError> {
            Ok((name == "a").then(|| Vm {
                name: "a".into(),
                state: VmState::Stopped,
                resources: A,
                failure: None,
            }))
        }
        async fn create(&self, _: &VmSpec) -> Result<Vm, VmError> {
            Err(VmError::TartMissing)
        }
        async fn start(&self, name: &str) -> Result<(), VmError> {
            self.started
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(name.to_owned());
            Ok(())
        }
        async fn ip(&self, _: &str, _: Duration) -> Result<Ipv4Addr, VmError> {
            Ok(Ipv4Addr::LOCALHOST)
        }
        async fn stop(&self, _: &str, _: Duration) -> Result<(), VmError> {
            Ok(())
        }
        async fn delete(&self, _: &str) -> Result<(), VmError> {
            Ok(())
        }
        async fn authorize_ssh(&self, _: &str, _: &str, _: &str) -> Result<Vec<HostKey>, VmError> {
            Ok(vec![])
        }
        async fn capacity(&self) -> Result<Capacity, VmError> {
            let host = Resources {
                cpu: 4,
                memory_mib: 8192,
                disk_gib: 100,
            };
            Ok(Capacity {
                host,
                allocated: self.running,
                running: self.running,
            })
        }
    }

    const TOKEN: &str = "0123456789abcdef0123456789abcdef-token";

    fn fake_app(running: Resources) -> (Router, Arc<AppState<Fake>>) {
        let state = Arc::new(AppState::new(
            Fake {
                running,
                started: std::sync::Mutex::new(vec![]),
            },
            Token::for_tests(TOKEN),
            Reserve {
                cpu: 0,
                memory_mib: 0,
            },
            "https://test".into(),
        ));
        (router(state.clone()), state)
    }

    async fn call(app: &Router, method: &str, uri: &str, token: Option<&str>) -> StatusCode {
        let mut request = Request::builder().method(method).uri(uri);
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let request = request.body(Body::empty()).expect("request");
        app.clone().oneshot(request).await.expect("answer").status()
    }

    #[tokio::test]
    async fn every_api_route_needs_the_token_and_healthz_does_not() {
        let (app, _) = fake_app(Resources::zero());
        let routes = [
            ("GET", "/v1/vms"),
            ("GET", "/v1/vms/a"),
            ("PUT", "/v1/vms/a"),
            ("DELETE", "/v1/vms/a"),
            ("POST", "/v1/vms/a/start"),
            ("POST", "/v1/vms/a/stop"),
            ("GET", "/v1/vms/a/ip"),
            ("POST", "/v1/vms/a/authorize-ssh"),
            ("GET", "/v1/capacity"),
            ("GET", "/v1/stats"),
            ("GET", "/v1/vms/a/stats"),
        ];
        for (method, uri) in routes {
            for token in [None, Some("wrong"), Some(&TOKEN[1..])] {
                assert_eq!(
                    call(&app, method, uri, token).await,
                    StatusCode::UNAUTHORIZED,
                    "{method} {uri} with {token:?}"
                );
            }
            assert_ne!(
                call(&app, method, uri, Some(TOKEN)).await,
                StatusCode::UNAUTHORIZED
            );
        }
        assert_eq!(call(&app, "GET", "/healthz", None).await, StatusCode::OK);
        assert_eq!(
            call(&app, "GET", "/v1/vms/Bad_Name", Some(TOKEN)).await,
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            call(&app, "GET", "/v1/vms/b", Some(TOKEN)).await,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            call(&app, "GET", "/v1/vms/b/stats", Some(TOKEN)).await,
            StatusCode::NOT_FOUND,
            "no such VM"
        );
    }

    #[tokio::test]
    async fn a_start_is_admitted_against_what_runs() {
        let (app, state) = fake_app(Resources {
            cpu: 2,
            memory_mib: 1024,
            disk_gib: 0,
        });
        assert_eq!(
            call(&app, "POST", "/v1/vms/a/start", Some(TOKEN)).await,
            StatusCode::NO_CONTENT,
            "2 + 2 of 4 CPUs"
        );
        let (full, full_state) = fake_app(Resources {
            cpu: 3,
            memory_mib: 0,
            disk_gib: 0,
        });
        assert_eq!(
            call(&full, "POST", "/v1/vms/a/start", Some(TOKEN)).await,
            StatusCode::CONFLICT,
            "3 + 2 of 4 CPUs"
        );
        let started = |s: &AppState<Fake>| s.backend.started.lock().map(|v| v.len()).unwrap_or(0);
        assert_eq!((started(&state), started(&full_state)), (1, 0));
    }

    #[test]
    fn seconds_are_bounded_whole_numbers() {
        assert_eq!(
            seconds("wait", None, 7, 10).expect("default"),
            Duration::from_secs(7)
        );
        assert_eq!(
            seconds("wait", Some("10"), 0, 10).expect("max"),
            Duration::from_secs(10)
        );
        for bad in ["11", "-1", "1.5", "", "x"] {
            match seconds("wait", Some(bad), 0, 10) {
                Err(ApiError(VmError::Invalid { field, .. })) => assert_eq!(field, "wait"),
                other => panic!("{bad}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_bad_body_names_its_field() {
        let field = |text: &'static str| match json_body::<SpecBody>(&Bytes::from(text)) {
            Err(ApiError(VmError::Invalid { field, .. })) => field,
            other => panic!("{text}: {other:?}"),
        };
        assert_eq!(field("not json"), "body");
        assert_eq!(
            field(r#"{"name":"a","image":"i","cpu":"two","memoryMiB":1,"diskGiB":1}"#),
            "cpu"
        );
        assert_eq!(
            field(
                r#"{"name":"a","image":"i","cpu":1,"memoryMiB":1,"diskGiB":1,"networking":{"mode":"bridged"}}"#
            ),
            "networking"
        );
        assert_eq!(
            field(r#"{"name":"a","image":"i","cpu":1,"diskGiB":1}"#),
            "body"
        );
        let spec = VmSpec {
            name: "a".into(),
            image: "i".into(),
            resources: vm_api::Resources {
                cpu: 2,
                memory_mib: 2048,
                disk_gib: 20,
            },
            networking: vm_api::Networking::Bridged {
                interface: "en0".into(),
            },
        };
        let json = serde_json::to_vec(&spec).expect("json");
        let read: SpecBody = json_body(&Bytes::from(json)).expect("the client's body");
        assert_eq!(VmSpec::from(read), spec);
    }
}
