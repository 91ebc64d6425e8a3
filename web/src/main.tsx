import { render } from "preact";
import { io } from "socket.io-client";
import { App } from "./app/app.tsx";
import { createRouter } from "./app/router.ts";
import { createServices } from "./app/services.ts";
import { createApi } from "./lib/api.ts";
import { createRealtime, resolveRealtimeUrl } from "./lib/realtime.ts";
import { sessionStore } from "./lib/session-value.ts";
import { browserSessionStores, SessionModel } from "./session/model.ts";
import "./styles.css";

const storage = sessionStore();
const realtimeUrl = resolveRealtimeUrl({
  location: window.location,
  storage,
  configured: import.meta.env.VITE_REALTIME_URL,
  port: import.meta.env.VITE_REALTIME_PORT,
  dev: import.meta.env.DEV,
});
const session = new SessionModel({
  stores: browserSessionStores(),
  verify: (token) => api.checkToken(token),
});
const api = createApi({ readToken: () => session.token.value, onUnauthorized: () => session.expire() });
// WebSocket first: no long-polling round trips, and no CORS preflights when the socket server is on another port.
// The handshake asks for the token at every (re)connect, so it always carries the current one.
const socket = io(realtimeUrl, {
  transports: ["websocket", "polling"],
  autoConnect: false,
  auth: (send) => send({ token: session.token.value }),
});
// Open only while signed in.
session.signedIn.subscribe((signedIn) => (signedIn ? socket.connect() : socket.disconnect()));
const services = createServices({
  api,
  realtime: createRealtime(socket, { onUnauthorized: () => session.expire() }),
  router: createRouter(window),
  storage,
  session,
});

const root = document.getElementById("app");
if (root) render(<App services={services} />, root);
