import preact from "@preact/preset-vite";
import { defineConfig } from "vite";
import { sizeBudget } from "./build/size-budget.ts";

// The edge listens on 8080 and Socket.io on 8081 (`npm start`); the dev server proxies both so the app runs from
// one origin, as it does when the edge serves the build.
const EDGE = process.env.EDGE_URL ?? "http://localhost:8080";
const REALTIME = process.env.REALTIME_URL ?? "http://localhost:8081";

export default defineConfig({
  root: import.meta.dirname,
  plugins: [preact(), sizeBudget({ maxGzipBytes: 60 * 1024 })],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    // One CSS file and one JS entry; small enough that splitting would only add round trips.
    cssCodeSplit: false,
  },
  server: {
    port: 5173,
    proxy: {
      "/api": EDGE,
      "/metrics": EDGE,
      "/p.gif": EDGE,
      "/beacon": EDGE,
      "/healthz": EDGE,
      "/readyz": EDGE,
      "/socket.io": { target: REALTIME, ws: true },
    },
  },
});
