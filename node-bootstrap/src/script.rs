//! Remote scripts: a bash body and its named inputs, sent to `bash -s` on the VM's stdin.
//!
//! The inputs are rendered as `export NAME='value'` lines in front of the body, so neither
//! the script nor its inputs (a join token, a kubeadm config) ever appear in a process list
//! or in the SSH command line; the only command the server sees is `bash -s`.
//! [`Script::render`] is pure and never fails: names and values are checked when they are
//! added.

use std::fmt;
use std::time::Duration;

/// Why an input could not be added to a script.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ScriptError {
    /// The name is not a shell variable name.
    #[error(
        "script `{script}`: input name `{name}` is not a shell variable name; use capitals, digits and `_`, not starting with a digit"
    )]
    InvalidName { script: String, name: String },
    /// The same input was given twice.
    #[error("script `{script}`: input `{name}` is given twice; give each input once")]
    DuplicateName { script: String, name: String },
    /// The value holds a NUL byte, which no shell variable can hold.
    #[error(
        "script `{script}`: input `{name}` contains a NUL byte, which a shell variable cannot hold; remove it"
    )]
    NulInValue { script: String, name: String },
}

/// One named input of a script.
#[derive(Clone, PartialEq, Eq)]
struct Input {
    name: String,
    value: String,
    secret: bool,
}

/// A bash script to run on a VM, with its inputs.
///
/// `Debug` shows the input names and hides secret values, so a script can be logged.
#[derive(Clone, PartialEq, Eq)]
pub struct Script {
    name: String,
    body: String,
    inputs: Vec<Input>,
    libraries: Vec<&'static str>,
    timeout: Option<Duration>,
}

impl Script {
    /// A script called `name` (used in errors and logs) with the bash `body`.
    pub fn new(name: impl Into<String>, body: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            body: body.into(),
            inputs: Vec::new(),
            libraries: Vec::new(),
            timeout: None,
        }
    }

    /// Adds the input `name` (exported to the script) with `value`.
    pub fn input(self, name: &str, value: impl Into<String>) -> Result<Self, ScriptError> {
        self.add_input(name, value.into(), false)
    }

    /// Adds an input whose value is a secret: it is never shown by `Debug`.
    pub fn secret_input(self, name: &str, value: impl Into<String>) -> Result<Self, ScriptError> {
        self.add_input(name, value.into(), true)
    }

    /// Bash function definitions rendered between the inputs and the body.
    pub fn library(mut self, functions: &'static str) -> Self {
        self.libraries.push(functions);
        self
    }

    /// How long the script may run; the session's command timeout when not set.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The script's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The script's own timeout, if it has one.
    pub fn timeout_override(&self) -> Option<Duration> {
        self.timeout
    }

    /// The names of the script's inputs, in the order they were added.
    pub fn input_names(&self) -> impl Iterator<Item = &str> {
        self.inputs.iter().map(|input| input.name.as_str())
    }

    /// The program sent to `bash -s`: the exported inputs, the libraries, then the body,
    /// in one `{ ...; } </dev/null` group. bash reads the whole group before it runs any of
    /// it, and the commands inside read `/dev/null`: a command that reads stdin cannot eat
    /// the rest of the script.
    pub fn render(&self) -> String {
        let mut out = format!("# tart-infra script: {}\n{{\n", self.name);
        for input in &self.inputs {
            out.push_str("export ");
            out.push_str(&input.name);
            out.push('=');
            out.push_str(&shell_quote(&input.value));
            out.push('\n');
        }
        for library in &self.libraries {
            out.push_str(library);
            if !library.ends_with('\n') {
                out.push('\n');
            }
        }
        out.push_str(&self.body);
        if !self.body.ends_with('\n') {
            out.push('\n');
        }
        out.push_str("} </dev/null\n");
        out
    }

    fn add_input(mut self, name: &str, value: String, secret: bool) -> Result<Self, ScriptError> {
        let error_context = || (self.name.clone(), name.to_owned());
        if !is_variable_name(name) {
            let (script, name) = error_context();
            return Err(ScriptError::InvalidName { script, name });
        }
        if self.inputs.iter().any(|input| input.name == name) {
            let (script, name) = error_context();
            return Err(ScriptError::DuplicateName { script, name });
        }
        if value.contains('\0') {
            let (script, name) = error_context();
            return Err(ScriptError::NulInValue { script, name });
        }
        self.inputs.push(Input {
            name: name.to_owned(),
            value,
            secret,
        });
        Ok(self)
    }
}

