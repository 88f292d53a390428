//! Host keys pinned by VM name, in a known_hosts-like file: one `<vm> <algorithm> <base64>`
//! line per key, `#` comments and blank lines ignored.
//!
//! A VM's address changes when it reboots, its name does not; so pins are keyed by the
//! name. Keys are pinned from a trusted channel (the guest agent) before the first SSH
//! connection, and an unpinned VM is refused: there is no trust on first use.
//! [`KnownHosts`] is the pure, in-memory table; [`KnownHostsFile`] reads and writes it.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use russh::keys::ssh_key::{Algorithm, HashAlg, PublicKey};
use vm_api::HostKey;

use super::error::SshError;

/// Why the known hosts file could not be read, parsed or written.
#[derive(Debug, thiserror::Error)]
pub enum KnownHostsError {
    /// Reading or writing the file failed.
    #[error("cannot {action} `{path}`: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// A line of the file is not `<vm> <algorithm> <base64>`.
    #[error(
        "`{path}` line {line}: {problem}; fix or delete that line (`tart-infra ssh forget <vm>` removes a VM's lines)"
    )]
    Malformed {
        path: PathBuf,
        line: usize,
        problem: String,
    },
    /// A key handed to `pin` is unusable.
    #[error("cannot pin the host key of VM `{vm}`: {problem}")]
    InvalidPin { vm: String, problem: String },
}

/// One pinned host key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PinnedKey {
    /// The VM the key belongs to.
    pub vm: String,
    /// The key.
    pub key: PublicKey,
}

impl PinnedKey {
    /// The key's SHA-256 fingerprint, as `ssh-keygen -l` prints it.
    pub fn fingerprint(&self) -> String {
        fingerprint(&self.key)
    }
}

/// The SHA-256 fingerprint of `key`: `SHA256:<base64 without padding>`.
pub fn fingerprint(key: &PublicKey) -> String {
    key.fingerprint(HashAlg::Sha256).to_string()
}

/// The pinned host keys, in file order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KnownHosts {
    entries: Vec<PinnedKey>,
}

