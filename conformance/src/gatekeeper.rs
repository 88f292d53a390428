//! Gatekeeper's constraint kinds, for dry runs without Gatekeeper running: Gatekeeper creates
//! one CRD per ConstraintTemplate when it sees the template, so an API server without
//! Gatekeeper does not know `K8sBlockNodePort` and cannot check a constraint. [`constraint_crd`]
//! builds that CRD the way Gatekeeper's constraint framework does (`pkg/client/crds`:
//! `CreateSchema` and `CreateCRD`): group `constraints.gatekeeper.sh`, cluster-scoped, the
//! plural the lowercase kind, versions v1beta1 (stored) and v1alpha1, `spec.match` with the
//! schema Gatekeeper ships ([`match_schema`]), `spec.enforcementAction`, and
//! `spec.parameters` with the template's `crd.spec.validation.openAPIV3Schema`, so the
//! server validates a constraint's parameters as it would in the cluster.

use serde_json::{Value, json};

use crate::Error;
use crate::documents::{self, Document};

/// The API group of every constraint kind.
pub const GROUP: &str = "constraints.gatekeeper.sh";

/// The schema of a constraint's `spec.match`: the `embeddedMatch` property of the CRD in
/// Gatekeeper's `pkg/target/matchcrd_constant.go` (a Go raw string holding YAML), as
/// Gatekeeper itself reads it.
pub fn match_schema(matchcrd_constant_go: &str) -> Result<Value, Error> {
    let invalid = |message: &str| Error::Yaml {
        file: "gatekeeper pkg/target/matchcrd_constant.go".to_owned(),
        message: message.to_owned(),
    };
    let start = matchcrd_constant_go
        .find("const matchYAML = `")
        .ok_or_else(|| invalid("no `const matchYAML = `"))?
        + "const matchYAML = `".len();
    // The raw string runs to the file's last backquote; a backquote inside it is written
    // as the concatenation `+"`"+`.
    let end = matchcrd_constant_go
        .rfind('`')
        .filter(|end| *end >= start)
        .ok_or_else(|| invalid("matchYAML's raw string does not end"))?;
    let yaml = matchcrd_constant_go[start..end].replace("`+\"`\"+`", "`");
    let crd: Value = serde_yaml::from_str(&yaml).map_err(|e| invalid(&e.to_string()))?;
    let schema =
        &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["embeddedMatch"];
    if schema["properties"]["kinds"].is_null() {
        return Err(invalid("no embeddedMatch schema with a kinds property"));
    }
    Ok(schema.clone())
}

/// The CRD Gatekeeper generates for the ConstraintTemplate `template`, as a document named
/// after the template's own source.
pub fn constraint_crd(template: &Document, match_schema: &Value) -> Result<Document, Error> {
    let invalid = |message: &str| Error::Yaml {
        file: template.source.clone(),
        message: message.to_owned(),
    };
    if template.kind() != "ConstraintTemplate" {
        return Err(invalid("not a ConstraintTemplate"));
    }
    let crd_spec = &template.object.data["spec"]["crd"]["spec"];
    let kind = crd_spec["names"]["kind"]
        .as_str()
        .ok_or_else(|| invalid("spec.crd.spec.names.kind is missing"))?;
    let plural = kind.to_lowercase();
    let mut spec_properties = json!({
        "match": match_schema,
        "enforcementAction": {"type": "string", "default": "deny"},
        "scopedEnforcementActions": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "action": {"type": "string"},
                    "enforcementPoints": {
                        "type": "array",
                        "items": {"type": "object", "properties": {"name": {"type": "string"}}},
                    },
                },
            },
        },
    });
    let parameters = &crd_spec["validation"]["openAPIV3Schema"];
    if !parameters.is_null() {
        spec_properties["parameters"] = parameters.clone();
    }
    let schema = json!({
        "type": "object",
        "properties": {
            "metadata": {
                "type": "object",
                "properties": {"name": {"type": "string", "maxLength": 63}},
            },
            "spec": {"type": "object", "properties": spec_properties},
            "status": {"x-kubernetes-preserve-unknown-fields": true},
        },
    });
    let version = |name: &str, storage: bool| {
        json!({
            "name": name,
            "served": true,
            "storage": storage,
            "schema": {"openAPIV3Schema": schema},
            "subresources": {"status": {}},
            "additionalPrinterColumns": [
                {"name": "enforcement-action", "type": "string", "jsonPath": ".spec.enforcementAction"},
                {"name": "total-violations", "type": "integer", "jsonPath": ".status.totalViolations"},
            ],
        })
    };
    let crd = json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": format!("{plural}.{GROUP}"),
            "labels": {"gatekeeper.sh/constraint": "yes"},
        },
        "spec": {
            "group": GROUP,
            "names": {
                "kind": kind,
                "listKind": format!("{kind}List"),
                "plural": plural,
                "singular": plural,
                "categories": ["constraint", "constraints"],
            },
            "scope": "Cluster",
            "versions": [version("v1beta1", true), version("v1alpha1", false)],
        },
    });
    let mut docs = documents::parse(
        &format!("the CRD Gatekeeper generates from {}", template.source),
        &crd.to_string(),
    )?;
    docs.pop()
        .ok_or_else(|| invalid("the generated CRD did not parse"))
}

/// The CRDs of every ConstraintTemplate in `docs`.
pub fn constraint_crds(docs: &[Document], match_schema: &Value) -> Result<Vec<Document>, Error> {
    docs.iter()
        .filter(|d| d.kind() == "ConstraintTemplate")
        .map(|d| constraint_crd(d, match_schema))
        .collect()
}
