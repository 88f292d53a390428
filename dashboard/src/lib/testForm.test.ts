import { describe, expect, it } from "vitest";
import { goDurationSeconds, isHttpUrl } from "./fields";
import { DEFAULT_FORM, inputForField, MESSAGES, validate, type TestForm } from "./testForm";

const form = (over: Partial<TestForm> = {}): TestForm => ({ ...DEFAULT_FORM, cluster: "dev", ...over });

describe("validate", () => {
  it("builds an HTTP spec with the CRD's field names", () => {
    expect(validate(form())).toEqual({
      spec: {
        cluster: "dev",
        http: { targetUrl: "http://nginx-web.demo.svc.cluster.local", vus: 50, duration: "30s", thresholds: { p95Ms: 2000 } },
      },
    });
  });

  it("adds a ramp and both thresholds, trimming the text", () => {
    const v = validate(
      form({ vus: " 80 ", duration: "45s", rampUp: "15s", targetUrl: "http://httpbin.demo.svc.cluster.local/get", p95Ms: "800", errorRate: "0.02" }),
    );
    // As manifests/examples/loadtest-custom-ramp.yaml, with the SLA of loadtest-custom-http.yaml.
    expect(v.spec).toEqual({
      cluster: "dev",
      http: {
        targetUrl: "http://httpbin.demo.svc.cluster.local/get",
        vus: 80,
        duration: "45s",
        rampUp: "15s",
        thresholds: { p95Ms: 800, errorRate: 0.02 },
      },
    });
  });

  it("spreads the load over several runners, each with a virtual user", () => {
    expect(validate(form({ vus: "30", parallelism: "3" })).spec?.http?.parallelism).toBe(3);
    expect(validate(form({ parallelism: "1" })).spec?.http).not.toHaveProperty("parallelism");
    expect(validate(form({ vus: "2", parallelism: "3" })).errors).toEqual({ "spec.http.parallelism": MESSAGES.parallelismOverVus });
  });

  it("leaves empty optional fields to the server's defaults", () => {
    const v = validate(form({ vus: "", duration: "", targetUrl: "", p95Ms: "", errorRate: "" }));
    expect(v.spec).toEqual({ cluster: "dev", http: {} });
  });

  it.each([
    ["vus", "0", "spec.http.vus", MESSAGES.vus],
    ["vus", "1001", "spec.http.vus", MESSAGES.vus],
    ["vus", "12.5", "spec.http.vus", MESSAGES.vus],
    ["vus", "ten", "spec.http.vus", MESSAGES.vus],
    ["parallelism", "0", "spec.http.parallelism", MESSAGES.parallelism],
    ["parallelism", "21", "spec.http.parallelism", MESSAGES.parallelism],
    ["parallelism", "60", "spec.http.parallelism", MESSAGES.parallelism],
    ["duration", "30", "spec.http.duration", MESSAGES.duration],
    ["duration", "0s", "spec.http.duration", MESSAGES.duration],
    ["duration", "25h", "spec.http.duration", MESSAGES.duration],
    ["duration", "1s1m", "spec.http.duration", MESSAGES.duration],
    ["duration", "1.5s", "spec.http.duration", MESSAGES.duration],
    ["rampUp", "10 s", "spec.http.rampUp", MESSAGES.duration],
    ["targetUrl", "nginx-web.demo", "spec.http.targetUrl", MESSAGES.url],
    ["targetUrl", "ftp://files.example", "spec.http.targetUrl", MESSAGES.url],
    ["targetUrl", "http:/nginx", "spec.http.targetUrl", MESSAGES.url],
    ["targetUrl", "http://", "spec.http.targetUrl", MESSAGES.url],
    ["p95Ms", "0", "spec.http.thresholds.p95Ms", MESSAGES.p95Ms],
    ["p95Ms", "600001", "spec.http.thresholds.p95Ms", MESSAGES.p95Ms],
    ["errorRate", "1.5", "spec.http.thresholds.errorRate", MESSAGES.errorRate],
    ["errorRate", "-0.1", "spec.http.thresholds.errorRate", MESSAGES.errorRate],
    ["errorRate", "5%", "spec.http.thresholds.errorRate", MESSAGES.errorRate],
    ["cluster", "", "spec.cluster", MESSAGES.cluster],
    ["cluster", "Dev_1", "spec.cluster", MESSAGES.objectName],
  ] as const)("rejects %s = %j", (field, value, path, message) => {
    expect(validate(form({ [field]: value }))).toEqual({ errors: { [path]: message } });
  });

  it("reports every bad field at once", () => {
    const v = validate(form({ vus: "0", duration: "forever" }));
    expect(Object.keys(v.errors ?? {}).sort()).toEqual(["spec.http.duration", "spec.http.vus"]);
  });

  it("builds a CPU stress spec without vmBytes", () => {
    expect(validate(form({ kind: "cpu", workers: "2", timeout: "60s", vmBytes: "128M" }))).toEqual({
      spec: { cluster: "dev", stress: { kind: "cpu", workers: 2, timeout: "60s" } },
    });
  });

  it("builds a memory stress spec like loadtest-custom-stress.yaml", () => {
    expect(validate(form({ kind: "memory", workers: "2", timeout: "45s", vmBytes: "96M" }))).toEqual({
      spec: { cluster: "dev", stress: { kind: "memory", workers: 2, timeout: "45s", vmBytes: "96M" } },
    });
  });

  it.each([
    ["workers", "0", "spec.stress.workers", MESSAGES.workers],
    ["workers", "65", "spec.stress.workers", MESSAGES.workers],
    ["timeout", "2d", "spec.stress.timeout", MESSAGES.duration],
    ["vmBytes", "64MB", "spec.stress.vmBytes", MESSAGES.byteSize],
    ["vmBytes", "0M", "spec.stress.vmBytes", MESSAGES.byteSize],
    ["vmBytes", "123456M", "spec.stress.vmBytes", MESSAGES.byteSize],
    ["vmBytes", "64m", "spec.stress.vmBytes", MESSAGES.byteSize],
  ] as const)("rejects memory stress %s = %j", (field, value, path, message) => {
    expect(validate(form({ kind: "memory", [field]: value }))).toEqual({ errors: { [path]: message } });
  });
});

