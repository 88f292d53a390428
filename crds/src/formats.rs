//! Keeps only the schema `format`s the API server knows.
//!
//! schemars names an integer's format after its Rust type (`uint32` for `u32`, `uint64`
//! for `u64`, ...). The API server does not know those: it ignores them, and warns
//! `unrecognized format "uint32"` every time the CRD is created (`kubectl apply`,
//! `helm install`, ArgoCD). [`normalize`] rewrites each format to the one the API server
//! would use (the narrowest of `int32` / `int64` that holds every value of the Rust type)
//! or drops it, so the CRDs install without warnings. Nothing is lost: the bounds that
//! matter are the schema's `minimum` / `maximum`, which the API server does enforce.
//!
//! The rules mirror the API server's own (`GetUnrecognizedFormats` in
//! k8s.io/apiextensions-apiserver/pkg/apiserver/validation/formats.go): integers know
//! `int32` and `int64`, numbers `float` and `double`, strings the list in
//! [`STRING_FORMATS`].

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceDefinition, JSONSchemaProps, JSONSchemaPropsOrArray, JSONSchemaPropsOrBool,
    JSONSchemaPropsOrStringArray,
};

/// The string formats every supported Kubernetes version validates (compared without `-`,
/// as the API server does, so `date-time` is `datetime`). `k8s-short-name` and
/// `k8s-long-name` (1.34+) are left out: older API servers would warn about them.
pub const STRING_FORMATS: &[&str] = &[
    "bsonobjectid",
    "uri",
    "email",
    "hostname",
    "ipv4",
    "ipv6",
    "cidr",
    "mac",
    "uuid",
    "uuid3",
    "uuid4",
    "uuid5",
    "isbn",
    "isbn10",
    "isbn13",
    "creditcard",
    "ssn",
    "hexcolor",
    "rgbcolor",
    "byte",
    "password",
    "date",
    "duration",
    "datetime",
];

/// What the API server makes of `format` on a schema of type `type_`: `Some` with the
/// format to keep (possibly a known replacement), or `None` to drop it.
pub fn known_format(type_: Option<&str>, format: &str) -> Option<String> {
    match type_.unwrap_or("") {
        "integer" => match format {
            "int32" | "int64" => Some(format.to_owned()),
            // The narrowest known format that holds every value of the Rust type.
            "int8" | "int16" | "uint8" | "uint16" => Some("int32".to_owned()),
            "uint32" => Some("int64".to_owned()),
            // u64, usize, isize: no known format holds them all.
            _ => None,
        },
        "number" => matches!(format, "float" | "double").then(|| format.to_owned()),
        "" | "string" => STRING_FORMATS
            .contains(&format.replace('-', "").as_str())
            .then(|| format.to_owned()),
        _ => None,
    }
}

/// Rewrites or drops every format of every version's schema that the API server does not
/// know (see [`known_format`]).
pub fn normalize(crd: &mut CustomResourceDefinition) {
    for version in &mut crd.spec.versions {
        if let Some(schema) = version
            .schema
            .as_mut()
            .and_then(|s| s.open_api_v3_schema.as_mut())
        {
            visit(schema, "", &mut |_, s| {
                if let Some(format) = s.format.take() {
                    s.format = known_format(s.type_.as_deref(), &format);
                }
            });
        }
    }
}

/// Every format in the CRD's schemas the API server would warn about, as
/// `version .path: format` (empty once [`normalize`] has run).
pub fn unknown_formats(crd: &CustomResourceDefinition) -> Vec<String> {
    let mut found = Vec::new();
    for version in &crd.spec.versions {
        if let Some(mut schema) = version
            .schema
            .as_ref()
            .and_then(|s| s.open_api_v3_schema.clone())
        {
            visit(&mut schema, "", &mut |path, s| {
                if let Some(format) = &s.format
                    && known_format(s.type_.as_deref(), format).as_deref() != Some(format.as_str())
                {
                    found.push(format!("{} {path}: {format}", version.name));
                }
            });
        }
    }
    found
}

