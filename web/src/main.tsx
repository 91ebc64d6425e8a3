import { render } from "preact";
import { io } from "socket.io-client";
import { App } from "./app/app.tsx";
import { createRouter } from "./app/router.ts";
import { createServices } from "./app/services.ts";
import { createApi } from "./lib/api.ts";
import { createRealtime, resolveRealtimeUrl } from "./lib/realtime.ts";
import { sessionStore } from "./lib/session-value.ts";
import "./styles.css";

const storage = sessionStore();
const realtimeUrl = resolveRealtimeUrl({
  location: window.location,
  storage,
  configured: import.meta.env.VITE_REALTIME_URL,
  port: import.meta.env.VITE_REALTIME_PORT,
  dev: import.meta.env.DEV,
});
// WebSocket first: no long-polling round trips, and no CORS preflights when the socket server is on another port.
const socket = io(realtimeUrl, { transports: ["websocket", "polling"] });
const services = createServices({
  api: createApi(),
  realtime: createRealtime(socket),
  router: createRouter(window),
  storage,
});

const root = document.getElementById("app");
if (root) render(<App services={services} />, root);
