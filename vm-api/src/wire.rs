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
//! | `GET /healthz` (no token) | | `ok` |
//!
//! Every route but `/healthz` needs `Authorization: Bearer <token>` (401 otherwise). An
//! error answer's body is the [`VmError`](crate::VmError) as JSON (tagged by `reason`), plus
//! a `message` for people, so a client gets the same typed error back.

use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

use crate::HostKey;

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
