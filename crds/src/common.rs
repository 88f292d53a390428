//! Types shared by the resources: validated string types (durations, URLs, names, images,
//! sizes) and the HTTP load description used by both `LoadTest` and `ScalingExperiment`.
//!
//! The string types are plain strings on the wire. Their schema carries a CEL rule with a
//! message that says what a valid value looks like, so `kubectl apply` of a bad value fails
//! with the field's path and the fix.

use std::borrow::Cow;
use std::fmt;

use kube::KubeSchema;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

pub use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

use crate::pattern::is_match;

/// Declares a string newtype whose OpenAPI schema is a string with a length limit and one
/// CEL rule (with its message).
macro_rules! validated_string {
    ($(#[$doc:meta])* $name:ident, max = $max:expr, rule = $rule:expr, message = $message:expr) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub String);

        impl $name {
            /// The CEL rule the API server applies to this value.
            pub const RULE: &'static str = $rule;
            /// The message the API server returns when [`Self::RULE`] fails.
            pub const MESSAGE: &'static str = $message;

            /// The value as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                Self(s.to_owned())
            }
        }

        impl JsonSchema for $name {
            fn schema_name() -> Cow<'static, str> {
                stringify!($name).into()
            }

            fn inline_schema() -> bool {
                true
            }

            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                json_schema!({
                    "type": "string",
                    "maxLength": $max,
                    "x-kubernetes-validations": [{ "rule": $rule, "message": $message }],
                })
            }
        }
    };
}

validated_string!(
    /// A duration in Go/k6 notation: hours, minutes and seconds, e.g. `30s`, `5m`, `1h30m`.
    GoDuration,
    max = 16,
    rule = "self.matches('^([0-9]{1,5}h)?([0-9]{1,5}m)?([0-9]{1,5}s)?$') && self != '' && duration(self) >= duration('1s') && duration(self) <= duration('24h')",
    message = "must be a duration such as 30s, 5m or 1h30m, between 1s and 24h"
);

validated_string!(
    /// An absolute `http://` or `https://` URL with a host.
    HttpUrl,
    max = 2048,
    rule = "isURL(self) && url(self).getScheme() in ['http', 'https'] && url(self).getHostname() != ''",
    message = "must be an absolute http:// or https:// URL with a host, e.g. http://nginx-web.demo.svc.cluster.local"
);

validated_string!(
    /// A DNS label (RFC 1123): the format of namespace and node names.
    DnsLabel,
    max = 63,
    rule = "self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')",
    message = "must be a DNS label: lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters"
);

validated_string!(
    /// A DNS subdomain (RFC 1123): the format of most Kubernetes object names.
    ObjectName,
    max = 253,
    rule = "self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$')",
    message = "must be a Kubernetes object name: lowercase letters, digits, '-' and '.', starting and ending with a letter or digit"
);

validated_string!(
    /// A container image pinned to a tag other than `latest` or to a digest.
    ImageRef,
    max = 512,
    rule = "self.matches('^[a-zA-Z0-9][a-zA-Z0-9._/:@-]*$') && !self.endsWith(':latest') && (self.contains('@sha256:') || self.substring(self.lastIndexOf('/') + 1).contains(':'))",
    message = "must be a pinned image reference: a tag other than latest (grafana/k6:1.4.2) or a digest (grafana/k6@sha256:...)"
);

validated_string!(
    /// A memory size for stress-ng's `--vm-bytes`: a number with a K, M or G suffix.
    ByteSize,
    max = 8,
    rule = "self.matches('^[1-9][0-9]{0,4}[KMG]$')",
    message = "must be a size such as 64M, 512K or 1G (a number of 1 to 5 digits and a K, M or G suffix)"
);

impl DnsLabel {
    /// The pattern of [`Self::RULE`].
    pub const PATTERN: &'static str = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$";
    /// The longest DNS label.
    pub const MAX_LEN: usize = 63;

    /// Whether `s` is a DNS label: what the schema accepts.
    pub fn is_valid(s: &str) -> bool {
        s.len() <= Self::MAX_LEN && is_match(Self::PATTERN, s)
    }
}

impl ObjectName {
    /// The pattern of [`Self::RULE`].
    pub const PATTERN: &'static str =
        r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";
    /// The longest object name.
    pub const MAX_LEN: usize = 253;

    /// Whether `s` is a Kubernetes object name: what the schema accepts.
    pub fn is_valid(s: &str) -> bool {
        s.len() <= Self::MAX_LEN && is_match(Self::PATTERN, s)
    }
}

impl GoDuration {
    /// The duration in whole seconds. The schema guarantees the format on objects that came
    /// from the API server; other input (an API body, a test) gets an error naming the value.
    pub fn seconds(&self) -> Result<u64, InvalidDuration> {
        parse_go_duration(&self.0)
    }
}