impl fmt::Debug for Script {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inputs: Vec<(&str, &str)> = self
            .inputs
            .iter()
            .map(|input| {
                let shown = if input.secret {
                    "<secret>"
                } else {
                    input.value.as_str()
                };
                (input.name.as_str(), shown)
            })
            .collect();
        f.debug_struct("Script")
            .field("name", &self.name)
            .field("inputs", &inputs)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// `value` as one bash word that expands to exactly `value`: single-quoted, with each `'`
/// written as `'\''`. Nothing inside single quotes is special to bash.
pub fn shell_quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    for c in value.chars() {
        if c == '\'' {
            out.push_str("'\\''");
        } else {
            out.push(c);
        }
    }
    out.push('\'');
    out
}

/// Whether `name` is a portable shell variable name that is not one bash gives a meaning.
fn is_variable_name(name: &str) -> bool {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    let reserved = matches!(
        name,
        "PATH" | "IFS" | "HOME" | "SHELL" | "BASH_ENV" | "ENV" | "SHELLOPTS" | "BASHOPTS" | "PS4"
    );
    first_ok && chars.all(|c| c.is_ascii_alphanumeric() || c == '_') && !reserved
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::process::{Command, Stdio};

    const HOSTILE: &[&str] = &[
        "",
        "plain",
        "it's",
        "'",
        "''",
        "'\\''",
        "$(touch /tmp/node-bootstrap-pwned)",
        "`touch /tmp/node-bootstrap-pwned`",
        "${HOME}",
        "$HOME",
        "a\nb\n",
        "\n'; touch /tmp/node-bootstrap-pwned; echo '",
        "\\",
        "trailing backslash\\",
        "\"double\"",
        "tab\there",
        "!event",
        "* ? [a-z]",
        "émoji 🚀 ünïcode",
        "-n",
        "EOF\nexport PATH=/nowhere\n",
    ];

    /// Runs `program` with the system's bash and returns its stdout.
    fn bash(program: &str) -> Vec<u8> {
        let mut child = Command::new("bash")
            .arg("-s")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("bash runs");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(program.as_bytes())
            .expect("write");
        let out = child.wait_with_output().expect("bash finishes");
        assert!(out.status.success(), "bash failed on:\n{program}");
        out.stdout
    }

    #[test]
    fn quoting_is_plain_single_quotes() {
        assert_eq!(shell_quote("abc"), "'abc'");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
    }

    #[test]
    fn hostile_values_reach_the_script_unchanged() {
        for value in HOSTILE {
            let script = Script::new("echo", "printf %s \"$VALUE\"\n")
                .input("VALUE", *value)
                .expect("valid input");
            let out = bash(&script.render());
            assert_eq!(
                String::from_utf8_lossy(&out),
                *value,
                "value {value:?} was changed"
            );
        }
        assert!(!std::path::Path::new("/tmp/node-bootstrap-pwned").exists());
    }

    #[test]
    fn render_puts_inputs_then_libraries_then_body() {
        let script = Script::new("order", "set -euo pipefail\ngreet\n")
            .input("WHO", "world")
            .expect("valid")
            .library("greet() { echo \"hello $WHO\"; }");
        assert_eq!(
            script.render(),
            "# tart-infra script: order\n{\nexport WHO='world'\ngreet() { echo \"hello $WHO\"; }\nset -euo pipefail\ngreet\n} </dev/null\n"
        );
        assert_eq!(bash(&script.render()), b"hello world\n");
    }

    #[test]
    fn commands_in_the_script_cannot_read_the_rest_of_it() {
        let script = Script::new("stdin", "set -euo pipefail\ncat\necho after\n");
        assert_eq!(bash(&script.render()), b"after\n");
    }

    #[test]
    fn bad_names_and_values_are_errors() {
        let base = || Script::new("s", "true");
        for bad in [
            "", "1ABC", "A-B", "A B", "A=B", "$A", "PATH", "IFS", "BASH_ENV", "ä",
        ] {
            assert!(
                matches!(base().input(bad, "x"), Err(ScriptError::InvalidName { .. })),
                "{bad:?} accepted"
            );
        }
        assert!(matches!(
            base().input("A", "x").and_then(|s| s.input("A", "y")),
            Err(ScriptError::DuplicateName { .. })
        ));
        assert!(matches!(
            base().input("A", "x\0y"),
            Err(ScriptError::NulInValue { .. })
        ));
        let message = base().input("A-B", "x").err().map(|e| e.to_string());
        assert_eq!(
            message.as_deref(),
            Some(
                "script `s`: input name `A-B` is not a shell variable name; use capitals, digits and `_`, not starting with a digit"
            )
        );
    }

    #[test]
    fn debug_hides_secret_values() {
        let script = Script::new("join", "true")
            .input("NODE", "dev-worker1")
            .and_then(|s| s.secret_input("TOKEN", "abcdef.0123456789abcdef"))
            .expect("valid");
        let shown = format!("{script:?}");
        assert!(shown.contains("dev-worker1"), "{shown}");
        assert!(shown.contains("TOKEN"), "{shown}");
        assert!(!shown.contains("abcdef.0123456789abcdef"), "{shown}");
    }
}
