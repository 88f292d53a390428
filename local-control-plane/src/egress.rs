//! Stand-in node addresses: the API server's traffic to nodes (node proxy, logs, exec)
//! reaches loopback.
//!
//! kube-apiserver refuses to proxy to a node whose address is not global unicast (`400
//! address not allowed`), so a stand-in kubelet on 127.0.0.1 cannot be reached through
//! `/api/v1/nodes/{name}/proxy/...`. A control plane with [`Options::node_addresses`] gives
//! such nodes a documentation address (192.0.2.0/24, never routed) and sends its `cluster`
//! egress (kube-apiserver's `--egress-selector-config-file`) through an HTTP CONNECT proxy
//! on a Unix socket ([`ConnectProxy`]). The proxy dials the loopback address a documentation
//! address stands for, and loopback addresses as they are; it refuses every other address.
//! Nothing ever dials a documentation address.
//!
//! [`Options::node_addresses`]: crate::Options::node_addresses

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpStream, UnixListener, UnixStream};

use crate::Error;

/// The EgressSelectorConfiguration that sends the `cluster` egress through the proxy on
/// `socket`.
pub(crate) fn config_yaml(socket: &Path) -> String {
    format!(
        "apiVersion: apiserver.k8s.io/v1beta1\nkind: EgressSelectorConfiguration\negressSelections:\n\
         - name: cluster\n  connection:\n    proxyProtocol: HTTPConnect\n    transport:\n      uds:\n        udsName: {}\n",
        socket.display()
    )
}

/// Where a CONNECT request for `target` (`host:port`) goes: the loopback address the host
/// stands for, or the host itself when it is a loopback address; `None` for anything else
/// (pure).
pub fn route(target: &str, stand_ins: &BTreeMap<Ipv4Addr, Ipv4Addr>) -> Option<(IpAddr, u16)> {
    let (host, port) = target.rsplit_once(':')?;
    let host: IpAddr = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok()?;
    let port: u16 = port.parse().ok()?;
    let to = match host {
        IpAddr::V4(v4) => stand_ins.get(&v4).map_or(host, |to| IpAddr::V4(*to)),
        IpAddr::V6(_) => host,
    };
    to.is_loopback().then_some((to, port))
}

/// An HTTP CONNECT proxy on a Unix socket for kube-apiserver's `cluster` egress; stops when
/// dropped.
#[derive(Debug)]
pub(crate) struct ConnectProxy {
    task: tokio::task::JoinHandle<()>,
}

impl ConnectProxy {
    /// Listens on `socket` (replacing a stale one), routing with [`route`].
    pub(crate) fn start(
        socket: PathBuf,
        stand_ins: BTreeMap<Ipv4Addr, Ipv4Addr>,
    ) -> Result<Self, Error> {
        let _ = std::fs::remove_file(&socket);
        let listener = UnixListener::bind(&socket).map_err(|source| Error::Io {
            context: format!("binding the egress proxy socket {}", socket.display()),
            source,
        })?;
        let task = tokio::spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                let stand_ins = stand_ins.clone();
                tokio::spawn(async move {
                    if let Err(e) = serve(conn, &stand_ins).await {
                        tracing::debug!(error = %e, "egress proxy connection failed");
                    }
                });
            }
        });
        Ok(Self { task })
    }
}

impl Drop for ConnectProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One CONNECT: reads the request head, dials the route, answers 200 and copies both ways;
/// an address with no route gets a 403.
async fn serve(conn: UnixStream, stand_ins: &BTreeMap<Ipv4Addr, Ipv4Addr>) -> std::io::Result<()> {
    let mut conn = BufReader::new(conn);
    let mut line = String::new();
    conn.read_line(&mut line).await?;
    let target = match line.split_whitespace().collect::<Vec<_>>()[..] {
        ["CONNECT", target, _] => target.to_owned(),
        _ => {
            conn.get_mut()
                .write_all(b"HTTP/1.1 405 Method Not Allowed\r\n\r\n")
                .await?;
            return Ok(());
        }
    };
    loop {
        let mut header = String::new();
        if conn.read_line(&mut header).await? == 0 || header.trim().is_empty() {
            break;
        }
    }
    let Some((host, port)) = route(&target, stand_ins) else {
        conn.get_mut()
            .write_all(b"HTTP/1.1 403 Forbidden\r\n\r\n")
            .await?;
        return Ok(());
    };
    let mut upstream = match TcpStream::connect((host, port)).await {
        Ok(upstream) => upstream,
        Err(e) => {
            conn.get_mut()
                .write_all(b"HTTP/1.1 502 Bad Gateway\r\n\r\n")
                .await?;
            return Err(e);
        }
    };
    conn.get_mut()
        .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
        .await?;
    tokio::io::copy_bidirectional(&mut conn, &mut upstream).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documentation_addresses_go_to_their_loopback_address_and_nothing_else_leaves_loopback() {
        let doc = Ipv4Addr::new(192, 0, 2, 10);
        let stand_ins = BTreeMap::from([(doc, Ipv4Addr::new(127, 0, 0, 1))]);
        let lo = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let cases: [(&str, Option<(IpAddr, u16)>); 7] = [
            ("192.0.2.10:10250", Some((lo, 10250))),
            (
                "127.0.0.5:4443",
                Some((IpAddr::V4(Ipv4Addr::new(127, 0, 0, 5)), 4443)),
            ),
            (
                "[::1]:80",
                Some((IpAddr::V6(std::net::Ipv6Addr::LOCALHOST), 80)),
            ),
            ("192.0.2.11:10250", None),
            ("10.244.0.5:80", None),
            ("node-1:10250", None),
            ("192.0.2.10", None),
        ];
        for (target, want) in cases {
            assert_eq!(route(target, &stand_ins), want, "{target}");
        }
    }

    #[test]
    fn the_configuration_names_the_socket_for_the_cluster_egress() {
        let yaml = config_yaml(Path::new("/tmp/x/egress.sock"));
        let doc: serde_yaml::Value = serde_yaml::from_str(&yaml).expect("yaml");
        let selection = &doc["egressSelections"][0];
        assert_eq!(selection["name"], "cluster");
        assert_eq!(selection["connection"]["proxyProtocol"], "HTTPConnect");
        assert_eq!(
            selection["connection"]["transport"]["uds"]["udsName"],
            "/tmp/x/egress.sock"
        );
    }
}
