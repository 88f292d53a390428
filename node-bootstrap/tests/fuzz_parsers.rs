//! The pure parts fed arbitrary input: errors, never panics; quoting survives bash.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use node_bootstrap::kubeadm::parse_join_command;
use node_bootstrap::script::Script;
use node_bootstrap::ssh::{KnownHosts, tail};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn known_hosts_parse_never_panics(text in any::<String>()) {
        let _ = KnownHosts::parse(&text, Path::new("known_hosts"));
    }

    #[test]
    fn known_hosts_lines_of_three_words_never_panic(
        vm in "[a-z0-9-]{0,12}",
        algorithm in prop_oneof![Just("ssh-ed25519".to_owned()), "[a-z0-9@.-]{0,24}"],
        blob in "[A-Za-z0-9+/=]{0,80}",
    ) {
        let _ = KnownHosts::parse(&format!("{vm} {algorithm} {blob}\n"), Path::new("known_hosts"));
    }

    #[test]
    fn join_command_parse_never_panics(text in any::<String>()) {
        let _ = parse_join_command(&text);
        let _ = parse_join_command(&format!("kubeadm join {text}"));
    }

    #[test]
    fn tail_respects_its_limits(text in any::<String>(), lines in 0usize..30, bytes in 0usize..200) {
        let got = tail(&text, lines, bytes);
        prop_assert!(got.lines().count() <= lines.max(1));
        prop_assert!(got.len() <= bytes + '…'.len_utf8() + 3);
    }
}

proptest! {
    // Each case starts a bash: fewer cases.
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn any_value_without_nul_reaches_bash_unchanged(value in "[^\u{0}]{0,64}") {
        let script = Script::new("echo", "printf %s \"$VALUE\"\n")
            .input("VALUE", value.clone())
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let mut child = Command::new("bash")
            .arg("-s")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin
                .write_all(script.render().as_bytes())
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
        }
        let out = child.wait_with_output().map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert!(out.status.success());
        prop_assert_eq!(String::from_utf8_lossy(&out.stdout), value);
    }
}