impl KnownHosts {
    /// Parses the file's text; `path` only names the file in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Self, KnownHostsError> {
        let mut entries = Vec::new();
        for (index, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let malformed = |problem: String| KnownHostsError::Malformed {
                path: path.to_owned(),
                line: index + 1,
                problem,
            };
            let fields: Vec<&str> = line.split_whitespace().collect();
            let [vm, algorithm, blob] = fields[..] else {
                return Err(malformed(format!(
                    "expected 3 fields `<vm> <algorithm> <base64>`, found {}",
                    fields.len()
                )));
            };
            let key = parse_key(algorithm, blob).map_err(malformed)?;
            entries.push(PinnedKey {
                vm: vm.to_owned(),
                key,
            });
        }
        Ok(Self { entries })
    }

    /// The file's text: a header comment and one line per pinned key.
    pub fn render(&self) -> String {
        let mut out = String::from(
            "# SSH host keys of tart-infra's VMs, pinned by VM name: <vm> <algorithm> <base64>\n\
             # `tart-infra ssh forget <vm>` removes a VM's keys.\n",
        );
        for entry in &self.entries {
            out.push_str(&entry.vm);
            out.push(' ');
            out.push_str(entry.key.algorithm().as_str());
            out.push(' ');
            out.push_str(&base64_blob(&entry.key));
            out.push('\n');
        }
        out
    }

    /// The keys pinned for `vm`.
    pub fn pins<'a>(&'a self, vm: &'a str) -> impl Iterator<Item = &'a PinnedKey> + 'a {
        self.entries.iter().filter(move |entry| entry.vm == vm)
    }

    /// Every pinned key.
    pub fn entries(&self) -> &[PinnedKey] {
        &self.entries
    }

    /// This table with `vm`'s keys replaced by `keys` (from a trusted channel).
    pub fn with_pins(&self, vm: &str, keys: &[HostKey]) -> Result<Self, KnownHostsError> {
        let invalid = |problem: String| KnownHostsError::InvalidPin {
            vm: vm.to_owned(),
            problem,
        };
        if !is_vm_name(vm) {
            return Err(invalid(
                "the VM name is empty or has whitespace or `#` in it".to_owned(),
            ));
        }
        if keys.is_empty() {
            return Err(invalid(
                "no host key was given; the VM has none to pin".to_owned(),
            ));
        }
        let mut new_pins = Vec::with_capacity(keys.len());
        for host_key in keys {
            let key = parse_key(&host_key.algorithm, &host_key.key).map_err(invalid)?;
            if !new_pins.iter().any(|pin: &PinnedKey| pin.key == key) {
                new_pins.push(PinnedKey {
                    vm: vm.to_owned(),
                    key,
                });
            }
        }
        let mut entries = self.without(vm).entries;
        entries.extend(new_pins);
        Ok(Self { entries })
    }

    /// This table without `vm`'s keys.
    pub fn without(&self, vm: &str) -> Self {
        Self {
            entries: self
                .entries
                .iter()
                .filter(|entry| entry.vm != vm)
                .cloned()
                .collect(),
        }
    }

    /// Accepts `presented` if it is one of `vm`'s pinned keys. Otherwise
    /// [`SshError::HostKeyChanged`], or [`SshError::NotPinned`] when `vm` has no pin;
    /// `origin` says in those errors where the pins are kept and how to accept a new key.
    pub fn verify(
        &self,
        vm: &str,
        presented: &PublicKey,
        origin: &PinOrigin,
    ) -> Result<(), SshError> {
        let pins: Vec<&PinnedKey> = self.pins(vm).collect();
        if pins.is_empty() {
            return Err(SshError::NotPinned {
                vm: vm.to_owned(),
                place: origin.place.clone(),
            });
        }
        if pins
            .iter()
            .any(|pin| pin.key.key_data() == presented.key_data())
        {
            return Ok(());
        }
        let same_algorithm: Vec<String> = pins
            .iter()
            .filter(|pin| pin.key.algorithm() == presented.algorithm())
            .map(|pin| pin.fingerprint())
            .collect();
        let expected = if same_algorithm.is_empty() {
            pins.iter()
                .map(|pin| format!("{} {}", pin.key.algorithm(), pin.fingerprint()))
                .collect::<Vec<_>>()
                .join(", ")
        } else {
            same_algorithm.join(", ")
        };
        Err(SshError::HostKeyChanged {
            vm: vm.to_owned(),
            expected,
            presented: format!("{} {}", presented.algorithm(), fingerprint(presented)),
            accept: origin.accept(vm),
        })
    }

    /// The host key algorithms pinned for `vm`, first pinned first, without repeats.
    pub fn algorithms(&self, vm: &str) -> Vec<Algorithm> {
        let mut out: Vec<Algorithm> = Vec::new();
        for pin in self.pins(vm) {
            let algorithm = pin.key.algorithm();
            if !out.contains(&algorithm) {
                out.push(algorithm);
            }
        }
        out
    }
}

/// Where pins are kept, for the messages of [`SshError::NotPinned`] and
/// [`SshError::HostKeyChanged`]: the place, and how a person accepts a VM's new key there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PinOrigin {
    /// E.g. `` `~/.config/tart-infra/known_hosts` `` or `ConfigMap tart-system/dev-ssh-host-keys`.
    pub place: String,
    /// What accepts a new key, with `<vm>` standing for the VM's name.
    pub accept: String,
}

impl PinOrigin {
    /// The pins of a known hosts file, which `tart-infra ssh forget` edits.
    pub fn file(path: &Path) -> Self {
        Self {
            place: format!("`{}`", path.display()),
            accept: "`tart-infra ssh forget <vm>`, then run `tart-infra up` again, which pins the new key through the guest agent".to_owned(),
        }
    }

    /// How to accept `vm`'s new key.
    pub fn accept(&self, vm: &str) -> String {
        self.accept.replace("<vm>", vm)
    }
}

