// tart-infra k6 runner. The operator ships this file unchanged for every HTTP LoadTest;
// the test's parameters come from params.json (a ConfigMap key) as data, so nothing a user
// writes ever becomes code. Results go to the termination message as compact JSON.
import http from 'k6/http';
import { check, sleep } from 'k6';
import { compactSummary, textSummary, TREND_STATS } from './summary.js';
import { segments } from './segments.js';

const params = JSON.parse(open(__ENV.TART_PARAMS || '/etc/tart-loadtest/params.json'));

function fail(message) {
  throw new Error(`invalid params.json: ${message}`);
}

function validate(p) {
  if (p.version !== 1) fail(`unsupported version ${p.version}`);
  if (!Array.isArray(p.urls) || p.urls.length === 0) fail('urls must list at least one URL');
  if (typeof p.method !== 'string') fail('method must be a string');
  const t = p.thresholds || {};
  if (!Number.isFinite(t.p95Ms) || !Number.isFinite(t.errorRate)) fail('thresholds must be numbers');
  if (!Array.isArray(p.stages) && !(Number.isInteger(p.vus) && Number.isInteger(p.durationSeconds))) {
    fail('give stages, or vus and durationSeconds');
  }
  return p;
}

function shape(p) {
  if (Array.isArray(p.stages)) {
    return { stages: p.stages.map((s) => ({ duration: `${s.durationSeconds}s`, target: s.target })) };
  }
  return { vus: p.vus, duration: `${p.durationSeconds}s` };
}

validate(params);

export const options = Object.assign(shape(params), segments(params, __ENV, fail), {
  thresholds: {
    http_req_duration: [`p(95)<${params.thresholds.p95Ms}`],
    http_req_failed: [`rate<${params.thresholds.errorRate}`],
  },
  summaryTrendStats: TREND_STATS,
});

// Headers whose values come from Secrets: params.json names only the environment variable
// (the runner's Secret sets it), so the value is in neither the ConfigMap nor the Job.
function headers(p) {
  const all = Object.assign({}, p.headers || {});
  for (const [name, env] of Object.entries(p.secretHeaders || {})) {
    const value = __ENV[env];
    if (typeof value !== 'string' || value === '') fail(`header ${name}: environment variable ${env} is not set`);
    all[name] = value;
  }
  return all;
}

const requestParams = { headers: headers(params) };

export default function () {
  for (const url of params.urls) {
    const res = http.request(params.method, url, null, requestParams);
    check(res, { 'status is 200': (r) => r.status === 200 });
  }
  sleep(params.sleepSeconds || 0);
}

export function handleSummary(data) {
  const result = compactSummary(data);
  return {
    [params.resultPath || '/dev/termination-log']: JSON.stringify(result),
    stdout: textSummary(result),
  };
}
