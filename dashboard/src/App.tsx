import { lazy, Suspense, useState, type FormEvent, type ReactNode } from "react";
import { MutationCache, QueryCache, QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { BrowserRouter, NavLink, Route, Routes } from "react-router";
import { ApiError, setToken } from "./api/client";
import { LiveProvider, useLive } from "./api/live";
import { useSnapshot } from "./api/queries";
import { Badge, Dot, Loading } from "./components/ui";
import { clockTime } from "./lib/format";
import { Overview } from "./pages/Overview";
import { ClusterDetail } from "./pages/ClusterDetail";

// Chart pages load on first visit, keeping Recharts out of the initial bundle.
const Testing = lazy(() => import("./pages/Testing").then((m) => ({ default: m.Testing })));
const Traffic = lazy(() => import("./pages/Traffic").then((m) => ({ default: m.Traffic })));
const Scaling = lazy(() => import("./pages/Scaling").then((m) => ({ default: m.Scaling })));
const Analysis = lazy(() => import("./pages/Analysis").then((m) => ({ default: m.Analysis })));
const Compare = lazy(() => import("./pages/Compare").then((m) => ({ default: m.Compare })));

function makeClient(onUnauthorized: () => void) {
  // A 401 on a read or a write asks for a token again.
  const onError = (e: Error) => {
    if (e instanceof ApiError && e.unauthorized) onUnauthorized();
  };
  return new QueryClient({
    queryCache: new QueryCache({ onError }),
    mutationCache: new MutationCache({ onError }),
    defaultOptions: {
      queries: {
        retry: (count, e) => !(e instanceof ApiError && e.status < 500) && count < 3,
        staleTime: 2_000,
      },
    },
  });
}

/** Asks for an API token (the lab prints one; `kubectl create token --audience tart-operator` makes others). */
function TokenPrompt({ onSaved }: { onSaved: () => void }) {
  const [value, setValue] = useState("");
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (!value.trim()) return;
    setToken(value);
    onSaved();
  };
  return (
    <main className="mx-auto mt-24 max-w-lg p-6">
      <h1 className="text-xl font-semibold">tart-infra needs an access token</h1>
      <p className="mt-2 text-sm text-slate-300">
        The operator's API answered 401. Paste a Kubernetes service-account token: <code>tart-infra lab up</code> prints one, or run{" "}
        <code>kubectl -n tart-system create token lab-user --audience tart-operator</code> (the API takes only tokens made for
        it).
      </p>
      <form onSubmit={submit} className="mt-4 flex gap-2">
        <label htmlFor="token" className="sr-only">
          Access token
        </label>
        <input
          id="token"
          type="password"
          autoComplete="off"
          value={value}
          onChange={(e) => setValue(e.target.value)}
          className="flex-1 rounded border border-slate-700 bg-slate-900 px-3 py-2"
          placeholder="eyJhbGciOi…"
        />
        <button type="submit" className="rounded bg-blue-600 px-4 py-2 font-medium text-white hover:bg-blue-500">
          Save
        </button>
      </form>
    </main>
  );
}

const NAV = [
  ["/", "Overview"],
  ["/testing", "Testing"],
  ["/traffic", "Traffic"],
  ["/scaling", "Scaling"],
  ["/analysis", "Load analysis"],
  ["/compare", "Compare"],
] as const;

function Shell({ children }: { children: ReactNode }) {
  const snapshot = useSnapshot();
  const live = useLive();
  const clusters = snapshot.data?.clusters.length ?? 0;
  const vms = snapshot.data?.vms.length ?? 0;
  const errors = snapshot.data?.errors.length ?? 0;
  const level = snapshot.isError ? "bad" : snapshot.data?.stale ? "warn" : snapshot.data ? "ok" : null;
  return (
    <div className="min-h-screen">
      <header className="flex items-center gap-3 border-b border-slate-800 px-4 py-3">
        <span className="text-lg font-semibold">tart-infra</span>
        <Badge>
          {vms} VMs / {clusters} clusters
        </Badge>
        {errors > 0 && <Badge tone="yellow">{errors} errors</Badge>}
        <span className="ml-auto flex items-center gap-2 text-sm text-slate-300">
          <Dot level={level} />
          {snapshot.isError ? "API unreachable" : snapshot.data?.stale ? "stale data" : snapshot.data ? "live" : "connecting"}
          <span className="text-slate-400">
            · updates {live === "open" ? "streamed" : "polled"}
            {snapshot.data && ` · ${clockTime(snapshot.data.collectedAt)}`}
          </span>
        </span>
      </header>
      <div className="flex">
        <nav aria-label="Pages" className="w-44 shrink-0 border-r border-slate-800 p-3">
          <ul className="space-y-1">
            {NAV.map(([to, label]) => (
              <li key={to}>
                <NavLink
                  to={to}
                  end={to === "/"}
                  className={({ isActive }) =>
                    `block rounded px-3 py-1.5 ${isActive ? "bg-slate-800 text-blue-300" : "text-slate-300 hover:bg-slate-900"}`
                  }
                >
                  {label}
                </NavLink>
              </li>
            ))}
          </ul>
        </nav>
        <main className="min-w-0 flex-1 p-4">{children}</main>
      </div>
    </div>
  );
}

export function App() {
  const [needsToken, setNeedsToken] = useState(false);
  const [client] = useState(() => makeClient(() => setNeedsToken(true)));
  if (needsToken) {
    return (
      <TokenPrompt
        onSaved={() => {
          setNeedsToken(false);
          void client.resetQueries();
        }}
      />
    );
  }
  return (
    <QueryClientProvider client={client}>
      <LiveProvider enabled={!needsToken}>
        <BrowserRouter>
          <Shell>
            <Suspense fallback={<Loading what="the page" />}>
            <Routes>
              <Route path="/" element={<Overview />} />
              <Route path="/clusters/:name" element={<ClusterDetail />} />
              <Route path="/testing" element={<Testing />} />
              <Route path="/traffic" element={<Traffic />} />
              <Route path="/scaling" element={<Scaling />} />
              <Route path="/analysis" element={<Analysis />} />
              <Route path="/compare" element={<Compare />} />
              <Route path="*" element={<p className="p-6">No such page.</p>} />
            </Routes>
            </Suspense>
          </Shell>
        </BrowserRouter>
      </LiveProvider>
    </QueryClientProvider>
  );
}