/// The known hosts file: loaded on every connection (so a pin or a `forget` made by another
/// process counts at once) and changed under a lock, written whole and renamed into place.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KnownHostsFile {
    path: PathBuf,
}

impl KnownHostsFile {
    /// The file at `path` (it need not exist yet: a missing file pins nothing).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file as the origin of its pins, for messages.
    pub fn origin(&self) -> PinOrigin {
        PinOrigin::file(&self.path)
    }

    /// The pins as they are in the file now.
    pub fn load(&self) -> Result<KnownHosts, KnownHostsError> {
        match fs::read_to_string(&self.path) {
            Ok(text) => KnownHosts::parse(&text, &self.path),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(KnownHosts::default()),
            Err(source) => Err(self.io_error("read", source)),
        }
    }

    /// Pins `keys` for `vm`, replacing what was pinned for it. The keys must come from a
    /// trusted channel (the VM backend's `authorize_ssh`), never from an SSH connection.
    pub fn pin(&self, vm: &str, keys: &[HostKey]) -> Result<(), KnownHostsError> {
        self.update(|table| table.with_pins(vm, keys))
    }

    /// Removes `vm`'s pins (`tart-infra ssh forget <vm>`); returns whether it had any.
    pub fn forget(&self, vm: &str) -> Result<bool, KnownHostsError> {
        let mut had_pins = false;
        self.update(|table| {
            had_pins = table.pins(vm).next().is_some();
            Ok(table.without(vm))
        })?;
        Ok(had_pins)
    }

    fn update(
        &self,
        change: impl FnOnce(&KnownHosts) -> Result<KnownHosts, KnownHostsError>,
    ) -> Result<(), KnownHostsError> {
        let missing_parent = self
            .path
            .parent()
            .filter(|p| !p.as_os_str().is_empty() && !p.exists());
        if let Some(parent) = missing_parent {
            DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(parent)
                .map_err(|source| KnownHostsError::Io {
                    action: "create the directory",
                    path: parent.to_owned(),
                    source,
                })?;
        }
        let lock_path = self.sibling(".lock");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&lock_path)
            .map_err(|source| KnownHostsError::Io {
                action: "open the lock",
                path: lock_path.clone(),
                source,
            })?;
        lock.lock().map_err(|source| KnownHostsError::Io {
            action: "lock",
            path: lock_path,
            source,
        })?;
        let changed = change(&self.load()?)?;
        let temporary = self.sibling(&format!(".tmp-{}", std::process::id()));
        let written = write_file(&temporary, changed.render().as_bytes())
            .and_then(|()| fs::rename(&temporary, &self.path));
        if written.is_err() {
            let _ = fs::remove_file(&temporary);
        }
        written.map_err(|source| self.io_error("write", source))
        // The lock is released when `lock` is dropped.
    }

    fn sibling(&self, suffix: &str) -> PathBuf {
        let mut name = self.path.as_os_str().to_owned();
        name.push(suffix);
        PathBuf::from(name)
    }

    fn io_error(&self, action: &'static str, source: io::Error) -> KnownHostsError {
        KnownHostsError::Io {
            action,
            path: self.path.clone(),
            source,
        }
    }
}

fn write_file(path: &Path, contents: &[u8]) -> io::Result<()> {
    let mut file: File = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o644)
        .open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

/// `algorithm` + `blob` as a public key, checking that the blob is of that algorithm.
fn parse_key(algorithm: &str, blob: &str) -> Result<PublicKey, String> {
    if algorithm.is_empty() || algorithm.contains(char::is_whitespace) {
        return Err(format!("`{algorithm}` is not a key algorithm"));
    }
    if blob.is_empty() || blob.contains(char::is_whitespace) {
        return Err("the key is not one base64 word".to_owned());
    }
    let key = PublicKey::from_openssh(&format!("{algorithm} {blob}"))
        .map_err(|e| format!("`{algorithm}` key does not parse ({e})"))?;
    if key.algorithm().as_str() != algorithm {
        return Err(format!(
            "the key is a {} key, not {algorithm}",
            key.algorithm()
        ));
    }
    Ok(key)
}

