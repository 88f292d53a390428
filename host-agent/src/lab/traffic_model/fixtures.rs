//! Pods, Services and runners the traffic model's tests share, as kwok and the operator
//! leave them.

use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::jiff::Timestamp;

use crate::lab::load_model::RunnerParams;
use crate::lab::simulator::RunningRunner;

pub fn pod(yaml: &str) -> Pod {
    serde_yaml::from_str(yaml).expect("pod")
}

/// A Running, Ready nginx-web pod as kwok leaves it (ReplicaSet-owned, IPs set).
pub fn nginx(name: &str, ip: &str) -> Pod {
    pod(&format!(
        r#"
metadata:
  name: {name}
  namespace: demo
  labels: {{app: nginx-web, pod-template-hash: 5d8f9c7b6d}}
  ownerReferences: [{{apiVersion: apps/v1, kind: ReplicaSet, name: nginx-web-5d8f9c7b6d, uid: u, controller: true}}]
spec:
  nodeName: dev-worker1
  containers:
  - name: nginx
    ports: [{{name: http, containerPort: 8080}}]
    readinessProbe: {{httpGet: {{path: /, port: http}}, periodSeconds: 5}}
    livenessProbe: {{httpGet: {{path: /, port: http}}, periodSeconds: 10}}
status:
  phase: Running
  podIP: {ip}
  hostIP: 192.168.1.11
  conditions: [{{type: Ready, status: "True"}}]
"#
    ))
}

pub fn redis() -> Pod {
    pod(r#"
metadata: {name: redis-0, namespace: demo, labels: {app: redis, controller-revision-hash: redis-7c9}}
spec:
  nodeName: dev-worker1
  containers:
  - name: redis
    ports: [{name: redis, containerPort: 6379}]
    readinessProbe: {tcpSocket: {port: redis}}
    livenessProbe: {exec: {command: [redis-cli, ping]}}
status: {phase: Running, podIP: 10.20.1.9, hostIP: 192.168.1.11}
"#)
}

pub fn runner_pod() -> Pod {
    pod(r#"
metadata:
  name: lt-light-abc12-x7k2p
  namespace: tart-loadtest
  uid: runner-uid
  labels: {app.kubernetes.io/component: loadtest-runner, job-name: lt-light-abc12, controller-uid: c1}
  ownerReferences: [{apiVersion: batch/v1, kind: Job, name: lt-light-abc12, uid: j, controller: true}]
spec:
  nodeName: dev-worker1
  containers: [{name: k6}]
status: {phase: Running, podIP: 10.20.1.30, hostIP: 192.168.1.11}
"#)
}

pub fn service(name: &str, selector: &str, target_port: &str) -> Service {
    serde_yaml::from_str(&format!(
        "metadata: {{name: {name}, namespace: demo}}\n\
         spec: {{selector: {selector}, clusterIP: 10.97.0.20, ports: [{{name: http, port: 80, targetPort: {target_port}}}]}}\n"
    ))
    .expect("service")
}

pub fn runner(vus: u64, urls: &[&str]) -> RunningRunner {
    RunningRunner {
        pod: runner_pod(),
        params: RunnerParams {
            urls: urls.iter().map(|u| (*u).to_owned()).collect(),
            method: Some("GET".into()),
            vus: Some(vus),
            duration_seconds: Some(60),
            stages: Vec::new(),
            parallelism: None,
        },
        started: Timestamp::UNIX_EPOCH,
    }
}

pub const NGINX_URL: &str = "http://nginx-web.demo.svc.cluster.local";
