// tart-infra: turns k6's end-of-test summary data into the compact JSON result the
// operator reads from the runner's termination message (4 KiB at most), and into a short
// text summary for the container log. No k6 imports, so Node can test it too.

const TREND_STATS = ['avg', 'min', 'med', 'p(90)', 'p(95)', 'p(99)', 'max'];
const LATENCY_KEYS = { avg: 'avg', min: 'min', med: 'med', 'p(90)': 'p90', 'p(95)': 'p95', 'p(99)': 'p99', max: 'max' };

function values(data, name) {
  const metric = data && data.metrics && data.metrics[name];
  return (metric && metric.values) || {};
}

function num(x, digits) {
  if (typeof x !== 'number' || !Number.isFinite(x)) return null;
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

// Every threshold of every metric, with its verdict.
function thresholds(data) {
  const out = [];
  for (const [metric, m] of Object.entries((data && data.metrics) || {})) {
    for (const [expression, t] of Object.entries((m && m.thresholds) || {})) {
      out.push({ metric, expression, passed: Boolean(t && t.ok) });
    }
  }
  return out.slice(0, 20);
}

export function compactSummary(data) {
  const duration = values(data, 'http_req_duration');
  const reqs = values(data, 'http_reqs');
  const failed = values(data, 'http_req_failed');
  const checks = values(data, 'checks');
  const latencyMs = {};
  for (const [stat, key] of Object.entries(LATENCY_KEYS)) {
    const v = num(duration[stat], 3);
    if (v !== null) latencyMs[key] = v;
  }
  return {
    version: 1,
    requests: typeof reqs.count === 'number' ? reqs.count : 0,
    rps: num(reqs.rate, 3),
    latencyMs,
    errorRate: num(failed.rate, 6),
    checks: { passed: checks.passes || 0, failed: checks.fails || 0 },
    thresholds: thresholds(data),
    durationSeconds: num(data && data.state && data.state.testRunDurationMs / 1000, 3),
  };
}

function fmtMs(v) {
  return v === undefined || v === null ? '-' : `${v}ms`;
}

export function textSummary(result) {
  const lines = ['', 'tart-infra load test summary', ''];
  if (result.thresholds.length > 0) {
    lines.push('  thresholds');
    for (const t of result.thresholds) {
      lines.push(`    ${t.passed ? 'ok  ' : 'FAIL'} ${t.metric} ${t.expression}`);
    }
    lines.push('');
  }
  const l = result.latencyMs;
  const pct = result.errorRate === null ? '-' : `${(result.errorRate * 100).toFixed(2)}%`;
  lines.push(`  http_reqs.........: ${result.requests} (${result.rps === null ? '-' : result.rps}/s)`);
  lines.push(`  http_req_failed...: ${pct}`);
  lines.push(`  http_req_duration.: avg=${fmtMs(l.avg)} min=${fmtMs(l.min)} med=${fmtMs(l.med)} ` +
    `p(90)=${fmtMs(l.p90)} p(95)=${fmtMs(l.p95)} p(99)=${fmtMs(l.p99)} max=${fmtMs(l.max)}`);
  lines.push(`  checks............: ${result.checks.passed} passed, ${result.checks.failed} failed`);
  if (result.durationSeconds !== null) lines.push(`  duration..........: ${result.durationSeconds}s`);
  lines.push('');
  return lines.join('\n');
}

export { TREND_STATS };
