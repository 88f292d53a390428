// tart-infra: the k6 execution segment of one runner of a parallel test. No k6 imports, so
// Node can test it too.
//
// With several runners (params.parallelism > 1) each runs its own segment of every stage:
// the runner's index comes from its Indexed Job (JOB_COMPLETION_INDEX, set by the Job
// controller), and k6 splits the VUs by segment. The kubelet cannot compute i/N:(i+1)/N in
// args and k6 reads no segment from its environment, so the script sets the options. A
// runner without a valid index fails rather than run the whole load.
export function segments(p, env, fail) {
  const n = p.parallelism === undefined ? 1 : p.parallelism;
  if (!Number.isInteger(n) || n < 1) fail(`parallelism must be a positive integer, not ${n}`);
  if (n === 1) return {};
  const raw = env.JOB_COMPLETION_INDEX;
  const i = Number(raw);
  if (raw === undefined || raw === '' || !Number.isInteger(i) || i < 0 || i >= n) {
    fail(`a runner of a ${n}-way parallel test needs JOB_COMPLETION_INDEX in 0..${n - 1} (its Indexed Job sets it), got ${raw}`);
  }
  const cut = (k) => (k === 0 ? '0' : k === n ? '1' : `${k}/${n}`);
  const sequence = [];
  for (let k = 0; k <= n; k++) sequence.push(cut(k));
  return { executionSegment: `${cut(i)}:${cut(i + 1)}`, executionSegmentSequence: sequence.join(',') };
}
