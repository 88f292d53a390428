//! Invalid objects rejected by the API server (schema, CEL rules), each with a message
//! that names the field and says what to fix.

use anyhow::Result;

use super::{NET, TART_NODES, create, lt, mc, se, setup, ts};

/// An invalid object and what the API server's message must contain: the field's path and
/// the words that tell the user what to fix.
struct Invalid {
    what: &'static str,
    yaml: String,
    expect: &'static [&'static str],
}

fn invalid_objects() -> Vec<Invalid> {
    let case = |what, yaml, expect| Invalid { what, yaml, expect };
    vec![
        case(
            "a policy namespace that is not a namespace name",
            mc(
                "bad-policy-ns",
                "  tier: dev\n  provider: external\n  kubeconfigSecretRef: {namespace: tart-system, name: dev}\n  loadTestPolicy: {allowedNamespaces: [Team_A]}\n",
            ),
            &[
                "spec.loadTestPolicy.allowedNamespaces[0]",
                "a namespace name (a DNS label) or *",
            ],
        ),
        case(
            "a policy allowing more VUs than a LoadTest can ask",
            mc(
                "bad-policy-vus",
                "  tier: dev\n  provider: external\n  kubeconfigSecretRef: {namespace: tart-system, name: dev}\n  loadTestPolicy: {maxVUs: 5000}\n",
            ),
            &["spec.loadTestPolicy.maxVUs", "less than or equal to 1000"],
        ),
        case(
            "a policy duration that is not a duration",
            mc(
                "bad-policy-duration",
                "  tier: dev\n  provider: external\n  kubeconfigSecretRef: {namespace: tart-system, name: dev}\n  loadTestPolicy: {maxDuration: forever}\n",
            ),
            &[
                "spec.loadTestPolicy.maxDuration",
                "must be a duration such as 30s",
            ],
        ),
        case(
            "unknown preset",
            lt("  cluster: dev\n  preset: super-load\n"),
            &["spec.preset", "Unsupported value", "light-load"],
        ),
        case(
            "negative VUs",
            lt("  cluster: dev\n  http: {vus: -5}\n"),
            &["spec.http.vus", "greater than or equal to 1"],
        ),
        case(
            "huge VUs",
            lt("  cluster: dev\n  http: {vus: 100000}\n"),
            &["spec.http.vus", "less than or equal to 1000"],
        ),
        case(
            "bad duration",
            lt("  cluster: dev\n  http: {duration: 10x}\n"),
            &["spec.http.duration", "must be a duration such as 30s"],
        ),
        case(
            "duration too long",
            lt("  cluster: dev\n  http: {duration: 25h}\n"),
            &["spec.http.duration", "between 1s and 24h"],
        ),
        case(
            "zero duration",
            lt("  cluster: dev\n  http: {duration: 0s}\n"),
            &["spec.http.duration", "between 1s and 24h"],
        ),
        case(
            "non-http URL",
            lt("  cluster: dev\n  http: {targetUrl: 'ftp://files.example'}\n"),
            &["spec.http.targetUrl", "absolute http:// or https:// URL"],
        ),
        case(
            "URL without host",
            lt("  cluster: dev\n  http: {targetUrl: 'http://'}\n"),
            &["spec.http.targetUrl", "with a host"],
        ),
        case(
            "bad URL in targets",
            lt("  cluster: dev\n  http: {targets: ['http://ok.example', 'not a url']}\n"),
            &["spec.http.targets[1]", "absolute http"],
        ),
        case(
            "preset and http",
            lt("  cluster: dev\n  preset: light-load\n  http: {vus: 5}\n"),
            &["spec", "exactly one of preset, http or stress"],
        ),
        case(
            "none of preset/http/stress",
            lt("  cluster: dev\n"),
            &["spec", "exactly one of preset, http or stress"],
        ),
        case(
            "targetUrl and targets",
            lt(
                "  cluster: dev\n  http: {targetUrl: 'http://a.example', targets: ['http://b.example']}\n",
            ),
            &["spec.http", "not both"],
        ),
        case(
            "stages with vus",
            lt("  cluster: dev\n  http: {vus: 5, stages: [{duration: 10s, target: 5}]}\n"),
            &["spec.http", "stages replace vus"],
        ),
        case(
            "more runners than virtual users",
            lt("  cluster: dev\n  http: {vus: 3, parallelism: 4}\n"),
            &["spec.http.parallelism", "every runner needs at least one"],
        ),
        case(
            "more runners than the highest stage",
            lt(
                "  cluster: dev\n  http: {stages: [{duration: 10s, target: 2}, {duration: 5s, target: 0}], parallelism: 3}\n",
            ),
            &["spec.http.parallelism", "every runner needs at least one"],
        ),
        case(
            "more than 20 runners",
            lt("  cluster: dev\n  http: {vus: 100, parallelism: 21}\n"),
            &["spec.http.parallelism", "20"],
        ),
        case(
            "vmBytes on a CPU stress",
            lt("  cluster: dev\n  stress: {kind: cpu, vmBytes: 64M}\n"),
            &["spec.stress.vmBytes", "memory only"],
        ),
        case(
            "malformed vmBytes",
            lt("  cluster: dev\n  stress: {kind: memory, vmBytes: 64MB}\n"),
            &["spec.stress.vmBytes", "such as 64M"],
        ),
        case(
            "unknown stress kind",
            lt("  cluster: dev\n  stress: {kind: disk}\n"),
            &["spec.stress.kind", "Unsupported value"],
        ),
        case(
            "image on latest",
            lt("  cluster: dev\n  preset: light-load\n  image: grafana/k6:latest\n"),
            &["spec.image", "pinned image"],
        ),
        case(
            "untagged image",
            lt("  cluster: dev\n  preset: light-load\n  image: grafana/k6\n"),
            &["spec.image", "pinned image"],
        ),
        case(
            "error rate above 1",
            lt("  cluster: dev\n  http: {thresholds: {errorRate: 1.5}}\n"),
            &["spec.http.thresholds.errorRate", "less than or equal to 1"],
        ),
        case(
            "runner namespace not a DNS label",
            lt("  cluster: dev\n  preset: light-load\n  runnerNamespace: Load_Tests\n"),
            &["spec.runnerNamespace", "DNS label"],
        ),
        case(
            "header value with a line break",
            lt(
                "  cluster: dev\n  http: {headers: [{name: x-a, value: \"1\\r\\nInjected: yes\"}]}\n",
            ),
            &["spec.http.headers[0].value", "line breaks"],
        ),
        case(
            "header name with a colon",
            lt("  cluster: dev\n  http: {headers: [{name: 'x:a', value: b}]}\n"),
            &["spec.http.headers[0].name", "header names"],
        ),
        case(
            "missing cluster",
            lt("  preset: light-load\n"),
            &["spec.cluster", "Required value"],
        ),
        case(
            "bad cluster name",
            lt("  cluster: Dev_Cluster\n  preset: light-load\n"),
            &["spec.cluster", "object name"],
        ),
        case(
            "timeout too short",
            lt("  cluster: dev\n  preset: light-load\n  timeoutSeconds: 1\n"),
            &["spec.timeoutSeconds", "greater than or equal to 10"],
        ),
        case(
            "misspelt field",
            lt("  cluster: dev\n  http: {vuz: 5}\n"),
            &["spec.http.vuz", "unknown field"],
        ),
        case(
            "unknown tier",
            mc(
                "bad-tier",
                "  tier: qa\n  provider: external\n  kubeconfigSecretRef: {namespace: tart-system, name: qa}\n",
            ),
            &["spec.tier", "Unsupported value"],
        ),
        case(
            "external without kubeconfig",
            mc("no-kubeconfig", "  tier: dev\n  provider: external\n"),
            &[
                "spec.kubeconfigSecretRef",
                "required when provider is external",
            ],
        ),
        case(
            "tart without network",
            mc(
                "no-network",
                &format!("  tier: dev\n  provider: tart\n{TART_NODES}"),
            ),
            &["spec.network", "required when provider is tart"],
        ),
        case(
            "tart without nodes",
            mc("no-nodes", &format!("  tier: dev\n  provider: tart\n{NET}")),
            &["spec.nodes", "must list the cluster's VMs"],
        ),
        case(
            "overlapping CIDRs",
            mc(
                "overlap",
                &format!(
                    "  tier: dev\n  provider: tart\n  network: {{podCidr: 10.96.0.0/12, serviceCidr: 10.97.0.0/16}}\n{TART_NODES}"
                ),
            ),
            &["spec.network.serviceCidr", "must not overlap"],
        ),
        case(
            "CIDR with host bits",
            mc(
                "host-bits",
                &format!(
                    "  tier: dev\n  provider: tart\n  network: {{podCidr: 10.20.0.5/16, serviceCidr: 10.97.0.0/16}}\n{TART_NODES}"
                ),
            ),
            &["spec.network.podCidr", "host bits zero"],
        ),
        case(
            "not a CIDR",
            mc(
                "not-cidr",
                &format!(
                    "  tier: dev\n  provider: tart\n  network: {{podCidr: 10.20.0.0/33, serviceCidr: 10.97.0.0/16}}\n{TART_NODES}"
                ),
            ),
            &["spec.network.podCidr", "CIDR network address"],
        ),
        case(
            "two control-plane nodes",
            mc(
                "two-cp",
                &format!(
                    "  tier: dev\n  provider: tart\n{NET}  nodes:\n  - {{name: a, role: controlPlane, cpu: 2, memoryMiB: 4096}}\n  - {{name: b, role: controlPlane, cpu: 2, memoryMiB: 4096}}\n"
                ),
            ),
            &["spec.nodes", "exactly one node with role controlPlane"],
        ),
        case(
            "no control-plane node",
            mc(
                "no-cp",
                &format!(
                    "  tier: dev\n  provider: tart\n{NET}  nodes:\n  - {{name: a, role: worker, cpu: 2, memoryMiB: 4096}}\n"
                ),
            ),
            &["spec.nodes", "exactly one node with role controlPlane"],
        ),
        case(
            "control plane with 1 CPU",
            mc(
                "small-cp",
                &format!(
                    "  tier: dev\n  provider: tart\n{NET}  nodes:\n  - {{name: a, role: controlPlane, cpu: 1, memoryMiB: 4096}}\n"
                ),
            ),
            &["spec.nodes[0].cpu", "at least 2 CPUs"],
        ),
        case(
            "control plane with 1 GiB",
            mc(
                "small-cp-mem",
                &format!(
                    "  tier: dev\n  provider: tart\n{NET}  nodes:\n  - {{name: a, role: controlPlane, cpu: 2, memoryMiB: 1024}}\n"
                ),
            ),
            &["spec.nodes[0].memoryMiB", "at least 2048 MiB"],
        ),
        case(
            "duplicate node names",
            mc(
                "dup-nodes",
                &format!(
                    "  tier: dev\n  provider: tart\n{NET}  nodes:\n  - {{name: a, role: controlPlane, cpu: 2, memoryMiB: 4096}}\n  - {{name: a, role: worker, cpu: 2, memoryMiB: 4096}}\n"
                ),
            ),
            &["spec.nodes[1]", "Duplicate value"],
        ),
        case(
            "node name not a DNS label",
            mc(
                "bad-node",
                &format!(
                    "  tier: dev\n  provider: tart\n{NET}  nodes:\n  - {{name: Master_1, role: controlPlane, cpu: 2, memoryMiB: 4096}}\n"
                ),
            ),
            &["spec.nodes[0].name", "DNS label"],
        ),
        case(
            "Kubernetes too old",
            mc(
                "old-k8s",
                &format!(
                    "  tier: dev\n  provider: tart\n  kubernetesVersion: '1.20'\n{NET}{TART_NODES}"
                ),
            ),
            &["spec.kubernetesVersion", "1.33 or newer"],
        ),
        case(
            "experiment with preset and http",
            se("  cluster: dev\n  load: {preset: scale-light, http: {vus: 5}}\n"),
            &["spec.load", "exactly one of load.preset or load.http"],
        ),
        case(
            "experiment without load",
            se("  cluster: dev\n  load: {}\n"),
            &["spec.load", "exactly one of load.preset or load.http"],
        ),
        case(
            "unknown experiment preset",
            se("  cluster: dev\n  load: {preset: cascade-mega}\n"),
            &["spec.load.preset", "Unsupported value"],
        ),
        case(
            "sample interval 0",
            se("  cluster: dev\n  load: {preset: scale-light}\n  sampleIntervalSeconds: 0\n"),
            &["spec.sampleIntervalSeconds", "greater than or equal to 1"],
        ),
        case(
            "cooldown too long",
            se("  cluster: dev\n  load: {preset: scale-light}\n  cooldownSeconds: 99999\n"),
            &["spec.cooldownSeconds", "less than or equal to 3600"],
        ),
        case(
            "duplicate experiment targets",
            se(
                "  cluster: dev\n  load: {preset: scale-light}\n  targets:\n  - {namespace: demo, deployment: web}\n  - {namespace: demo, deployment: web}\n",
            ),
            &["spec.targets[1]", "Duplicate value"],
        ),
        case(
            "a schedule of four fields",
            ts(
                "four-fields",
                "  schedule: '*/5 * * *'\n  loadTest: {spec: {cluster: dev, preset: light-load}}\n",
            ),
            &["spec.schedule", "five fields", "'0 2 * * *'"],
        ),
        case(
            "a schedule with a run template of both kinds",
            ts(
                "both-kinds",
                "  schedule: '@hourly'\n  loadTest: {spec: {cluster: dev, preset: light-load}}\n  scalingExperiment: {spec: {cluster: dev, load: {preset: scale-light}}}\n",
            ),
            &["spec", "exactly one of loadTest or scalingExperiment"],
        ),
        case(
            "a schedule with no run template",
            ts("no-template", "  schedule: '0 2 * * *'\n"),
            &["spec", "exactly one of loadTest or scalingExperiment"],
        ),
        case(
            "a time zone that is not an IANA name",
            ts(
                "bad-zone",
                "  schedule: '0 2 * * *'\n  timeZone: 'UTC+2 hours'\n  loadTest: {spec: {cluster: dev, preset: light-load}}\n",
            ),
            &["spec.timeZone", "IANA time zone name", "Europe/Berlin"],
        ),
        case(
            "an unknown concurrency policy",
            ts(
                "bad-policy",
                "  schedule: '0 2 * * *'\n  concurrencyPolicy: Queue\n  loadTest: {spec: {cluster: dev, preset: light-load}}\n",
            ),
            &["spec.concurrencyPolicy", "Unsupported value", "Forbid"],
        ),
        case(
            "a history limit past 100",
            ts(
                "big-history",
                "  schedule: '0 2 * * *'\n  successfulRunsHistoryLimit: 1000\n  loadTest: {spec: {cluster: dev, preset: light-load}}\n",
            ),
            &[
                "spec.successfulRunsHistoryLimit",
                "less than or equal to 100",
            ],
        ),
        case(
            "a run template whose spec is invalid",
            ts(
                "bad-template",
                "  schedule: '0 2 * * *'\n  loadTest: {spec: {cluster: dev, preset: light-load, http: {vus: 5}}}\n",
            ),
            &[
                "spec.loadTest.spec",
                "set exactly one of preset, http or stress",
            ],
        ),
        case(
            "a schedule name too long for its runs' label",
            ts(
                "a-schedule-name-that-is-far-too-long-to-label-its-runs-with",
                "  schedule: '0 2 * * *'\n  loadTest: {spec: {cluster: dev, preset: light-load}}\n",
            ),
            &["metadata.name must be at most 52 characters"],
        ),
    ]
}

#[tokio::test]
async fn invalid_objects_are_rejected_with_the_field_named() -> Result<()> {
    let (cp, client) = setup().await?;
    let ns = cp.namespace("invalid").await?;
    let cases = invalid_objects();
    assert!(cases.len() >= 15);
    let mut failures = Vec::new();
    for case in &cases {
        match create(&client, &ns, &case.yaml).await? {
            None => failures.push(format!("{}: accepted", case.what)),
            Some(message) => {
                eprintln!("{}: {message}", case.what);
                let missing: Vec<_> = case
                    .expect
                    .iter()
                    .filter(|e| !message.contains(**e))
                    .collect();
                if !missing.is_empty() {
                    failures.push(format!(
                        "{}: message lacks {missing:?}: {message}",
                        case.what
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    Ok(())
}
