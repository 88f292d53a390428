//! YAML documents that remember where they came from, so a rejection names the file.

use std::fmt;
use std::path::{Path, PathBuf};

use kube::api::DynamicObject;

use crate::Error;

/// One Kubernetes object read from YAML.
#[derive(Clone, Debug)]
pub struct Document {
    /// Where it came from: a file relative to the directory the caller named (e.g.
    /// `gitops/addons/demo-apps/httpbin.yaml`) or a description such as `helm template cilium`,
    /// then `#` and its position among the file's objects (from 1).
    pub source: String,
    /// The document's YAML as written. This, not `object`, is what the API server gets: it
    /// reads YAML as kubectl does (YAML 1.1, so `defaultMode: 0400` is octal 256), where
    /// our parser would differ.
    pub text: String,
    /// The object as our parser reads it: enough for its kind, name and namespace.
    pub object: DynamicObject,
}

impl Document {
    /// The object's kind, or `?` when it has none.
    pub fn kind(&self) -> &str {
        self.object.types.as_ref().map_or("?", |t| t.kind.as_str())
    }

    /// The object's name, or `?` when it has none.
    pub fn name(&self) -> &str {
        self.object.metadata.name.as_deref().unwrap_or("?")
    }
}

impl fmt::Display for Document {
    /// `gitops/addons/demo-apps/httpbin.yaml#2 Deployment demo/httpbin`; a generated name shows as
    /// its prefix and `*` (`LoadTest light-load-*`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} ", self.source, self.kind())?;
        if let Some(ns) = &self.object.metadata.namespace {
            write!(f, "{ns}/")?;
        }
        match (
            &self.object.metadata.name,
            &self.object.metadata.generate_name,
        ) {
            (None, Some(prefix)) => write!(f, "{prefix}*"),
            _ => f.write_str(self.name()),
        }
    }
}

/// The objects of a multi-document YAML text (empty documents skipped), named `file#N`.
pub fn parse(file: &str, text: &str) -> Result<Vec<Document>, Error> {
    let mut documents = Vec::new();
    for chunk in split(text) {
        let invalid = |message: String| Error::Yaml {
            file: format!("{file}#{}", documents.len() + 1),
            message,
        };
        let value: serde_json::Value =
            serde_yaml::from_str(chunk).map_err(|e| invalid(e.to_string()))?;
        if value.is_null() {
            continue;
        }
        let object = serde_json::from_value(value).map_err(|e| invalid(e.to_string()))?;
        documents.push(Document {
            source: format!("{file}#{}", documents.len() + 1),
            text: chunk.to_owned(),
            object,
        });
    }
    Ok(documents)
}

/// The documents of a YAML stream, split as kubectl splits them (apimachinery's YAML
/// reader): a line that starts with `---` followed by nothing but blanks or a comment ends
/// a document.
fn split(text: &str) -> Vec<&str> {
    let mut chunks = Vec::new();
    let mut start = 0;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if let Some(rest) = line.strip_prefix("---") {
            let rest = rest.trim();
            if rest.is_empty() || rest.starts_with('#') {
                chunks.push(&text[start..offset]);
                start = offset + line.len();
            }
        }
        offset += line.len();
    }
    chunks.push(&text[start..]);
    chunks.retain(|c| !c.trim().is_empty());
    chunks
}
/// Every document of every `*.yaml` / `*.yml` file under `dir` (recursively, in path
/// order), named by their path relative to `base`.
pub fn read_tree(dir: &Path, base: &Path) -> Result<Vec<Document>, Error> {
    let mut documents = Vec::new();
    for path in yaml_files(dir)? {
        let text = std::fs::read_to_string(&path).map_err(|source| Error::Read {
            path: path.clone(),
            source,
        })?;
        let shown = path.strip_prefix(base).unwrap_or(&path);
        documents.extend(parse(&shown.to_string_lossy(), &text)?);
    }
    Ok(documents)
}

