// Schedules and runs for the tests of lib/schedules and pages/testing/Schedules.
import type { ScheduleRun, ScheduleView } from "./schedules";

export const run = (name: string, outcome: ScheduleRun["outcome"], extra: Partial<ScheduleRun> = {}): ScheduleRun => ({ name, outcome, ...extra }) as ScheduleRun;

export const schedule = (runs: ScheduleRun[], extra: Partial<ScheduleView> = {}): ScheduleView =>
  ({
    namespace: "team",
    name: "nightly",
    schedule: "30 2 * * *",
    timeZone: "Europe/Berlin",
    concurrencyPolicy: "Forbid",
    suspend: false,
    runKind: "LoadTest",
    cluster: "staging",
    nextScheduleTime: "2026-12-06T01:30:00Z",
    active: [],
    ready: true,
    runs,
    ...extra,
  }) as ScheduleView;
