/// <reference types="vitest/config" />
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";
import tailwindcss from "@tailwindcss/vite";

// `npm run dev` proxies the API to a running operator (the lab's, by default, which serves
// HTTPS with a certificate of the lab's own CA: the proxy trusts that CA and nothing else).
const operator = process.env.TART_OPERATOR_URL ?? "https://127.0.0.1:3000";
const stateHome = process.env.XDG_STATE_HOME ?? path.join(os.homedir(), ".local/state");
const caFile =
  process.env.TART_OPERATOR_CA ?? path.join(stateHome, "tart-infra/lab/operator-tls/ca.crt");
const ca = operator.startsWith("https:") && fs.existsSync(caFile) ? fs.readFileSync(caFile, "utf8") : undefined;

export default defineConfig({
  plugins: [react(), tailwindcss()],
  server: {
    proxy: { "/api": { target: operator, changeOrigin: false, secure: true, ca } },
  },
  build: {
    outDir: "dist",
    sourcemap: true,
  },
  test: {
    environment: "jsdom",
    include: ["src/**/*.test.{ts,tsx}"],
    // A page test renders whole pages with Recharts in jsdom: seconds on a busy 2-CPU machine,
    // past Vitest's 5 s default, although nothing waits on time.
    testTimeout: 20_000,
  },
});