/// Calls `f` on `schema` and on every schema nested in it, with its path (`.spec.vus`,
/// `.spec.stages[]`, `.status.counts{}`).
fn visit(schema: &mut JSONSchemaProps, path: &str, f: &mut impl FnMut(&str, &mut JSONSchemaProps)) {
    f(path, schema);
    for (kind, map) in [
        ("", schema.properties.as_mut()),
        ("patternProperties:", schema.pattern_properties.as_mut()),
        ("definitions:", schema.definitions.as_mut()),
    ] {
        for (name, child) in map.into_iter().flatten() {
            visit(child, &format!("{path}.{kind}{name}"), f);
        }
    }
    for (kind, list) in [
        ("allOf", schema.all_of.as_mut()),
        ("anyOf", schema.any_of.as_mut()),
        ("oneOf", schema.one_of.as_mut()),
    ] {
        for (i, child) in list.into_iter().flatten().enumerate() {
            visit(child, &format!("{path}({kind}[{i}])"), f);
        }
    }
    if let Some(not) = schema.not.as_mut() {
        visit(not, &format!("{path}(not)"), f);
    }
    match schema.items.as_mut() {
        Some(JSONSchemaPropsOrArray::Schema(child)) => visit(child, &format!("{path}[]"), f),
        Some(JSONSchemaPropsOrArray::Schemas(children)) => {
            for (i, child) in children.iter_mut().enumerate() {
                visit(child, &format!("{path}[{i}]"), f);
            }
        }
        None => {}
    }
    if let Some(JSONSchemaPropsOrBool::Schema(child)) = schema.additional_properties.as_mut() {
        visit(child, &format!("{path}{{}}"), f);
    }
    if let Some(JSONSchemaPropsOrBool::Schema(child)) = schema.additional_items.as_mut() {
        visit(child, &format!("{path}(additionalItems)"), f);
    }
    for (name, dependency) in schema.dependencies.iter_mut().flatten() {
        if let JSONSchemaPropsOrStringArray::Schema(child) = dependency {
            visit(child, &format!("{path}(dependencies:{name})"), f);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
        CustomResourceDefinitionSpec, CustomResourceDefinitionVersion, CustomResourceValidation,
    };

    fn leaf(type_: &str, format: &str) -> JSONSchemaProps {
        JSONSchemaProps {
            type_: Some(type_.to_owned()),
            format: Some(format.to_owned()),
            ..JSONSchemaProps::default()
        }
    }

    fn crd_with(schema: JSONSchemaProps) -> CustomResourceDefinition {
        CustomResourceDefinition {
            spec: CustomResourceDefinitionSpec {
                versions: vec![CustomResourceDefinitionVersion {
                    name: "v1".to_owned(),
                    schema: Some(CustomResourceValidation {
                        open_api_v3_schema: Some(schema),
                    }),
                    ..CustomResourceDefinitionVersion::default()
                }],
                ..CustomResourceDefinitionSpec::default()
            },
            ..CustomResourceDefinition::default()
        }
    }

    #[test]
    fn integer_formats_become_the_narrowest_known_one_or_go() {
        for (rust, api) in [
            ("int32", Some("int32")),
            ("int64", Some("int64")),
            ("uint8", Some("int32")),
            ("uint16", Some("int32")),
            ("int16", Some("int32")),
            ("uint32", Some("int64")),
            ("uint64", None),
            ("uint", None),
            ("int", None),
        ] {
            assert_eq!(
                known_format(Some("integer"), rust).as_deref(),
                api,
                "{rust}"
            );
        }
    }

    #[test]
    fn number_and_string_formats_are_kept_only_when_known() {
        assert_eq!(
            known_format(Some("number"), "double").as_deref(),
            Some("double")
        );
        assert_eq!(
            known_format(Some("number"), "float").as_deref(),
            Some("float")
        );
        assert_eq!(known_format(Some("number"), "uint32"), None);
        for kept in ["date-time", "datetime", "uri", "byte", "ipv4", "duration"] {
            assert_eq!(
                known_format(Some("string"), kept).as_deref(),
                Some(kept),
                "{kept}"
            );
        }
        assert_eq!(
            known_format(None, "date-time").as_deref(),
            Some("date-time")
        );
        for dropped in ["ip", "int-or-string", "k8s-short-name", "uint32"] {
            assert_eq!(known_format(Some("string"), dropped), None, "{dropped}");
        }
        // Formats on booleans, objects and arrays mean nothing to the API server.
        assert_eq!(known_format(Some("boolean"), "int32"), None);
        assert_eq!(known_format(Some("object"), "date-time"), None);
    }

    #[test]
    fn normalize_reaches_every_nested_schema() {
        let mut root = JSONSchemaProps {
            type_: Some("object".into()),
            properties: Some(
                [
                    ("count".to_owned(), leaf("integer", "uint32")),
                    ("big".to_owned(), leaf("integer", "uint64")),
                    ("ratio".to_owned(), leaf("number", "double")),
                    ("at".to_owned(), leaf("string", "date-time")),
                    (
                        "list".to_owned(),
                        JSONSchemaProps {
                            type_: Some("array".into()),
                            items: Some(JSONSchemaPropsOrArray::Schema(Box::new(leaf(
                                "integer", "uint8",
                            )))),
                            ..JSONSchemaProps::default()
                        },
                    ),
                    (
                        "map".to_owned(),
                        JSONSchemaProps {
                            type_: Some("object".into()),
                            additional_properties: Some(JSONSchemaPropsOrBool::Schema(Box::new(
                                leaf("integer", "uint64"),
                            ))),
                            ..JSONSchemaProps::default()
                        },
                    ),
                ]
                .into(),
            ),
            any_of: Some(vec![leaf("integer", "uint16")]),
            ..JSONSchemaProps::default()
        };
        root.not = Some(Box::new(leaf("integer", "uint32")));
        let mut crd = crd_with(root);
        assert_eq!(
            unknown_formats(&crd),
            [
                "v1 .big: uint64",
                "v1 .count: uint32",
                "v1 .list[]: uint8",
                "v1 .map{}: uint64",
                "v1 (anyOf[0]): uint16",
                "v1 (not): uint32",
            ]
        );
        normalize(&mut crd);
        assert_eq!(unknown_formats(&crd), Vec::<String>::new());

        let schema = crd.spec.versions[0]
            .schema
            .as_ref()
            .and_then(|s| s.open_api_v3_schema.as_ref())
            .expect("schema");
        let props = schema.properties.as_ref().expect("properties");
        let format = |name: &str| props[name].format.as_deref();
        assert_eq!(format("count"), Some("int64"));
        assert_eq!(format("big"), None);
        assert_eq!(format("ratio"), Some("double"));
        assert_eq!(format("at"), Some("date-time"));
        match &props["list"].items {
            Some(JSONSchemaPropsOrArray::Schema(item)) => {
                assert_eq!(item.format.as_deref(), Some("int32"))
            }
            other => panic!("items: {other:?}"),
        }
        match &props["map"].additional_properties {
            Some(JSONSchemaPropsOrBool::Schema(value)) => assert_eq!(value.format, None),
            other => panic!("additionalProperties: {other:?}"),
        }
        assert_eq!(
            schema.any_of.as_ref().expect("anyOf")[0].format.as_deref(),
            Some("int32")
        );
        assert_eq!(
            schema.not.as_ref().expect("not").format.as_deref(),
            Some("int64")
        );
        // The other keywords stay as they were.
        assert_eq!(props["count"].type_.as_deref(), Some("integer"));
    }

    #[test]
    fn the_shipped_crds_have_only_known_formats() {
        for (file, crd) in crate::all() {
            assert_eq!(unknown_formats(&crd), Vec::<String>::new(), "{file}");
        }
    }

    #[test]
    fn schemars_still_emits_what_normalize_is_for() {
        // Locks why this module exists: if schemars stops emitting Rust-typed formats,
        // normalize can go.
        use kube::CustomResourceExt;
        assert!(!unknown_formats(&crate::LoadTest::crd()).is_empty());
    }
}
