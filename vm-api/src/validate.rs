//! Checks of what callers send a backend: VM names, specs, SSH users and keys. Both ends of
//! the host agent's API run them (the client before sending, the server before acting), and
//! each refusal is [`VmError::Invalid`] naming the field, so no input reaches a `tart`
//! command line unchecked (a value starting with `-` would be read as a flag).

use crate::{Networking, VmError, VmSpec};

/// The smallest memory a VM may ask for: less does not boot a Linux guest.
pub const MIN_MEMORY_MIB: u64 = 512;
/// Tart takes `--cpu` and `--disk-size` as 16-bit numbers.
const TART_MAX: u64 = u16::MAX as u64;

fn invalid(field: &str, message: String) -> VmError {
    VmError::Invalid {
        field: field.to_owned(),
        message,
    }
}

/// A VM name: a DNS label (1 to 63 lowercase letters, digits and '-', not starting or
/// ending with '-'), since it is also the node's hostname.
pub fn vm_name(name: &str) -> Result<(), VmError> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(invalid(
            "name",
            format!(
                "`{}` is not a VM name; use a DNS label (lowercase letters, digits and '-', at most 63), e.g. dev-cp-0",
                printable(name)
            ),
        ))
    }
}

/// A whole spec: its name, image, resources and networking.
pub fn vm_spec(spec: &VmSpec) -> Result<(), VmError> {
    vm_name(&spec.name)?;
    if spec.image.is_empty()
        || spec.image.starts_with('-')
        || spec
            .image
            .chars()
            .any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(invalid(
            "image",
            format!(
                "`{}` is not an image; give a local VM or an OCI reference, e.g. ghcr.io/cirruslabs/ubuntu:latest",
                printable(&spec.image)
            ),
        ));
    }
    let r = spec.resources;
    if r.cpu == 0 || u64::from(r.cpu) > TART_MAX {
        return Err(invalid(
            "cpu",
            format!("{} CPUs: give 1 to {TART_MAX}", r.cpu),
        ));
    }
    if r.memory_mib < MIN_MEMORY_MIB {
        return Err(invalid(
            "memoryMiB",
            format!(
                "{} MiB is too little; give at least {MIN_MEMORY_MIB} (a kubeadm node needs 2048)",
                r.memory_mib
            ),
        ));
    }
    if r.disk_gib == 0 || r.disk_gib > TART_MAX {
        return Err(invalid(
            "diskGiB",
            format!("{} GiB: give 1 to {TART_MAX}", r.disk_gib),
        ));
    }
    if let Networking::Bridged { interface } = &spec.networking {
        let ok = !interface.is_empty()
            && !interface.starts_with('-')
            && interface.len() <= 32
            && interface
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_');
        if !ok {
            return Err(invalid(
                "networking.interface",
                format!(
                    "`{}` is not a host interface; give one `ifconfig` lists, e.g. en0",
                    printable(interface)
                ),
            ));
        }
    }
    Ok(())
}

/// A login user inside the VM: a POSIX user name.
pub fn ssh_user(user: &str) -> Result<(), VmError> {
    let mut bytes = user.bytes();
    let ok = user.len() <= 32
        && bytes
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b == b'_')
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(invalid(
            "user",
            format!(
                "`{}` is not a user name; give the image's login user, e.g. admin",
                printable(user)
            ),
        ))
    }
}

/// A public key in OpenSSH's one-line format (`ssh-ed25519 AAAA… comment`).
pub fn public_key(key: &str) -> Result<(), VmError> {
    let mut parts = key.split(' ');
    let algorithm = parts.next().unwrap_or_default();
    let blob = parts.next().unwrap_or_default();
    let ok = (algorithm.starts_with("ssh-")
        || algorithm.starts_with("ecdsa-")
        || algorithm.starts_with("sk-"))
        && !blob.is_empty()
        && blob
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'=')
        && !key.chars().any(|c| c.is_control());
    if ok {
        Ok(())
    } else {
        Err(invalid(
            "publicKey",
            "is not an OpenSSH public key on one line; give the content of a .pub file, e.g. `ssh-ed25519 AAAAC3Nz… tart-infra`".to_owned(),
        ))
    }
}