/// The base64 key blob of `key`, as in its OpenSSH public key line.
fn base64_blob(key: &PublicKey) -> String {
    let mut bare = key.clone();
    bare.set_comment("");
    bare.to_openssh()
        .ok()
        .and_then(|line| line.split_whitespace().nth(1).map(str::to_owned))
        .unwrap_or_default()
}

fn is_vm_name(vm: &str) -> bool {
    !vm.is_empty() && !vm.contains(char::is_whitespace) && !vm.starts_with('#')
}

#[cfg(test)]
mod tests {
    use super::*;

    // Two real ed25519 host keys and one ECDSA key (made with ssh-keygen), with their
    // fingerprints as `ssh-keygen -lf` prints them.
    const ED_A: &str = "AAAAC3NzaC1lZDI1NTE5AAAAIFSNFr2Wh1g+EtEGXfjKeyaujk0qM6Vuya6MkC3JcSEC";
    const ED_A_FP: &str = "SHA256:zz6WS4LDPCNxH45VY+dQN7+riPEmwiOMk9ehRQSYPt0";
    const ED_B: &str = "AAAAC3NzaC1lZDI1NTE5AAAAIGABGftEMig6AdTHPZ11gzMC62JOrwQYMNvqFM/IVEhe";
    const ED_B_FP: &str = "SHA256:P/r3SbL4msa2fYMR1hAZG4vZB7OR0T5knoORE1zG4lo";
    const ECDSA: &str = "AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBK1vsBKfrC5EeFmjvxgd9awup41hTrBgcMCRwyb/0lT4e+6atLR5X5Bn0KvDf0Eh1cZNB1/5gs5PA+//o68t4Y8=";

    fn host_key(algorithm: &str, key: &str) -> HostKey {
        HostKey {
            algorithm: algorithm.to_owned(),
            key: key.to_owned(),
        }
    }

    fn public(key: &str) -> PublicKey {
        PublicKey::from_openssh(&format!("ssh-ed25519 {key}")).expect("test key")
    }

