//! TEST DOUBLE, NOT SHIPPED. The double's DHCP server: a lease file in `$TART_HOME`
//! mapping MAC addresses to loopback addresses, stable per MAC like macOS's bootpd, or a
//! new address on every boot when `TART_DOUBLE_DHCP=rotate`.
//!
//! File format, one lease a line: `<mac> <ipv4>`; `#` starts a comment.

use std::net::Ipv4Addr;

/// One lease.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lease {
    pub mac: String,
    pub ip: Ipv4Addr,
}

/// How addresses are handed out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    /// The same address for the same MAC on every boot.
    Stable,
    /// A different address on every boot (tests "the VMs came back on new addresses").
    Rotate,
}

impl Policy {
    /// `TART_DOUBLE_DHCP`: unset or `stable`, or `rotate`.
    pub fn parse(value: Option<&str>) -> Result<Self, String> {
        match value.map(str::trim) {
            None | Some("") | Some("stable") => Ok(Self::Stable),
            Some("rotate") => Ok(Self::Rotate),
            Some(other) => Err(format!(
                "TART_DOUBLE_DHCP={other:?} is not valid; use `stable` (the default) or `rotate`"
            )),
        }
    }
}

/// The first three octets of the VMs' addresses, from `TART_DOUBLE_SUBNET` (default
/// `127.0.0`): VMs get `<subnet>.2` to `<subnet>.254`.
pub fn parse_subnet(value: Option<&str>) -> Result<[u8; 3], String> {
    let text = value
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .unwrap_or("127.0.0");
    let octets: Vec<Option<u8>> = text.split('.').map(|o| o.parse().ok()).collect();
    match octets.as_slice() {
        [Some(127), Some(b), Some(c)] => Ok([127, *b, *c]),
        _ => Err(format!(
            "TART_DOUBLE_SUBNET={text:?} is not valid; give three octets of 127.0.0.0/8, e.g. 127.0.0 or 127.77.3"
        )),
    }
}

/// Reads a lease file; a malformed line is an error naming it.
pub fn parse(text: &str) -> Result<Vec<Lease>, String> {
    let mut leases = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let mut parts = line.split_whitespace();
        let (Some(mac), Some(ip), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(format!(
                "line {}: expected `<mac> <ipv4>`, got {raw:?}",
                n + 1
            ));
        };
        let ip = ip
            .parse()
            .map_err(|_| format!("line {}: {ip:?} is not an IPv4 address", n + 1))?;
        leases.push(Lease {
            mac: mac.to_ascii_lowercase(),
            ip,
        });
    }
    Ok(leases)
}

/// Writes a lease file.
pub fn format(leases: &[Lease]) -> String {
    let mut out = String::from("# tart-double leases (TEST DOUBLE): <mac> <ipv4>\n");
    for l in leases {
        out.push_str(&format!("{} {}\n", l.mac, l.ip));
    }
    out
}

/// The address for `mac` on this boot, updating `leases`. `busy` are addresses of VMs
/// running now (never handed out twice). `None` when the subnet is full.
pub fn allocate(
    leases: &mut Vec<Lease>,
    mac: &str,
    subnet: [u8; 3],
    policy: Policy,
    busy: &[Ipv4Addr],
) -> Option<Ipv4Addr> {
    let mac = mac.to_ascii_lowercase();
    let in_subnet = |ip: &Ipv4Addr| ip.octets()[..3] == subnet;
    let previous = leases.iter().find(|l| l.mac == mac).map(|l| l.ip);
    if policy == Policy::Stable
        && let Some(ip) = previous.filter(|ip| in_subnet(ip) && !busy.contains(ip))
    {
        return Some(ip);
    }
    let taken =
        |ip: &Ipv4Addr| busy.contains(ip) || leases.iter().any(|l| l.ip == *ip && l.mac != mac);
    // Rotation starts after the previous address, so the next boot gets a new one.
    let start = previous
        .filter(in_subnet)
        .map_or(2, |ip| ip.octets()[3] as u16 + 1);
    let candidates = (start..=254).chain(2..start.min(255));
    let free = candidates
        .map(|n| Ipv4Addr::new(subnet[0], subnet[1], subnet[2], n as u8))
        .find(|ip| !taken(ip) && Some(*ip) != previous)?;
    leases.retain(|l| l.mac != mac);
    leases.push(Lease { mac, ip: free });
    Some(free)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NET: [u8; 3] = [127, 0, 0];

    #[test]
    fn stable_leases_keep_the_address_and_rotation_changes_it() {
        let mut leases = Vec::new();
        let a = allocate(&mut leases, "AA:00:00:00:00:01", NET, Policy::Stable, &[]).expect("a");
        let b = allocate(&mut leases, "aa:00:00:00:00:02", NET, Policy::Stable, &[]).expect("b");
        assert_eq!(
            (a, b),
            (Ipv4Addr::new(127, 0, 0, 2), Ipv4Addr::new(127, 0, 0, 3))
        );
        assert_eq!(
            allocate(&mut leases, "aa:00:00:00:00:01", NET, Policy::Stable, &[]),
            Some(a)
        );
        let rotated =
            allocate(&mut leases, "aa:00:00:00:00:01", NET, Policy::Rotate, &[]).expect("r");
        assert_eq!(rotated, Ipv4Addr::new(127, 0, 0, 4), "not a, not b's");
        assert_eq!(parse(&format(&leases)).expect("round trip"), leases);
    }

    #[test]
    fn a_busy_or_full_subnet() {
        let mut leases = Vec::new();
        let busy = [Ipv4Addr::new(127, 0, 0, 2)];
        let ip = allocate(&mut leases, "m", NET, Policy::Stable, &busy).expect("ip");
        assert_eq!(ip, Ipv4Addr::new(127, 0, 0, 3));
        let all: Vec<Ipv4Addr> = (2..=254).map(|n| Ipv4Addr::new(127, 0, 0, n)).collect();
        assert_eq!(allocate(&mut leases, "n", NET, Policy::Stable, &all), None);
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        assert!(parse("aa 1.2.3.4\n# c\n\n").is_ok());
        assert!(parse("aa").expect_err("short").contains("line 1"));
        assert!(parse("aa 300.1.1.1").is_err());
        assert!(parse("aa 1.1.1.1 x").is_err());
        assert_eq!(parse_subnet(None), Ok([127, 0, 0]));
        assert_eq!(parse_subnet(Some("127.77.3")), Ok([127, 77, 3]));
        assert!(parse_subnet(Some("10.0.0")).is_err());
        assert!(parse_subnet(Some("127.0")).is_err());
        assert!(Policy::parse(Some("sometimes")).is_err());
        assert_eq!(Policy::parse(Some("rotate")), Ok(Policy::Rotate));
    }
}
