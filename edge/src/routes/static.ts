// The built dashboard (`config.WEB_DIST`), mounted after every other route. Files are read through
// `deps.readStatic`, which each runtime entry supplies, so this stays Web-API-only. Paths the app routes in the
// browser (`/leads/:id`, …) get `index.html`, so a reload works; `/api/*` never does, so an unknown API path still
// answers 404 in the error shape.
import { Hono } from "hono";
import type { AppDeps } from "../deps.ts";
import { ApiError } from "../errors.ts";

const CONTENT_TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  mjs: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
  json: "application/json; charset=utf-8",
  map: "application/json; charset=utf-8",
  webmanifest: "application/manifest+json",
  svg: "image/svg+xml",
  png: "image/png",
  ico: "image/x-icon",
  webp: "image/webp",
  woff2: "font/woff2",
  txt: "text/plain; charset=utf-8",
};

/** Paths owned by the server; a miss under them is a 404, never the dashboard. */
const SERVER_PATHS = /^\/(api|metrics|healthz|readyz|beacon|p\.gif|openapi\.json|docs)(\/|$)/;

function extensionOf(segment: string): string | null {
  const dot = segment.lastIndexOf(".");
  return dot > 0 ? segment.slice(dot + 1).toLowerCase() : null;
}

/** The request path as segments relative to `WEB_DIST`, or null when it tries to leave it or hide in dotfiles. */
export function safeSegments(pathname: string): string[] | null {
  const segments: string[] = [];
  for (const raw of pathname.split("/")) {
    if (raw === "") continue;
    let segment: string;
    try {
      segment = decodeURIComponent(raw);
    } catch {
      return null;
    }
    if (segment.startsWith(".") || /[\\/\0]/.test(segment)) return null;
    segments.push(segment);
  }
  return segments;
}

/**
 * The Content-Security-Policy of the dashboard page. Socket.io runs on its own port of the same host, so
 * connections to this host on any port are allowed, and nothing else beyond this origin.
 */
export function contentSecurityPolicy(hostname: string): string {
  const host = /^[A-Za-z0-9.-]+$/.test(hostname) || /^\[[0-9A-Fa-f:.]+\]$/.test(hostname) ? hostname : null;
  const realtime = host ? ` http://${host}:* https://${host}:* ws://${host}:* wss://${host}:*` : "";
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    `connect-src 'self'${realtime}`,
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join("; ");
}

const COMMON_HEADERS = { "x-content-type-options": "nosniff", "referrer-policy": "no-referrer" };

export function staticRoutes(deps: AppDeps) {
  const read = deps.readStatic;

  const page = async (hostname: string): Promise<Response | null> => {
    const body = read ? await read("index.html") : null;
    if (!body) return null;
    return new Response(body, {
      headers: {
        ...COMMON_HEADERS,
        "content-type": CONTENT_TYPES.html as string,
        "cache-control": "no-cache",
        "content-security-policy": contentSecurityPolicy(hostname),
        "x-frame-options": "DENY",
      },
    });
  };

  return new Hono().get("*", async (c) => {
    const url = new URL(c.req.url);
    const missing = () => new ApiError("NOT_FOUND", `no route for ${c.req.method} ${url.pathname}`);
    if (SERVER_PATHS.test(url.pathname)) throw missing();
    const segments = safeSegments(url.pathname);
    if (segments === null) throw missing();

    const last = segments.at(-1);
    const extension = last ? extensionOf(last) : null;
    if (extension && extension !== "html" && read) {
      const body = await read(segments.join("/"));
      if (body) {
        const hashed = segments[0] === "assets";
        return new Response(body, {
          headers: {
            ...COMMON_HEADERS,
            "content-type": CONTENT_TYPES[extension] ?? "application/octet-stream",
            // Vite names files under assets/ by their content hash, so they never change.
            "cache-control": hashed ? "public, max-age=31536000, immutable" : "no-cache",
          },
        });
      }
    }
    // A view of the app (no extension, or a browser navigation such as `/leads/acme.bob`) gets the page; a
    // missing asset does not, so a stale script reference fails loudly instead of parsing HTML as JavaScript.
    const navigation = (c.req.header("accept") ?? "").includes("text/html");
    if (read && (!extension || extension === "html" || navigation)) {
      const response = await page(url.hostname);
      if (response) return response;
      throw new ApiError(
        "NOT_FOUND",
        `no route for ${c.req.method} ${url.pathname} (the dashboard is not built: run \`npm run build -w web\`)`,
      );
    }
    throw missing();
  });
}
