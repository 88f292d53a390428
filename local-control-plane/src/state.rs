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
    /// The token of [`crate::OPERATOR_USER`] (second line of `tokens.csv`).
    pub operator_token: String,
    pub ports: Ports,
    ports_file: PathBuf,
    /// The ports were chosen by this start, not loaded: they may be chosen again.
    fresh: bool,
}

/// Fresh free ports, saved to `ports_file`.
fn choose_ports(ports_file: &Path) -> Result<Ports, Error> {
    let [etcd, peer, apiserver, kwok, metrics_server] = free_ports::<5>()?;
    let ports = Ports {
        etcd,
        peer,
        apiserver,
        kwok,
        metrics_server,
    };
    let text = serde_json::to_string_pretty(&ports).map_err(|source| Error::Encode {
        what: ports_file.display().to_string(),
        source,
    })?;
    write_private(ports_file, &text)?;
    Ok(ports)
}

/// Where fresh ports come from: below Linux's default ephemeral range (32768–60999), so the
/// source port of an outgoing connection or another process's `bind(0)` cannot take a port
/// between the moment it is chosen and the moment its component binds it.
const PORT_RANGE: std::ops::Range<u16> = 20_000..32_768;

/// The ports this process has handed out: a port is free when chosen but bound only later,
/// when its component starts, so two control planes starting at once in one process (tests
/// join them) could otherwise both choose it.
static HANDED_OUT: std::sync::Mutex<std::collections::BTreeSet<u16>> =
    std::sync::Mutex::new(std::collections::BTreeSet::new());

/// `N` distinct loopback ports of [`PORT_RANGE`], each free when chosen and never handed out
/// before by this process.
fn free_ports<const N: usize>() -> Result<[u16; N], Error> {
    // Hold every listener until all ports are chosen so they are distinct.
    let mut listeners = Vec::with_capacity(N);
    let mut ports = [0u16; N];
    let span = u32::from(PORT_RANGE.end - PORT_RANGE.start);
    let mut tries = 0;
    while listeners.len() < N {
        tries += 1;
        if tries > 1_000 {
            return Err(Error::Io {
                context: format!(
                    "choosing {N} free loopback ports in {}..{}",
                    PORT_RANGE.start, PORT_RANGE.end
                ),
                source: std::io::Error::from(std::io::ErrorKind::AddrInUse),
            });
        }
        let offset = u32::from_le_bytes(random_bytes::<4>()?) % span;
        let port = PORT_RANGE.start + u16::try_from(offset).unwrap_or(0);
        let mut handed_out = HANDED_OUT.lock().unwrap_or_else(|e| e.into_inner());
        if handed_out.contains(&port) {
            continue;
        }
        if let Ok(listener) = TcpListener::bind((Ipv4Addr::LOCALHOST, port)) {
            handed_out.insert(port);
            ports[listeners.len()] = port;
            listeners.push(listener);
        }
    }
    Ok(ports)
}

fn random_bytes<const N: usize>() -> Result<[u8; N], Error> {
    use std::io::Read;
    let mut bytes = [0u8; N];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|source| Error::Io {
            context: "reading /dev/urandom".to_owned(),
            source,
        })?;
    Ok(bytes)
}

/// 24 random bytes in hex: the admin token of a fresh control plane.
fn random_token() -> Result<String, Error> {
    Ok(random_bytes::<24>()?
        .iter()
        .fold(String::new(), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        }))
}

/// The token on line `line` of a token file.
fn read_token(path: &Path, line: usize) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let token = text.lines().nth(line)?.split(',').next()?.trim();
    (!token.is_empty()).then(|| token.to_owned())
}

impl State {
    /// `fixed` ports (an own address) are used as they are and never saved.
    pub fn load_or_create(dir: &Path, fixed: Option<Ports>) -> Result<Self, Error> {
        let ports_file = dir.join("ports.json");
        let token = match read_token(&dir.join("tokens.csv"), 0) {
            Some(token) => token,
            None => random_token()?,
        };
        let operator_token = match read_token(&dir.join("tokens.csv"), 1) {
            Some(token) => token,
            None => random_token()?,
        };
        if let Some(ports) = fixed {
            return Ok(Self {
                token,
                operator_token,
                ports,
                ports_file,
                fresh: false,
            });
        }
        let ports = match std::fs::read_to_string(&ports_file) {
            Ok(text) => serde_json::from_str(&text).map_err(|source| Error::PortsFile {
                path: ports_file.clone(),
                source,
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Self {
                    token,
                    operator_token,
                    ports: choose_ports(&ports_file)?,
                    ports_file,
                    fresh: true,
                });
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
            operator_token,
            ports,
            ports_file,
            fresh: false,
        })
    }

    /// Fails with the first port another process holds, naming the component. Ports chosen
    /// by this start are chosen again (a few times) instead: only saved ones are an error.
    pub fn ensure_ports_free(&mut self, name: &str, address: Ipv4Addr) -> Result<(), Error> {
        let mut again = 0;
        loop {
            match self.check_ports_free(name, address) {
                Err(_) if self.fresh && again < 3 => {
                    again += 1;
                    self.ports = choose_ports(&self.ports_file)?;
                }
                result => return result,
            }
        }
    }

    fn check_ports_free(&self, name: &str, address: Ipv4Addr) -> Result<(), Error> {
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
    fn free_ports_are_never_handed_out_twice() {
        let earlier = free_ports::<8>().expect("ports");
        let ports = free_ports::<8>().expect("ports");
        assert!(
            ports.iter().all(|p| !earlier.contains(p)),
            "{earlier:?} then {ports:?}: a port chosen but not yet bound is not chosen again"
        );
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
    fn fresh_ports_lie_below_the_ephemeral_range() {
        let ports = free_ports::<16>().expect("ports");
        assert!(ports.iter().all(|p| PORT_RANGE.contains(p)), "{ports:?}");
    }

    #[test]
    fn a_fresh_port_taken_meanwhile_is_chosen_again() {
        let dir = tempfile::tempdir().expect("dir");
        let mut state = State::load_or_create(dir.path(), None).expect("state");
        let taken = state.ports.etcd;
        let _held = TcpListener::bind(("127.0.0.1", taken)).expect("bind");
        state
            .ensure_ports_free("dev", Ipv4Addr::LOCALHOST)
            .expect("chosen again");
        assert_ne!(state.ports.etcd, taken);
        let saved = State::load_or_create(dir.path(), None).expect("reload");
        assert_eq!(saved.ports, state.ports, "the new choice is saved");
    }

    #[test]
    fn a_taken_saved_port_is_named() {
        let dir = tempfile::tempdir().expect("dir");
        State::load_or_create(dir.path(), None).expect("first start");
        let mut state = State::load_or_create(dir.path(), None).expect("restart");
        let _held = TcpListener::bind(("127.0.0.1", state.ports.apiserver)).expect("bind");
        let err = state
            .ensure_ports_free("dev", Ipv4Addr::LOCALHOST)
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
