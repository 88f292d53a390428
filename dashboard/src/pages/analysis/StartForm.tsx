// The form that starts a ScalingExperiment: a preset or a custom HTTP load, targets and cooldown,
// checked as the CRD checks them before it is sent.
import { useId, useState, type FormEvent } from "react";
import { ApiError, type ExperimentView } from "../../api/client";
import { NAMESPACE, useCreateExperiment } from "../../api/mutations";
import { usePresets, useSnapshot } from "../../api/queries";
import { controlProps, FieldError, FormControl, INPUT } from "../../components/FormControl";
import { ErrorBox } from "../../components/ui";
import {
  DEFAULT_COOLDOWN_SECONDS,
  experimentSpec,
  formFieldOf,
  isScalingPreset,
  SCALING_PRESETS,
  type ExperimentForm,
  type FormField,
} from "../../lib/analysis";
import { DEFAULT_TARGET_URL, LIMITS } from "../../lib/fields";

export function StartForm({
  initialPreset,
  initialCluster,
  onCreated,
}: {
  initialPreset: string | null;
  initialCluster: string | null;
  onCreated: (e: ExperimentView) => void;
}) {
  const uid = useId();
  const ids = (f: FormField) => `${uid}-${f}`;
  const snapshot = useSnapshot();
  const presets = usePresets();
  const [form, setForm] = useState<ExperimentForm>({
    cluster: initialCluster ?? "",
    mode: "preset",
    preset: isScalingPreset(initialPreset) ? initialPreset : "scale-light",
    vus: "50",
    duration: "60s",
    targetUrl: DEFAULT_TARGET_URL,
    targets: "",
    cooldownSeconds: "",
    endCooldownWhenBaselineRestored: false,
  });
  const [errors, setErrors] = useState<Partial<Record<FormField, string>>>({});
  const create = useCreateExperiment();

  const clusters = (snapshot.data?.clusters ?? []).filter((c) => c.tier !== "platform").map((c) => c.name);
  const cluster = form.cluster || clusters[0] || "";
  const clusterOptions = cluster && !clusters.includes(cluster) ? [cluster, ...clusters] : clusters;
  const experimentPresets = (presets.data ?? []).filter((p) => p.kind === "experiment");
  const presetOptions = experimentPresets.length
    ? experimentPresets.map((p) => ({ name: p.name, label: `${p.name} (${p.tag})`, description: p.description, cooldown: p.cooldownSeconds ?? null }))
    : SCALING_PRESETS.map((name) => ({ name, label: name, description: null, cooldown: null }));
  const chosenPreset = presetOptions.find((p) => p.name === form.preset);
  const cooldownRange = `${LIMITS.cooldownSeconds.min} to ${LIMITS.cooldownSeconds.max}`;
  const cooldownDefault = form.mode === "preset" ? (chosenPreset?.cooldown ?? null) : DEFAULT_COOLDOWN_SECONDS;

  const set = <K extends keyof ExperimentForm>(key: K, value: ExperimentForm[K]) => setForm((f) => ({ ...f, [key]: value }));
  const submit = (ev: FormEvent) => {
    ev.preventDefault();
    const result = experimentSpec({ ...form, cluster });
    if (!result.ok) {
      setErrors(result.errors);
      return;
    }
    setErrors({});
    create.mutate(result.spec, {
      onSuccess: onCreated,
      onError: (err) => {
        const field = err instanceof ApiError ? formFieldOf(err.field) : null;
        if (field) setErrors({ [field]: err.message });
      },
    });
  };

  return (
    <form onSubmit={submit} noValidate className="space-y-3" aria-label="Start experiment">
      <div className="grid gap-3 sm:grid-cols-2 xl:grid-cols-4">
        <FormControl id={ids("cluster")} label="Cluster" error={errors.cluster} hint={snapshot.isError && !snapshot.data ? "Could not list clusters." : undefined}>
          {(props) => (
            <select {...props} value={cluster} onChange={(e) => set("cluster", e.target.value)} className={INPUT}>
              {clusterOptions.length === 0 && <option value="">{snapshot.isPending ? "Loading clusters…" : "No managed clusters"}</option>}
              {clusterOptions.map((c) => (
                <option key={c} value={c}>
                  {c}
                </option>
              ))}
            </select>
          )}
        </FormControl>
        <fieldset className="sm:col-span-1 xl:col-span-3">
          <legend className="text-sm text-slate-300">Load</legend>
          <div className="mt-1 flex gap-4 text-sm">
            <label className="flex items-center gap-1">
              <input type="radio" name={`${uid}-mode`} checked={form.mode === "preset"} onChange={() => set("mode", "preset")} /> Preset
            </label>
            <label className="flex items-center gap-1">
              <input type="radio" name={`${uid}-mode`} checked={form.mode === "custom"} onChange={() => set("mode", "custom")} /> Custom HTTP load
            </label>
          </div>
        </fieldset>
      </div>

      {form.mode === "preset" ? (
        <FormControl id={ids("preset")} label="Scaling preset" error={errors.preset} hint={chosenPreset?.description ?? undefined}>
          {(props) => (
            <select {...props} value={form.preset} onChange={(e) => set("preset", e.target.value)} className={INPUT}>
              {presetOptions.map((p) => (
                <option key={p.name} value={p.name}>
                  {p.label}
                </option>
              ))}
            </select>
          )}
        </FormControl>
      ) : (
        <div className="grid gap-3 sm:grid-cols-2 xl:grid-cols-4">
          <FormControl id={ids("vus")} label="Virtual users" error={errors.vus} hint={`${LIMITS.vus.min} to ${LIMITS.vus.max}; empty: 50.`}>
            {(props) => <input {...props} inputMode="numeric" value={form.vus} onChange={(e) => set("vus", e.target.value)} className={INPUT} />}
          </FormControl>
          <FormControl id={ids("duration")} label="Duration" error={errors.duration} hint="e.g. 30s, 5m, 1h30m; empty: 30s.">
            {(props) => <input {...props} value={form.duration} onChange={(e) => set("duration", e.target.value)} className={INPUT} />}
          </FormControl>
          <div className="sm:col-span-2">
            <FormControl id={ids("targetUrl")} label="Target URL" error={errors.targetUrl} hint="Empty: nginx-web in demo.">
              {(props) => <input {...props} type="url" value={form.targetUrl} onChange={(e) => set("targetUrl", e.target.value)} className={INPUT} />}
            </FormControl>
          </div>
        </div>
      )}

      <div className="grid gap-3 sm:grid-cols-2 xl:grid-cols-4">
        <div className="sm:col-span-2">
          <FormControl
            id={ids("targets")}
            label="Target deployments (namespace/deployment)"
            error={errors.targets}
            hint={form.mode === "preset" ? "Empty: the preset's targets." : "Empty: every HPA in namespace demo."}
          >
            {(props) => (
              <input {...props} value={form.targets} placeholder="demo/nginx-web, demo/httpbin" onChange={(e) => set("targets", e.target.value)} className={INPUT} />
            )}
          </FormControl>
        </div>
        <FormControl
          id={ids("cooldownSeconds")}
          label="Cooldown (seconds)"
          error={errors.cooldownSeconds}
          hint={`${cooldownRange}; empty: ${cooldownDefault != null ? `${cooldownDefault} s` : "the preset's cooldown"}.`}
        >
          {(props) => <input {...props} inputMode="numeric" value={form.cooldownSeconds} onChange={(e) => set("cooldownSeconds", e.target.value)} className={INPUT} />}
        </FormControl>
        <div className="flex flex-col justify-end">
          <label className="flex items-center gap-2 text-sm text-slate-300">
            <input
              type="checkbox"
              checked={form.endCooldownWhenBaselineRestored}
              onChange={(e) => set("endCooldownWhenBaselineRestored", e.target.checked)}
              {...controlProps(ids("endCooldown"), errors.endCooldown)}
            />
            End the cooldown once every target is back at baseline
          </label>
          <FieldError id={ids("endCooldown")} error={errors.endCooldown} />
        </div>
      </div>

      {create.isError && <ErrorBox error={create.error} />}
      <div className="flex items-center gap-3">
        <button
          type="submit"
          disabled={create.isPending || !cluster}
          className="rounded bg-blue-600 px-4 py-2 font-medium text-white hover:bg-blue-500 disabled:cursor-not-allowed disabled:opacity-60"
        >
          {create.isPending ? "Starting…" : "Start experiment"}
        </button>
        <span className="text-xs text-slate-400">Created in namespace {NAMESPACE}; the load runs in {cluster || "the chosen cluster"}.</span>
      </div>
    </form>
  );
}
