//! The bodies of the host agent's VM API that are not the shared types themselves (JSON,
//! camelCase). Routes, under the server's base URL:
//!
//! | route | body | answer |
//! |---|---|---|
//! | `GET /v1/vms` | | `[Vm]` |
//! | `GET /v1/vms/{name}` | | `Vm` (404 `notFound`) |
//! | `PUT /v1/vms/{name}` | `VmSpec` | `Vm` |
//! | `DELETE /v1/vms/{name}` | | 204 |
//! | `POST /v1/vms/{name}/start` | | 204 |
//! | `POST /v1/vms/{name}/stop?timeout=SECS` | | 204 |
//! | `GET /v1/vms/{name}/ip?wait=SECS` | | [`IpAnswer`] |
//! | `POST /v1/vms/{name}/authorize-ssh` | [`AuthorizeSsh`] | [`HostKeys`] |
//! | `GET /v1/capacity` | | `Capacity` |
//! | `GET /v1/stats` | | [`VmStatsAnswer`] list, one per running VM |
//! | `GET /v1/vms/{name}/stats` | | [`VmStatsAnswer`] (404 `notFound`) |
//! | `GET /healthz` (no token) | | `ok` |
//!
//! Every route but `/healthz` needs `Authorization: Bearer <token>` (401 otherwise). An
//! error answer's body is the [`VmError`](crate::VmError) as JSON (tagged by `reason`), plus
//! a `message` for people, so a client gets the same typed error back.

use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

use crate::{HostKey, VmStats};

/// The answer of `GET /v1/vms/{name}/ip`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IpAnswer {
    /// The VM's IPv4 address.
    pub ip: Ipv4Addr,
}

/// The body of `POST /v1/vms/{name}/authorize-ssh`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthorizeSsh {
    /// The login user inside the VM.
    pub user: String,
    /// The public key to authorize, in OpenSSH's one-line format.
    pub public_key: String,
}

/// The answer of `POST /v1/vms/{name}/authorize-ssh`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HostKeys {
    /// The VM's SSH host keys.
    pub host_keys: Vec<HostKey>,
}

/// A VM's figures as the agent last collected them over SSH (every `--stats-interval`
/// seconds, [`VmStats`]), the answer of `GET /v1/vms/{name}/stats` and the items of
/// `GET /v1/stats`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VmStatsAnswer {
    /// The VM name.
    pub name: String,
    /// The address the agent reached the VM at (`None` until it had one).
    pub ip: Option<Ipv4Addr>,
    /// The last figures; `None` until one collection succeeded (and for a VM that does
    /// not run).
    pub stats: Option<VmStats>,
    /// Why the last collection failed (the figures, if any, are older); `None` when it
    /// succeeded.
    pub error: Option<String>,
}
