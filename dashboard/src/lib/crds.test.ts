// @vitest-environment node
// The forms' checks (fields.ts, testForm.ts, analysis.ts) against the generated CRDs that the API
// server enforces (charts/tart-operator/crds/): every bound, pattern, length, enum and message
// the forms check is read from the schema, compared with the form's, and tried at the schema's
// edges. A change on either side alone fails here.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { experimentSpec, parseTargets, SCALING_PRESETS, type ExperimentForm } from "./analysis";
import { experimentForm } from "./analysis.fixtures";
import { BYTE_SIZE, DNS_LABEL, GO_DURATION, goDurationSeconds, isHttpUrl, LIMITS, MAX_LENGTH, MAX_TARGETS, OBJECT_NAME } from "./fields";
import { DEFAULT_FORM, KIND_FIELDS, KIND_LABELS, MESSAGES, validate, type TestForm } from "./testForm";

interface Schema {
  type?: string;
  minimum?: number;
  maximum?: number;
  maxLength?: number;
  maxItems?: number;
  enum?: (string | null)[];
  required?: string[];
  properties?: Record<string, Schema>;
  items?: Schema;
  "x-kubernetes-validations"?: { rule: string; message: string }[];
  "x-kubernetes-list-type"?: string;
  "x-kubernetes-list-map-keys"?: string[];
}

function specOf(file: string): Schema {
  const crd = parse(readFileSync(new URL(`../../../charts/tart-operator/crds/${file}`, import.meta.url), "utf8"));
  return crd.spec.versions[0].schema.openAPIV3Schema.properties.spec;
}

const loadTest = specOf("loadtests.yaml");
const experiment = specOf("scalingexperiments.yaml");

/** A field's schema by its path below spec: "http.thresholds.p95Ms", "targets[].namespace". */
function field(spec: Schema, path: string): Schema {
  let s = spec;
  for (const part of path.split(".")) {
    const list = part.endsWith("[]");
    const next = s.properties?.[list ? part.slice(0, -2) : part];
    const found = list ? next?.items : next;
    if (!found) throw new Error(`the CRD has no field spec.${path}`);
    s = found;
  }
  return s;
}

/** A field's one CEL rule and its message. */
function validation(s: Schema): { rule: string; message: string } {
  const rules = s["x-kubernetes-validations"] ?? [];
  expect(rules).toHaveLength(1);
  return rules[0]!;
}

/** The regular expression of a rule's `self.matches('…')`, unescaped as CEL reads the string. */
function matchesPattern(rule: string): string {
  const m = /self\.matches\('((?:[^'\\]|\\.)*)'\)/.exec(rule);
  if (!m) throw new Error(`no self.matches('…') in ${rule}`);
  return m[1]!.replace(/\\(.)/g, "$1");
}

const range = (s: Schema) => ({ min: s.minimum, max: s.maximum });

/** What a schema checks: all of it but the description. */
const checks = (s: Schema) => Object.fromEntries(Object.entries(s).filter(([key]) => key !== "description"));

/** Seconds of an h/m/s duration, as CEL's duration() reads the ones the pattern lets through. */
function goSeconds(d: string): number {
  const m = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(d);
  if (!m || d === "") throw new Error(`not an h/m/s duration: ${d}`);
  return Number(m[1] ?? 0) * 3600 + Number(m[2] ?? 0) * 60 + Number(m[3] ?? 0);
}

/** The [min, max] seconds of a GoDuration rule's `duration(self) >= duration('…') && … <= …`. */
function durationBounds(rule: string): [number, number] {
  const m = /duration\(self\) >= duration\('(\w+)'\) && duration\(self\) <= duration\('(\w+)'\)/.exec(rule);
  if (!m) throw new Error(`no duration bounds in ${rule}`);
  return [goSeconds(m[1]!), goSeconds(m[2]!)];
}

const testForm = (over: Partial<TestForm>): TestForm => ({ ...DEFAULT_FORM, cluster: "dev", ...over });
const errorsOf = (over: Partial<TestForm>) => validate(testForm(over)).errors ?? {};

/** The start form's errors for a custom HTTP load (unless `over` says otherwise). */
const experimentErrors = (over: Partial<ExperimentForm>) => {
  const result = experimentSpec(experimentForm({ mode: "custom", ...over }));
  return result.ok ? {} : result.errors;
};