/// `value` shortened and with control characters escaped, for quoting in a message.
fn printable(value: &str) -> String {
    let mut out: String = value
        .chars()
        .take(80)
        .flat_map(char::escape_default)
        .collect();
    if value.chars().count() > 80 {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Resources;

    fn spec() -> VmSpec {
        VmSpec {
            name: "dev-cp-0".into(),
            image: "ghcr.io/cirruslabs/ubuntu:latest".into(),
            resources: Resources {
                cpu: 2,
                memory_mib: 4096,
                disk_gib: 20,
            },
            networking: Networking::Softnet,
        }
    }

    fn field(err: VmError) -> String {
        match err {
            VmError::Invalid { field, .. } => field,
            other => panic!("not Invalid: {other:?}"),
        }
    }

    #[test]
    fn names_are_dns_labels() {
        for good in ["a", "dev-cp-0", &"x".repeat(63)] {
            vm_name(good).expect(good);
        }
        for bad in [
            "",
            "-a",
            "a-",
            "Dev",
            "a_b",
            "a.b",
            "--help",
            &"x".repeat(64),
            "a\nb",
        ] {
            assert_eq!(field(vm_name(bad).expect_err(bad)), "name");
        }
        let msg = vm_name("a\u{1b}[31m").expect_err("escape").to_string();
        assert!(
            !msg.contains('\u{1b}') && msg.contains("e.g. dev-cp-0"),
            "{msg}"
        );
    }

    #[test]
    fn a_spec_names_the_field_that_is_wrong() {
        vm_spec(&spec()).expect("valid");
        type Change = Box<dyn Fn(&mut VmSpec)>;
        let cases: Vec<(&str, Change)> = vec![
            ("image", Box::new(|s| s.image = "--net-host".into())),
            ("image", Box::new(|s| s.image = "a b".into())),
            ("image", Box::new(|s| s.image.clear())),
            ("cpu", Box::new(|s| s.resources.cpu = 0)),
            ("cpu", Box::new(|s| s.resources.cpu = 70_000)),
            ("memoryMiB", Box::new(|s| s.resources.memory_mib = 100)),
            ("diskGiB", Box::new(|s| s.resources.disk_gib = 0)),
            ("diskGiB", Box::new(|s| s.resources.disk_gib = 1 << 20)),
            (
                "networking.interface",
                Box::new(|s| {
                    s.networking = Networking::Bridged {
                        interface: "-x".into(),
                    }
                }),
            ),
            ("name", Box::new(|s| s.name = "A".into())),
        ];
        for (want, change) in cases {
            let mut s = spec();
            change(&mut s);
            assert_eq!(field(vm_spec(&s).expect_err(want)), want);
        }
        let mut bridged = spec();
        bridged.networking = Networking::Bridged {
            interface: "en0".into(),
        };
        vm_spec(&bridged).expect("en0");
    }

    #[test]
    fn users_and_keys() {
        ssh_user("admin").expect("admin");
        ssh_user("_svc-1").expect("svc");
        for bad in ["", "Admin", "-x", "a b", "a;rm"] {
            assert_eq!(field(ssh_user(bad).expect_err(bad)), "user");
        }
        public_key("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGk/x+= tart-infra").expect("key");
        public_key("ecdsa-sha2-nistp256 AAAAE2Vj").expect("no comment");
        for bad in [
            "",
            "ssh-ed25519",
            "rsa AAAA",
            "ssh-ed25519 AA\nAA",
            "ssh-ed25519 AA$(x)",
        ] {
            assert_eq!(field(public_key(bad).expect_err(bad)), "publicKey");
        }
    }
}
