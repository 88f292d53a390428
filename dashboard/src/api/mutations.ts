// One hook per API write, next to the reads (queries.ts), so what each write refreshes is said once.
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { del, post, type ExperimentSpec, type ExperimentView, type LoadTestSpec, type TestView } from "./client";

/** Where the dashboard creates the tests and experiments it starts. */
export const NAMESPACE = "default";

const objectPath = (kind: string, o: { namespace: string; name: string }) => `/${kind}/${encodeURIComponent(o.namespace)}/${encodeURIComponent(o.name)}`;

/** Starts a LoadTest; the list refreshes once it is created. */
export function useCreateTest() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (spec: LoadTestSpec) => post<TestView>("/tests", { namespace: NAMESPACE, spec }),
    onSuccess: () => client.invalidateQueries({ queryKey: ["tests"] }),
  });
}

/** Deletes a LoadTest; the list refreshes even on an error (it may be gone already). */
export function useDeleteTest(test: { namespace: string; name: string }) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: () => del(objectPath("tests", test)),
    onSettled: () => client.invalidateQueries({ queryKey: ["tests"] }),
  });
}

/** Starts a ScalingExperiment. Its detail is cached from the answer, so it opens at once, before
 * the list has refreshed. */
export function useCreateExperiment() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (spec: ExperimentSpec) => post<ExperimentView>("/experiments", { namespace: NAMESPACE, spec }),
    onSuccess: (created) => {
      client.setQueryData(["experiments", created.namespace, created.name], created);
      void client.invalidateQueries({ queryKey: ["experiments"], exact: true });
    },
  });
}
