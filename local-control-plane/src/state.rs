//! What a control plane keeps between starts: its admin token (`tokens.csv`) and its ports
//! (`ports.json`). A fresh directory gets a random token and free ports; a reused one (the
//! local lab's) keeps both, so kubeconfigs stay valid across restarts.

use std::fmt::Write as _;
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{Error, write_private};

/// The loopback ports of one control plane.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct Ports {
    pub etcd: u16,
    pub peer: u16,
    pub apiserver: u16,
    pub kwok: u16,
    pub metrics_server: u16,
}

impl Ports {
    /// kubeadm's ports, for a control plane with an address of its own: etcd 2379/2380,
    /// kube-apiserver 6443, kwok's kubelet endpoints 10250, metrics-server 4443.
    pub(crate) const KUBEADM: Ports = Ports {
        etcd: 2379,
        peer: 2380,
        apiserver: 6443,
        kwok: 10250,
        metrics_server: 4443,
    };

    fn named(&self) -> [(&'static str, u16); 5] {
        [
            ("etcd", self.etcd),
            ("etcd peer", self.peer),
            ("kube-apiserver", self.apiserver),
            ("kwok", self.kwok),
            ("metrics-server", self.metrics_server),
        ]
    }
}

/// Token and ports, loaded from the directory or chosen now and saved there.
#[derive(Clone, Debug)]
pub(crate) struct State {
    pub token: String,
    pub ports: Ports,
    ports_file: PathBuf,
}

/// `N` distinct free loopback ports.
fn free_ports<const N: usize>() -> Result<[u16; N], Error> {
    // Hold every listener until all ports are chosen so they are distinct.
    let listeners = (0..N)
        .map(|_| TcpListener::bind("127.0.0.1:0"))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| Error::Io {
            context: "choosing free loopback ports".to_owned(),
            source,
        })?;
    let mut ports = [0u16; N];
    for (port, listener) in ports.iter_mut().zip(&listeners) {
        *port = listener
            .local_addr()
            .map_err(|source| Error::Io {
                context: "reading a loopback port".to_owned(),
                source,
            })?
            .port();
    }
    Ok(ports)
}

/// 24 random bytes in hex: the admin token of a fresh control plane.
fn random_token() -> Result<String, Error> {
    use std::io::Read;
    let mut bytes = [0u8; 24];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|source| Error::Io {
            context: "reading /dev/urandom".to_owned(),
            source,
        })?;
    Ok(bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    }))
}

fn read_token(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let token = text.lines().next()?.split(',').next()?.trim();
    (!token.is_empty()).then(|| token.to_owned())
}

impl State {
    /// `fixed` ports (an own address) are used as they are and never saved.
    pub fn load_or_create(dir: &Path, fixed: Option<Ports>) -> Result<Self, Error> {
        let ports_file = dir.join("ports.json");
        let token = match read_token(&dir.join("tokens.csv")) {
            Some(token) => token,
            None => random_token()?,
        };
        if let Some(ports) = fixed {
            return Ok(Self {
                token,
                ports,
                ports_file,
            });
        }
        let ports = match std::fs::read_to_string(&ports_file) {
            Ok(text) => serde_json::from_str(&text).map_err(|source| Error::PortsFile {
                path: ports_file.clone(),
                source,
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let [etcd, peer, apiserver, kwok, metrics_server] = free_ports::<5>()?;
                let ports = Ports {
                    etcd,
                    peer,
                    apiserver,
                    kwok,
                    metrics_server,
                };
                let text =
                    serde_json::to_string_pretty(&ports).map_err(|source| Error::Encode {
                        what: ports_file.display().to_string(),
                        source,
                    })?;
                write_private(&ports_file, &text)?;
                ports
            }
            Err(source) => {
                return Err(Error::Io {
                    context: format!("reading {}", ports_file.display()),
                    source,
                });
            }
        };
        Ok(Self {
            token,
            ports,
            ports_file,
        })
    }

    /// Fails with the first port another process holds, naming the component.
    pub fn check_ports_free(&self, name: &str, address: Ipv4Addr) -> Result<(), Error> {
        for (component, port) in self.ports.named() {
            if TcpListener::bind((address, port)).is_err() {
                return Err(Error::PortInUse {
                    address,
                    name: name.to_owned(),
                    component,
                    port,
                    state: self.ports_file.clone(),
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_ports_are_distinct() {
        let ports = free_ports::<8>().expect("ports");
        let mut sorted = ports.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), 8);
        assert!(ports.iter().all(|p| *p > 0));
    }

    #[test]
    fn tokens_are_random_hex() {
        let (a, b) = (random_token().expect("a"), random_token().expect("b"));
        assert_eq!(a.len(), 48);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()), "{a}");
        assert_ne!(a, b);
    }

    #[test]
    fn a_reused_directory_keeps_token_and_ports() {
        let dir = tempfile::tempdir().expect("dir");
        let first = State::load_or_create(dir.path(), None).expect("first");
        write_private(
            &dir.path().join("tokens.csv"),
            &format!("{},admin,admin,system:masters\n", first.token),
        )
        .expect("tokens");
        let second = State::load_or_create(dir.path(), None).expect("second");
        assert_eq!(first.token, second.token);
        assert_eq!(first.ports, second.ports);
    }

    #[test]
    fn a_taken_port_is_named() {
        let dir = tempfile::tempdir().expect("dir");
        let state = State::load_or_create(dir.path(), None).expect("state");
        let _held = TcpListener::bind(("127.0.0.1", state.ports.apiserver)).expect("bind");
        let err = state
            .check_ports_free("dev", Ipv4Addr::LOCALHOST)
            .expect_err("port in use")
            .to_string();
        assert!(
            err.contains(&format!("127.0.0.1:{}", state.ports.apiserver))
                && err.contains("kube-apiserver of control plane dev")
                && err.contains("ports.json"),
            "{err}"
        );
    }

    #[test]
    fn a_corrupt_ports_file_says_how_to_recover() {
        let dir = tempfile::tempdir().expect("dir");
        std::fs::write(dir.path().join("ports.json"), "{").expect("write");
        let err = State::load_or_create(dir.path(), None)
            .expect_err("corrupt")
            .to_string();
        assert!(err.contains("delete it to choose new ports"), "{err}");
    }
}
