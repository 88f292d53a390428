//! The demo apps' credentials in the lab. On a real cluster the demo-credentials Job of
//! `gitops/addons/demo-apps/credentials.yaml` (an ArgoCD Sync hook) creates them; simulated
//! pods run no script, so the lab reads the Job's `ensure` lines and does what they say
//! itself: each Secret that does not exist is created with its fixed values and a fresh
//! random password for every `random`; an existing one is kept. The Job stays the one source
//! of which Secrets and keys exist.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Secret;
use kube::Client;
use kube::api::{Api, DynamicObject, ObjectMeta, PostParams};

/// The annotation that makes an object an ArgoCD hook.
pub const HOOK_ANNOTATION: &str = "argocd.argoproj.io/hook";

/// One value of an ensured Secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// Written as is.
    Literal(String),
    /// A fresh password of [`PASSWORD_LEN`] letters and digits.
    Random,
}

/// Length of a generated password (the Job's `password` function makes the same).
pub const PASSWORD_LEN: usize = 32;

/// A Secret the credentials Job ensures.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ensured {
    /// The Secret's name.
    pub name: String,
    /// Its keys and how each value is made.
    pub keys: BTreeMap<String, Value>,
}

/// Why the Job's script could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialsError {
    /// An `ensure` line the lab cannot read.
    #[error("credentials Job, script line {line}: {message}")]
    Script {
        /// The line, counted from 1.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// The hook object is not a Job with one container script.
    #[error("credentials Job: {0}")]
    Shape(String),
    /// The OS gave no random bytes.
    #[error("no random bytes for a password: {0}")]
    Random(String),
    /// The API server refused a Secret.
    #[error("creating Secret {namespace}/{name}: {source}")]
    Api {
        /// The namespace.
        namespace: String,
        /// The Secret.
        name: String,
        /// The cause.
        #[source]
        source: kube::Error,
    },
}

/// The Secrets an `ensure SECRET KEY=VALUE...` script asks for, in order (pure). Lines that
/// do not start with `ensure ` are the script's own code and are skipped.
pub fn ensured(script: &str) -> Result<Vec<Ensured>, CredentialsError> {
    let mut out = Vec::new();
    for (i, line) in script.lines().enumerate() {
        let line = line.trim();
        let rest = match line.strip_prefix("ensure") {
            Some(rest) if rest.is_empty() || rest.starts_with(char::is_whitespace) => rest,
            _ => continue,
        };
        let bad = |message: String| CredentialsError::Script {
            line: i + 1,
            message,
        };
        let mut words = rest.split_whitespace();
        let name = words
            .next()
            .ok_or_else(|| bad("`ensure` without a Secret name".into()))?;
        let mut keys = BTreeMap::new();
        for pair in words {
            let (key, value) = pair
                .split_once('=')
                .ok_or_else(|| bad(format!("{pair:?} is not KEY=VALUE")))?;
            if key.is_empty() {
                return Err(bad(format!("{pair:?} has an empty key")));
            }
            let value = match value {
                "random" => Value::Random,
                v => Value::Literal(v.to_owned()),
            };
            if keys.insert(key.to_owned(), value).is_some() {
                return Err(bad(format!("key {key} given twice")));
            }
        }
        if keys.is_empty() {
            return Err(bad(format!("Secret {name} has no keys")));
        }
        out.push(Ensured {
            name: name.to_owned(),
            keys,
        });
    }
    Ok(out)
}

/// The script of a hook Job (its first container's last argument, as `sh -c SCRIPT`).
pub fn job_script(job: &DynamicObject) -> Result<&str, CredentialsError> {
    job.data["spec"]["template"]["spec"]["containers"][0]["args"]
        .as_array()
        .and_then(|args| args.last())
        .and_then(|s| s.as_str())
        .ok_or_else(|| {
            CredentialsError::Shape(
                "expected a Job whose first container's args end with the script".into(),
            )
        })
}