    fn path() -> &'static Path {
        Path::new("/state/known_hosts")
    }

    #[test]
    fn fingerprints_match_ssh_keygen() {
        assert_eq!(fingerprint(&public(ED_A)), ED_A_FP);
        assert_eq!(fingerprint(&public(ED_B)), ED_B_FP);
    }

    #[test]
    fn render_then_parse_is_the_same_table() {
        let table = KnownHosts::default()
            .with_pins(
                "dev-master",
                &[
                    host_key("ssh-ed25519", ED_A),
                    host_key("ecdsa-sha2-nistp256", ECDSA),
                ],
            )
            .and_then(|t| t.with_pins("dev-worker1", &[host_key("ssh-ed25519", ED_B)]))
            .expect("valid pins");
        let text = table.render();
        assert!(
            text.contains(&format!("\ndev-master ssh-ed25519 {ED_A}\n")),
            "{text}"
        );
        assert!(
            text.contains(&format!("\ndev-master ecdsa-sha2-nistp256 {ECDSA}\n")),
            "{text}"
        );
        assert!(
            text.contains(&format!("\ndev-worker1 ssh-ed25519 {ED_B}\n")),
            "{text}"
        );
        assert_eq!(KnownHosts::parse(&text, path()).expect("parses"), table);
    }

    #[test]
    fn pin_replaces_the_vms_keys_and_forget_removes_them() {
        let table = KnownHosts::default()
            .with_pins("vm", &[host_key("ssh-ed25519", ED_A)])
            .and_then(|t| t.with_pins("other", &[host_key("ssh-ed25519", ED_A)]))
            .and_then(|t| t.with_pins("vm", &[host_key("ssh-ed25519", ED_B)]))
            .expect("valid pins");
        let vm_keys: Vec<String> = table.pins("vm").map(PinnedKey::fingerprint).collect();
        assert_eq!(vm_keys, vec![ED_B_FP.to_owned()]);
        assert_eq!(table.pins("other").count(), 1);
        let forgotten = table.without("vm");
        assert_eq!(forgotten.pins("vm").count(), 0);
        assert_eq!(forgotten.pins("other").count(), 1);
    }

    #[test]
    fn verify_accepts_the_pinned_key_only() {
        let table = KnownHosts::default()
            .with_pins("dev-master", &[host_key("ssh-ed25519", ED_A)])
            .expect("valid pin");
        assert!(
            table
                .verify("dev-master", &public(ED_A), &PinOrigin::file(path()))
                .is_ok()
        );

        let changed = table
            .verify("dev-master", &public(ED_B), &PinOrigin::file(path()))
            .expect_err("changed");
        assert_eq!(
            changed.to_string(),
            format!(
                "the SSH host key of VM `dev-master` is not the pinned one (pinned {ED_A_FP}, presented ssh-ed25519 {ED_B_FP}); if the VM was re-created, accept its new key: `tart-infra ssh forget dev-master`, then run `tart-infra up` again, which pins the new key through the guest agent; otherwise something is intercepting the connection"
            )
        );

        // The same key under another VM name is not a pin for this VM.
        let unpinned = table
            .verify("dev-worker1", &public(ED_A), &PinOrigin::file(path()))
            .expect_err("unpinned");
        assert!(matches!(unpinned, SshError::NotPinned { .. }));
        assert!(
            unpinned.to_string().contains("/state/known_hosts"),
            "{unpinned}"
        );
    }

    #[test]
    fn malformed_lines_name_the_line() {
        let cases = [
            ("vm ssh-ed25519\n", 1),
            ("# comment\n\nvm ssh-ed25519 AAAA extra\n", 3),
            ("vm ssh-ed25519 notbase64!!\n", 1),
            (&*format!("vm ecdsa-sha2-nistp256 {ED_A}\n"), 1),
            (&*format!("ok ssh-ed25519 {ED_A}\nvm ssh-rsa {ED_A}\n"), 2),
        ];
        for (text, line) in cases {
            match KnownHosts::parse(text, path()) {
                Err(KnownHostsError::Malformed { line: got, .. }) => {
                    assert_eq!(got, line, "{text:?}")
                }
                other => panic!("{text:?} gave {other:?}"),
            }
        }
        assert_eq!(
            KnownHosts::parse("# only comments\n\n", path()).expect("empty"),
            KnownHosts::default()
        );
    }

    #[test]
    fn bad_pins_are_refused() {
        let empty = KnownHosts::default();
        assert!(empty.with_pins("vm", &[]).is_err());
        assert!(
            empty
                .with_pins("", &[host_key("ssh-ed25519", ED_A)])
                .is_err()
        );
        assert!(
            empty
                .with_pins("a vm", &[host_key("ssh-ed25519", ED_A)])
                .is_err()
        );
        assert!(
            empty
                .with_pins("vm", &[host_key("ssh-ed25519", "AAAA")])
                .is_err()
        );
        assert!(
            empty
                .with_pins("vm", &[host_key("ssh-ed25519 x", ED_A)])
                .is_err()
        );
    }

    #[test]
    fn file_pin_forget_round_trip() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = KnownHostsFile::new(dir.path().join("state/known_hosts"));
        assert_eq!(
            file.load().expect("missing is empty"),
            KnownHosts::default()
        );
        file.pin("vm", &[host_key("ssh-ed25519", ED_A)])
            .expect("pinned");
        file.pin("other", &[host_key("ssh-ed25519", ED_B)])
            .expect("pinned");
        let loaded = file.load().expect("loads");
        assert_eq!(loaded.pins("vm").count(), 1);
        assert!(file.forget("vm").expect("forgot"));
        assert!(!file.forget("vm").expect("nothing to forget"));
        assert_eq!(file.load().expect("loads").pins("other").count(), 1);
    }
}