describe("the custom-test form against the LoadTest CRD", () => {
  it.each([
    ["vus", "http.vus", "http"],
    ["parallelism", "http.parallelism", "http"],
    ["p95Ms", "http.thresholds.p95Ms", "http"],
    ["workers", "stress.workers", "cpu"],
  ] as const)("bounds %s as spec.%s: whole numbers within the schema's range", (input, path, kind) => {
    const s = field(loadTest, path);
    expect(s.type).toBe("integer");
    expect(LIMITS[input]).toEqual(range(s));
    const error = (v: number | string) => errorsOf({ kind, [input]: String(v) })[`spec.${path}`];
    expect(error(s.minimum!)).toBeUndefined();
    expect(error(s.maximum!)).toBeUndefined();
    expect(error(s.minimum! - 1)).toBe(MESSAGES[input]);
    expect(error(s.maximum! + 1)).toBe(MESSAGES[input]);
    expect(error(`${s.minimum}.5`)).toBe(MESSAGES[input]);
  });

  it("bounds the error-rate threshold as the schema does, fractions included", () => {
    const s = field(loadTest, "http.thresholds.errorRate");
    expect(s.type).toBe("number");
    expect(LIMITS.errorRate).toEqual(range(s));
    const error = (v: number) => errorsOf({ errorRate: String(v) })["spec.http.thresholds.errorRate"];
    for (const ok of [s.minimum!, s.maximum!, (s.minimum! + s.maximum!) / 2]) expect(error(ok), String(ok)).toBeUndefined();
    for (const bad of [s.minimum! - 0.001, s.maximum! + 0.001]) expect(error(bad), String(bad)).toBe(MESSAGES.errorRate);
  });

  it.each(["http.duration", "http.rampUp", "stress.timeout"])("checks spec.%s with the CRD's GoDuration rule and message", (path) => {
    const s = field(loadTest, path);
    const { rule, message } = validation(s);
    expect(message).toBe(MESSAGES.duration);
    expect(s.maxLength).toBe(MAX_LENGTH.goDuration);
    expect(GO_DURATION.source).toBe(matchesPattern(rule));
    expect(rule).toContain("self != ''");
    expect(durationBounds(rule)).toEqual([LIMITS.durationSeconds.min, LIMITS.durationSeconds.max]);
  });

  it("accepts exactly the durations the CRD's rule accepts", () => {
    const s = field(loadTest, "http.duration");
    const { rule } = validation(s);
    const pattern = new RegExp(matchesPattern(rule));
    const [min, max] = durationBounds(rule);
    const crdAccepts = (d: string) => d !== "" && d.length <= s.maxLength! && pattern.test(d) && goSeconds(d) >= min && goSeconds(d) <= max;
    const samples = [
      ...["1s", "30s", "5m", "1h30m", "1h0m0s", "24h", "86400s", "1440m", "99999s", "00001h00001m001s"],
      ...["", "0s", "0h0m0s", "24h1s", "86401s", "1441m", "123456s", "00001h00001m0001s"],
      ...["30", "5m30", "1s1m", "1.5s", "1d", " 30s", "30S", "500ms", "-1s", "1h 30m"],
    ];
    for (const d of samples) expect(goDurationSeconds(d) !== null, JSON.stringify(d)).toBe(crdAccepts(d));
  });

  it("checks the target URL with the CRD's HttpUrl rule, schemes, length and message", () => {
    const s = field(loadTest, "http.targetUrl");
    const { rule, message } = validation(s);
    expect(message).toBe(MESSAGES.url);
    // isHttpUrl implements this rule: a CRD that checks more needs a look at isHttpUrl.
    expect(rule).toBe("isURL(self) && url(self).getScheme() in ['http', 'https'] && url(self).getHostname() != ''");
    const schemes = /getScheme\(\) in \[([^\]]*)\]/.exec(rule)![1]!.split(",").map((x) => x.trim().replace(/'/g, ""));
    for (const scheme of schemes) expect(isHttpUrl(`${scheme}://nginx-web.demo`), scheme).toBe(true);
    for (const scheme of ["ftp", "ws", "file"]) expect(isHttpUrl(`${scheme}://nginx-web.demo`), scheme).toBe(false);
    expect(isHttpUrl("http://")).toBe(false);
    expect(s.maxLength).toBe(MAX_LENGTH.httpUrl);
    const longest = `http://x/${"a".repeat(s.maxLength! - "http://x/".length)}`;
    expect(isHttpUrl(longest)).toBe(true);
    expect(isHttpUrl(`${longest}a`)).toBe(false);
  });

  it("checks the cluster as the CRD's ObjectName", () => {
    const s = field(loadTest, "cluster");
    const { rule, message } = validation(s);
    expect(message).toBe(MESSAGES.objectName);
    expect(OBJECT_NAME.source).toBe(matchesPattern(rule));
    expect(s.maxLength).toBe(MAX_LENGTH.objectName);
    const longest = "a".repeat(s.maxLength!);
    expect(errorsOf({ cluster: longest })).toEqual({});
    expect(errorsOf({ cluster: `${longest}a` })).toEqual({ "spec.cluster": MESSAGES.objectName });
  });

  it("checks the memory per worker as the CRD's ByteSize, and sends it for kind memory only", () => {
    const s = field(loadTest, "stress.vmBytes");
    const { rule, message } = validation(s);
    expect(message).toBe(MESSAGES.byteSize);
    expect(BYTE_SIZE.source).toBe(matchesPattern(rule));
    expect(s.maxLength).toBe(MAX_LENGTH.byteSize);
    expect(field(loadTest, "stress")["x-kubernetes-validations"]?.map((v) => v.rule)).toContain("self.kind == 'memory' || !has(self.vmBytes)");
    expect(validate(testForm({ kind: "cpu", vmBytes: "64M" })).spec?.stress).not.toHaveProperty("vmBytes");
    expect(validate(testForm({ kind: "memory", vmBytes: "64M" })).spec?.stress?.vmBytes).toBe("64M");
  });

  it("offers HTTP load and exactly the CRD's stress kinds", () => {
    const stress = field(loadTest, "stress");
    expect(stress.required).toContain("kind");
    const kinds = field(loadTest, "stress.kind").enum;
    expect(Object.keys(KIND_LABELS)).toEqual(["http", ...(kinds ?? [])]);
    expect(Object.keys(KIND_FIELDS).sort()).toEqual(Object.keys(KIND_LABELS).sort());
    for (const kind of kinds ?? []) expect(validate(testForm({ kind: kind as TestForm["kind"] })).spec?.stress?.kind).toBe(kind);
  });
});

describe("the start-experiment form against the ScalingExperiment CRD", () => {
  it("offers exactly the CRD's presets", () => {
    const presets = field(experiment, "load.preset").enum?.filter((p) => p !== null);
    expect([...SCALING_PRESETS]).toEqual(presets);
    for (const preset of SCALING_PRESETS) expect(experimentErrors({ mode: "preset", preset })).toEqual({});
    expect(experimentErrors({ mode: "preset", preset: "scale-huge" })).toHaveProperty("preset");
  });

  it("takes the same HTTP load fields, with the same checks, as a LoadTest", () => {
    for (const path of ["vus", "duration", "targetUrl"]) {
      expect(checks(field(experiment, `load.http.${path}`)), path).toEqual(checks(field(loadTest, `http.${path}`)));
    }
    expect(checks(field(experiment, "cluster"))).toEqual(checks(field(loadTest, "cluster")));
    const vus = field(experiment, "load.http.vus");
    expect(experimentErrors({ vus: String(vus.minimum) })).toEqual({});
    expect(experimentErrors({ vus: String(vus.maximum) })).toEqual({});
    expect(experimentErrors({ vus: String(vus.minimum! - 1) })).toHaveProperty("vus");
    expect(experimentErrors({ vus: String(vus.maximum! + 1) })).toHaveProperty("vus");
    const [min, max] = durationBounds(validation(field(experiment, "load.http.duration")).rule);
    expect(experimentErrors({ duration: `${min}s` })).toEqual({});
    expect(experimentErrors({ duration: `${max}s` })).toEqual({});
    expect(experimentErrors({ duration: `${min - 1}s` })).toHaveProperty("duration");
    expect(experimentErrors({ duration: `${max + 1}s` })).toHaveProperty("duration");
    expect(experimentErrors({ targetUrl: "ftp://nginx-web.demo" })).toHaveProperty("targetUrl");
  });

  it("bounds the cooldown as the schema does", () => {
    const s = field(experiment, "cooldownSeconds");
    expect(s.type).toBe("integer");
    expect(LIMITS.cooldownSeconds).toEqual(range(s));
    expect(experimentErrors({ cooldownSeconds: String(s.minimum) })).toEqual({});
    expect(experimentErrors({ cooldownSeconds: String(s.maximum) })).toEqual({});
    expect(experimentErrors({ cooldownSeconds: String(s.maximum! + 1) })).toHaveProperty("cooldownSeconds");
    expect(experimentErrors({ cooldownSeconds: "12.5" })).toHaveProperty("cooldownSeconds");
  });

  it("checks targets as the CRD does: DNS-label namespaces, object-name deployments, at most maxItems, no repeats", () => {
    const targets = field(experiment, "targets");
    expect(targets.maxItems).toBe(MAX_TARGETS);
    const many = (n: number) => Array.from({ length: n }, (_, i) => `demo/web-${i}`).join(", ");
    expect(parseTargets(many(targets.maxItems!)).error).toBeNull();
    expect(parseTargets(many(targets.maxItems! + 1)).error).not.toBeNull();
    // A list-map keyed by namespace and deployment: the API server rejects a repeated pair.
    expect(targets["x-kubernetes-list-type"]).toBe("map");
    expect(targets["x-kubernetes-list-map-keys"]).toEqual(["namespace", "deployment"]);
    expect(parseTargets("demo/web demo/web").error).not.toBeNull();

    const namespace = field(experiment, "targets[].namespace");
    expect(DNS_LABEL.source).toBe(matchesPattern(validation(namespace).rule));
    expect(namespace.maxLength).toBe(MAX_LENGTH.dnsLabel);
    expect(parseTargets(`${"a".repeat(namespace.maxLength!)}/web`).error).toBeNull();
    expect(parseTargets(`${"a".repeat(namespace.maxLength! + 1)}/web`).error).not.toBeNull();
    expect(parseTargets("demo.ns/web").error).not.toBeNull();

    const deployment = field(experiment, "targets[].deployment");
    expect(OBJECT_NAME.source).toBe(matchesPattern(validation(deployment).rule));
    expect(deployment.maxLength).toBe(MAX_LENGTH.objectName);
    expect(parseTargets(`demo/${"a".repeat(deployment.maxLength!)}`).error).toBeNull();
    expect(parseTargets(`demo/${"a".repeat(deployment.maxLength! + 1)}`).error).not.toBeNull();
    expect(parseTargets("demo/web.v2").error).toBeNull();
  });
});