/// A duration string that is not in the `1h30m15s` form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid duration {0:?}: use hours, minutes and seconds such as 30s, 5m or 1h30m")]
pub struct InvalidDuration(pub String);

/// Parses `1h`, `5m`, `30s` and combinations in that order (`1h30m15s`) into seconds.
pub fn parse_go_duration(s: &str) -> Result<u64, InvalidDuration> {
    let err = || InvalidDuration(s.to_owned());
    let mut rest = s;
    let mut total: u64 = 0;
    let mut last_unit = 0; // enforces the order h, m, s and at most one of each
    if rest.is_empty() {
        return Err(err());
    }
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 || digits > 9 {
            return Err(err());
        }
        let value: u64 = rest[..digits].parse().map_err(|_| err())?;
        let (rank, factor) = match rest.as_bytes().get(digits) {
            Some(b'h') => (1, 3600),
            Some(b'm') => (2, 60),
            Some(b's') => (3, 1),
            _ => return Err(err()),
        };
        if rank <= last_unit {
            return Err(err());
        }
        last_unit = rank;
        total = value
            .checked_mul(factor)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(err)?;
        rest = &rest[digits + 1..];
    }
    Ok(total)
}

/// Formats seconds in the shortest `1h2m3s` form (`0s` for zero).
pub fn format_go_duration(secs: u64) -> String {
    if secs == 0 {
        return "0s".to_owned();
    }
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if s > 0 {
        out.push_str(&format!("{s}s"));
    }
    out
}

/// The HTTP method of every request in an iteration.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpMethod {
    #[default]
    Get,
    Head,
    Post,
    Put,
    Patch,
    Delete,
    Options,
}

/// One k6 stage: ramp the number of virtual users linearly to `target` over `duration`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct Stage {
    /// How long this stage lasts, e.g. `30s` or `2m`.
    pub duration: GoDuration,
    /// The number of virtual users at the end of this stage (0 to ramp down).
    #[schemars(range(min = 0, max = 1000))]
    pub target: u32,
}

/// Pass/fail criteria (SLA) for an HTTP test. A breached threshold makes k6 exit with code
/// 99; the test then ends Failed with reason ThresholdsBreached and keeps its results.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct Thresholds {
    /// The 95th percentile of request duration must stay below this many milliseconds.
    /// Default 2000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 600000))]
    pub p95_ms: Option<u32>,
    /// The ratio of failed requests (0 to 1) must stay below this value; 0.01 means 1%.
    /// Default 0.5.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.0, max = 1.0))]
    pub error_rate: Option<f64>,
}

/// An HTTP load test run by k6: which URLs each virtual user requests in one iteration, how
/// many virtual users for how long (a constant load, a ramp, or explicit stages), and the
/// thresholds that decide pass or fail.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = kube::core::Rule::new("!(has(self.targetUrl) && has(self.targets))")
    .message("set targetUrl for one URL or targets for several URLs per iteration, not both"))]
#[x_kube(validation = kube::core::Rule::new("!has(self.stages) || (!has(self.vus) && !has(self.duration) && !has(self.rampUp))")
    .message("stages replace vus, duration and rampUp: set either stages, or vus and duration (with an optional rampUp)"))]
#[x_kube(validation = kube::core::Rule::new("!has(self.parallelism) || (has(self.stages) ? self.stages.exists(s, s.target >= self.parallelism) : (has(self.vus) ? self.vus : 50) >= self.parallelism)")
    .message("parallelism may not exceed the virtual users (vus, default 50, or the highest stage target): every runner needs at least one; lower parallelism or raise vus")
    .field_path(".parallelism"))]
pub struct HttpLoad {
    /// The URL every virtual user requests. Default http://nginx-web.demo.svc.cluster.local.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_url: Option<HttpUrl>,
    /// Several URLs requested one after the other in each iteration (a cascade through
    /// several services). Mutually exclusive with targetUrl.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 10))]
    pub targets: Option<Vec<HttpUrl>>,
    /// The HTTP method of every request. Default GET.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<HttpMethod>,
    /// Concurrent virtual users (1 to 1000). Default 50.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 1000))]
    pub vus: Option<u32>,
    /// How long the load is held at `vus`, e.g. `30s`. Default 30s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<GoDuration>,
    /// Ramp from 0 to `vus` over this long before `duration`, and back to 0 after it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ramp_up: Option<GoDuration>,
    /// Explicit k6 stages, for load shapes that vus/duration/rampUp cannot express.
    /// Replaces vus, duration and rampUp.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 20))]
    pub stages: Option<Vec<Stage>>,
    /// Pass/fail criteria. Defaults: p95 below 2000 ms, error rate below 0.5.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thresholds: Option<Thresholds>,
    /// Extra request headers sent with every request, e.g. `{name: x-canary, value: "true"}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 32))]
    #[x_kube(merge_strategy = kube::core::ListMerge::Map(vec!["name".into()]))]
    pub headers: Option<Vec<Header>>,
    /// How many runner pods share the load (1 to 20). Default 1. With more than one, k6's
    /// execution segments split the virtual users (vus and stage targets are totals across
    /// the runners), the runners start paused, spread across nodes, and are resumed
    /// together; request counts and rates are summed, and latency percentiles are reported
    /// per runner (they cannot be merged from k6's summaries). Limited by the cluster's
    /// loadTestPolicy.maxParallelism.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 20))]
    pub parallelism: Option<u32>,
}

