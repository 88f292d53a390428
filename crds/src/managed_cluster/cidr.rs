//! IPv4 CIDRs as the ManagedCluster spec writes them: network addresses only, checked for
//! overlap. The CRD's CEL rule (`isCIDR`, family 4, `masked()`) accepts the same strings.

use std::fmt;

use crate::FieldError;

/// An IPv4 network: the address (host bits zero) and the prefix length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv4Cidr {
    addr: u32,
    prefix: u8,
}

/// Why a CIDR does not parse.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CidrError {
    /// Not `a.b.c.d/n` with octets 0-255 (no leading zeros) and n 0-32.
    Malformed,
    /// The address has host bits set; this is the network address.
    HostBits(Ipv4Cidr),
}

impl CidrError {
    /// The error of the field at `path` that holds `text`.
    pub fn at(self, path: &str, text: &str) -> FieldError {
        match self {
            Self::Malformed => FieldError::new(
                path,
                format!("`{text}` is not an IPv4 CIDR"),
                "write a network address and prefix length, e.g. 10.20.0.0/16",
            ),
            Self::HostBits(network) => FieldError::new(
                path,
                format!("`{text}` has host bits set"),
                format!("write the network address, {network}"),
            ),
        }
    }
}

impl Ipv4Cidr {
    /// Parses `a.b.c.d/n`, a network address.
    pub fn parse(s: &str) -> Result<Self, CidrError> {
        let (addr, prefix) = s.split_once('/').ok_or(CidrError::Malformed)?;
        let prefix = decimal(prefix, 2)
            .filter(|&p| p <= 32)
            .ok_or(CidrError::Malformed)?;
        let mut octets = addr.split('.');
        let mut value: u32 = 0;
        for _ in 0..4 {
            let octet = octets
                .next()
                .and_then(|o| decimal(o, 3))
                .filter(|&o| o <= 255)
                .ok_or(CidrError::Malformed)?;
            value = (value << 8) | octet;
        }
        if octets.next().is_some() {
            return Err(CidrError::Malformed);
        }
        let prefix = u8::try_from(prefix).map_err(|_| CidrError::Malformed)?;
        let network = Self {
            addr: value & mask(prefix),
            prefix,
        };
        if network.addr == value {
            Ok(network)
        } else {
            Err(CidrError::HostBits(network))
        }
    }

    /// Whether the two networks share an address: one contains the other.
    pub fn overlaps(&self, other: &Self) -> bool {
        let m = mask(self.prefix.min(other.prefix));
        self.addr & m == other.addr & m
    }
}

impl fmt::Display for Ipv4Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d] = self.addr.to_be_bytes();
        write!(f, "{a}.{b}.{c}.{d}/{}", self.prefix)
    }
}

fn mask(prefix: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0)
}

/// A decimal number of 1 to `max_len` digits, without sign or leading zeros.
fn decimal(s: &str, max_len: usize) -> Option<u32> {
    let ok = (1..=max_len).contains(&s.len())
        && s.bytes().all(|b| b.is_ascii_digit())
        && (s == "0" || !s.starts_with('0'));
    if ok { s.parse().ok() } else { None }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cidr_parser_accepts_network_addresses_only() {
        assert_eq!(
            Ipv4Cidr::parse("10.96.0.0/12"),
            Ok(Ipv4Cidr {
                addr: 0x0a60_0000,
                prefix: 12
            })
        );
        assert_eq!(
            Ipv4Cidr::parse("0.0.0.0/0"),
            Ok(Ipv4Cidr { addr: 0, prefix: 0 })
        );
        assert_eq!(
            Ipv4Cidr::parse("192.168.64.7/32").map(|c| c.to_string()),
            Ok("192.168.64.7/32".to_owned())
        );
        for bad in [
            "",
            "10.0.0.0",
            "10.0.0/8",
            "10.0.0.0.0/8",
            "10.0.0.0/33",
            "10.0.0.256/32",
            "010.0.0.0/8",
            "10.0.0.0/08",
            "+10.0.0.0/8",
            "10.0.0.0/-1",
            "10..0.0/8",
            "::1/128",
            " 10.0.0.0/8",
            "10.0.0.0/8/8",
        ] {
            assert_eq!(Ipv4Cidr::parse(bad), Err(CidrError::Malformed), "{bad:?}");
        }
        let network = Ipv4Cidr {
            addr: 0x0a00_0000,
            prefix: 8,
        };
        assert_eq!(
            Ipv4Cidr::parse("10.1.2.3/8"),
            Err(CidrError::HostBits(network))
        );

        let parse = |s| Ipv4Cidr::parse(s).expect(s);
        assert!(parse("10.0.0.0/8").overlaps(&parse("10.255.0.0/16")));
        assert!(parse("10.255.0.0/16").overlaps(&parse("10.0.0.0/8")));
        assert!(parse("0.0.0.0/0").overlaps(&parse("192.168.0.0/16")));
        assert!(!parse("10.96.0.0/16").overlaps(&parse("10.97.0.0/16")));
        assert!(!parse("10.10.0.0/16").overlaps(&parse("10.96.0.0/12")));
    }
}