/// Whether `obj` is an ArgoCD hook (the lab runs no hooks; it does their work itself).
pub fn is_hook(obj: &DynamicObject) -> bool {
    obj.metadata
        .annotations
        .as_ref()
        .is_some_and(|a| a.contains_key(HOOK_ANNOTATION))
}

/// A password of [`PASSWORD_LEN`] letters and digits from the OS's random source.
pub fn password() -> Result<String, CredentialsError> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    // Rejection sampling: only bytes below a multiple of 62 are used, so every character
    // is equally likely.
    let limit = u8::try_from(256 - 256 % ALPHABET.len()).unwrap_or(248);
    let mut out = String::with_capacity(PASSWORD_LEN);
    let mut buf = [0u8; 64];
    while out.len() < PASSWORD_LEN {
        getrandom::fill(&mut buf).map_err(|e| CredentialsError::Random(e.to_string()))?;
        for b in buf {
            if b < limit && out.len() < PASSWORD_LEN {
                out.push(char::from(ALPHABET[usize::from(b) % ALPHABET.len()]));
            }
        }
    }
    Ok(out)
}

/// Creates each ensured Secret in `namespace` unless it exists (then it is kept as it is).
/// Returns the names of the Secrets created.
pub async fn ensure(
    client: &Client,
    namespace: &str,
    secrets: &[Ensured],
) -> Result<Vec<String>, CredentialsError> {
    let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let mut created = Vec::new();
    for s in secrets {
        let mut data = BTreeMap::new();
        for (k, v) in &s.keys {
            let value = match v {
                Value::Literal(l) => l.clone(),
                Value::Random => password()?,
            };
            data.insert(k.clone(), value);
        }
        let secret = Secret {
            metadata: ObjectMeta {
                name: Some(s.name.clone()),
                namespace: Some(namespace.to_owned()),
                labels: Some(BTreeMap::from([(
                    "app.kubernetes.io/managed-by".to_owned(),
                    "demo-credentials".to_owned(),
                )])),
                ..ObjectMeta::default()
            },
            string_data: Some(data),
            ..Secret::default()
        };
        match api.create(&PostParams::default(), &secret).await {
            Ok(_) => created.push(s.name.clone()),
            Err(kube::Error::Api(e)) if e.code == 409 => {}
            Err(source) => {
                return Err(CredentialsError::Api {
                    namespace: namespace.to_owned(),
                    name: s.name.clone(),
                    source,
                });
            }
        }
    }
    Ok(created)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ensure_lines_give_the_secrets_and_how_each_value_is_made() {
        let script = "set -eu\nensure() {\n  name=$1\n}\n  ensure db username=demo password=random\n\
                      ensure admin user=admin\n";
        let got = ensured(script).expect("parses");
        assert_eq!(
            got,
            [
                Ensured {
                    name: "db".into(),
                    keys: BTreeMap::from([
                        ("password".into(), Value::Random),
                        ("username".into(), Value::Literal("demo".into())),
                    ]),
                },
                Ensured {
                    name: "admin".into(),
                    keys: BTreeMap::from([("user".into(), Value::Literal("admin".into()))]),
                },
            ]
        );
    }

    #[test]
    fn malformed_ensure_lines_name_the_line() {
        for (script, wanted) in [
            ("ensure \n", "line 1: `ensure` without a Secret name"),
            (
                "x\nensure db password\n",
                "line 2: \"password\" is not KEY=VALUE",
            ),
            ("ensure db =v\n", "empty key"),
            ("ensure db a=1 a=2\n", "key a given twice"),
            ("ensure db\n", "Secret db has no keys"),
        ] {
            let e = ensured(script).expect_err(script).to_string();
            assert!(e.contains(wanted), "{script:?}: {e}");
        }
    }

    #[test]
    fn passwords_are_fresh_letters_and_digits() {
        let (a, b) = (password().expect("a"), password().expect("b"));
        assert_eq!(a.len(), PASSWORD_LEN);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric()), "{a}");
        assert_ne!(a, b);
    }
}
