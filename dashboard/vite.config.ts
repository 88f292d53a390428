/// <reference types="vitest/config" />
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";
import tailwindcss from "@tailwindcss/vite";

// `npm run dev` proxies the API to a running operator (the lab's, by default).
const operator = process.env.TART_OPERATOR_URL ?? "http://127.0.0.1:3000";

export default defineConfig({
  plugins: [react(), tailwindcss()],
  server: {
    proxy: { "/api": { target: operator, changeOrigin: false } },
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
