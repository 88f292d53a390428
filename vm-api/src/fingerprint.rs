//! The SHA-256 fingerprint of a server certificate: how a client of the host agent's API
//! trusts its self-signed certificate (pinning, as Orchard's clients do), and how
//! `tart-infra serve` announces it.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest as _, Sha256};

use crate::VmError;

/// SHA-256 of a certificate's DER encoding. Shown and parsed as 32 hex bytes separated by
/// colons (`openssl x509 -noout -fingerprint -sha256` prints the same); parsing also takes
/// them without colons, in either case, with an optional `sha256:` prefix.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint([u8; 32]);

impl Fingerprint {
    /// The fingerprint of a DER-encoded certificate.
    pub fn of_der(der: &[u8]) -> Self {
        Self(Sha256::digest(der).into())
    }

    /// The raw digest.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, b) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(":")?;
            }
            write!(f, "{b:02X}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({self})")
    }
}

impl FromStr for Fingerprint {
    type Err = VmError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        let text = text
            .strip_prefix("sha256:")
            .or_else(|| text.strip_prefix("SHA256:"))
            .unwrap_or(text);
        let hex: Vec<u8> = text.bytes().filter(|&b| b != b':').collect();
        let bad = || {
            VmError::Invalid {
            field: "fingerprint".to_owned(),
            message: "is not a SHA-256 fingerprint; give the 64 hex digits serve.json shows (colons optional)".to_owned(),
        }
        };
        if hex.len() != 64 {
            return Err(bad());
        }
        let mut out = [0u8; 32];
        for (byte, pair) in out.iter_mut().zip(hex.chunks_exact(2)) {
            let digit = |c: u8| (c as char).to_digit(16).ok_or_else(bad);
            let value = digit(pair[0])? * 16 + digit(pair[1])?;
            *byte = u8::try_from(value).map_err(|_| bad())?;
        }
        Ok(Self(out))
    }
}

impl Serialize for Fingerprint {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Fingerprint {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shown_with_colons_and_parsed_in_every_spelling() {
        let fp = Fingerprint::of_der(b"certificate");
        let shown = fp.to_string();
        assert_eq!(shown.len(), 32 * 3 - 1);
        assert_eq!(shown.parse::<Fingerprint>().expect("colons"), fp);
        let plain = shown.replace(':', "").to_lowercase();
        assert_eq!(plain.parse::<Fingerprint>().expect("plain"), fp);
        assert_eq!(
            format!("sha256:{plain}")
                .parse::<Fingerprint>()
                .expect("prefixed"),
            fp
        );
        let json = serde_json::to_string(&fp).expect("json");
        assert_eq!(
            serde_json::from_str::<Fingerprint>(&json).expect("back"),
            fp
        );
    }

    #[test]
    fn anything_else_is_refused_without_panic() {
        for bad in ["", "AB", &"G".repeat(64), &"é".repeat(32), &"A".repeat(66)] {
            assert!(matches!(
                bad.parse::<Fingerprint>(),
                Err(VmError::Invalid { field, .. }) if field == "fingerprint"
            ));
        }
    }
}