/// The label a Secret must carry before a LoadTest may send one of its values as a header:
/// without it, anyone who may create a LoadTest could send any Secret of the namespace to a
/// URL of their choosing.
pub const HEADER_SECRET_LABEL: &str = "tartinfra.dev/loadtest-header";

/// One HTTP request header: a literal `value`, or `valueFrom` a Secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = kube::core::Rule::new("has(self.value) != has(self.valueFrom)")
    .message("give exactly one of value or valueFrom"))]
pub struct Header {
    /// The header name: letters, digits and '-'.
    #[schemars(length(min = 1, max = 64))]
    #[x_kube(validation = kube::core::Rule::new("self.matches('^[A-Za-z0-9-]+$')")
        .message("header names may contain only letters, digits and '-'"))]
    pub name: String,
    /// The header value, without line breaks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1024))]
    #[x_kube(validation = kube::core::Rule::new("!self.contains('\\n') && !self.contains('\\r')")
        .message("header values may not contain line breaks"))]
    pub value: Option<String>,
    /// The value from a key of a Secret in the LoadTest's namespace, for tokens that must
    /// not appear in the spec. The Secret must be labelled
    /// `tartinfra.dev/loadtest-header: "true"`; the value reaches the runner through a
    /// Secret in the target cluster and is never shown in status, events or the API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_from: Option<HeaderValueFrom>,
}

/// Where a header's value comes from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HeaderValueFrom {
    /// A key of a Secret in the LoadTest's namespace.
    pub secret_key_ref: HeaderSecretKeyRef,
}

/// A key of a Secret in the LoadTest's namespace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct HeaderSecretKeyRef {
    /// The Secret's name.
    pub name: ObjectName,
    /// The key.
    #[schemars(length(min = 1, max = 253))]
    pub key: String,
}

/// The reference of a condition list as CRDs declare it: a map keyed by `type`.
pub(crate) fn conditions_list_type() -> kube::core::ListMerge {
    kube::core::ListMerge::Map(vec!["type".into()])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_rules_are_the_patterns_of_the_rust_checks() {
        use crate::pattern::cel_matches;
        assert_eq!(DnsLabel::RULE, cel_matches(DnsLabel::PATTERN));
        assert_eq!(ObjectName::RULE, cel_matches(ObjectName::PATTERN));
        for (label, ok) in [
            ("dev", true),
            ("dev-worker1", true),
            ("-dev", false),
            ("dev-", false),
            ("dev_1", false),
            ("Dev", false),
            ("", false),
        ] {
            assert_eq!(DnsLabel::is_valid(label), ok, "{label:?}");
        }
        assert!(!DnsLabel::is_valid(&"a".repeat(64)));
        assert!(ObjectName::is_valid("dev.kubeconfig") && !ObjectName::is_valid("dev..x"));
    }

    #[test]
    fn go_durations_parse_in_order() {
        assert_eq!(parse_go_duration("30s"), Ok(30));
        assert_eq!(parse_go_duration("5m"), Ok(300));
        assert_eq!(parse_go_duration("1h30m15s"), Ok(5415));
        assert_eq!(parse_go_duration("2h5s"), Ok(7205));
    }

    #[test]
    fn malformed_go_durations_are_errors() {
        for bad in [
            "",
            "s",
            "30",
            "30x",
            "1s1m",
            "1m1m",
            "-5s",
            "1.5s",
            "99999999999h",
            " 5s",
            "5s ",
        ] {
            assert!(
                parse_go_duration(bad).is_err(),
                "{bad:?} should be rejected"
            );
        }
    }

    #[test]
    fn durations_format_back_to_their_shortest_form() {
        for s in ["0s", "30s", "1m", "1h30m15s", "2h5s"] {
            let secs = parse_go_duration(s).unwrap_or(0);
            assert_eq!(format_go_duration(secs), s);
        }
    }
}