describe("goDurationSeconds", () => {
  it("follows the CRD's pattern and 1s..24h range", () => {
    expect(goDurationSeconds("1s")).toBe(1);
    expect(goDurationSeconds("1h30m")).toBe(5400);
    expect(goDurationSeconds("24h")).toBe(86_400);
    expect(goDurationSeconds("0h0m1s")).toBe(1);
    expect(goDurationSeconds("86401s")).toBeNull();
    expect(goDurationSeconds("")).toBeNull();
    expect(goDurationSeconds("5m30")).toBeNull();
    expect(goDurationSeconds("123456s")).toBeNull(); // at most 5 digits per unit
    expect(goDurationSeconds("00001h00001m001s")).toBe(3661); // 16 characters: the limit
    expect(goDurationSeconds("00001h00001m0001s")).toBeNull(); // 17: over maxLength
  });
});

describe("isHttpUrl", () => {
  it("takes absolute http(s) URLs with a host only", () => {
    expect(isHttpUrl("https://example.com:8443/a?b=c")).toBe(true);
    expect(isHttpUrl("HTTP://nginx")).toBe(true);
    expect(isHttpUrl(" http://nginx")).toBe(false);
    expect(isHttpUrl("http:\\\\nginx")).toBe(false);
    expect(isHttpUrl("http://a b")).toBe(false);
    expect(isHttpUrl(`http://x/${"a".repeat(2048)}`)).toBe(false);
  });
});

describe("inputForField", () => {
  it("maps the API's field paths to the inputs shown", () => {
    expect(inputForField("spec.http.vus", "http")).toBe("vus");
    expect(inputForField("spec.http.thresholds.errorRate", "http")).toBe("errorRate");
    expect(inputForField("spec.stress.vmBytes", "memory")).toBe("vmBytes");
    expect(inputForField("spec.stress.vmBytes", "cpu")).toBeNull();
    expect(inputForField("spec.cluster", "cpu")).toBe("cluster");
    expect(inputForField("spec", "http")).toBeNull();
    expect(inputForField(undefined, "http")).toBeNull();
  });
});