/// Every document under `gitops/addons/<dir>`, named by its path in the repository.
pub fn addon(dir: &str) -> Result<Vec<Document>, Error> {
    let repo = crate::repo();
    read_tree(&repo.join("gitops/addons").join(dir), &repo)
}

/// The YAML files of the addons ArgoCD applies (`gitops/addons/`), without the `tests/`
/// directories (promtool's unit tests of the alert rules are not Kubernetes objects).
pub fn addon_files() -> Result<Vec<PathBuf>, Error> {
    let addons = crate::repo().join("gitops/addons");
    Ok(yaml_files(&addons)?
        .into_iter()
        .filter(|file| {
            let inside = file.strip_prefix(&addons).unwrap_or(file);
            !inside.components().any(|c| c.as_os_str() == "tests")
        })
        .collect())
}

/// The documents of [`addon_files`], named by their path in the repository.
pub fn addons() -> Result<Vec<Document>, Error> {
    let repo = crate::repo();
    let mut documents = Vec::new();
    for file in addon_files()? {
        let text = std::fs::read_to_string(&file).map_err(|source| Error::Read {
            path: file.clone(),
            source,
        })?;
        let shown = file.strip_prefix(&repo).unwrap_or(&file);
        documents.extend(parse(&shown.to_string_lossy(), &text)?);
    }
    Ok(documents)
}

/// The YAML files under `dir`, recursively, sorted.
pub fn yaml_files(dir: &Path) -> Result<Vec<PathBuf>, Error> {
    let read = |path: &Path| {
        std::fs::read_dir(path).map_err(|source| Error::Read {
            path: path.to_path_buf(),
            source,
        })
    };
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in read(&dir)? {
            let path = entry
                .map_err(|source| Error::Read {
                    path: dir.clone(),
                    source,
                })?
                .path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_are_named_by_file_position_kind_and_name() {
        let text = "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: demo}\n---\n\
                    # only a comment\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: demo}\n\
                    ---\napiVersion: batch/v1\nkind: Job\nmetadata: {generateName: run-}\n";
        let docs = parse("manifests/x.yaml", text).expect("parses");
        let shown: Vec<String> = docs.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "manifests/x.yaml#1 ConfigMap demo/a",
                "manifests/x.yaml#2 Namespace demo",
                "manifests/x.yaml#3 Job run-*"
            ]
        );
    }

    #[test]
    fn invalid_yaml_names_the_file_and_document() {
        let err = parse("manifests/bad.yaml", "kind: [unclosed").expect_err("invalid");
        assert!(
            err.to_string().starts_with("manifests/bad.yaml#1: "),
            "{err}"
        );
    }

    #[test]
    fn documents_split_where_kubectl_splits_them_and_keep_their_text() {
        let text = "a: 1\n--- # first ends\nb: '---'\nc: |\n  ---not a separator\n---\n\n---\nd: 4";
        assert_eq!(
            split(text),
            ["a: 1\n", "b: '---'\nc: |\n  ---not a separator\n", "d: 4"]
        );
        let docs = parse(
            "x.yaml",
            "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\n# mode as charts write it\nx: 0400\n",
        )
        .expect("parses");
        assert!(docs[0].text.contains("x: 0400"), "{}", docs[0].text);
    }

    #[test]
    fn the_tree_is_read_recursively_in_path_order_and_only_yaml() {
        let dir = tempfile::tempdir().expect("tempdir");
        let write = |rel: &str| {
            let path = dir.path().join(rel);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(
                path,
                format!(
                    "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c{}}}\n",
                    rel.len()
                ),
            )
            .expect("write");
        };
        for rel in ["b/z.yml", "a.yaml", "b/c/d.yaml", "notes.md"] {
            write(rel);
        }
        let docs = read_tree(dir.path(), dir.path()).expect("reads");
        let sources: Vec<&str> = docs.iter().map(|d| d.source.as_str()).collect();
        assert_eq!(sources, ["a.yaml#1", "b/c/d.yaml#1", "b/z.yml#1"]);
    }
}
