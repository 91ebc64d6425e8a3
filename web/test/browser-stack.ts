// The whole stack for the browser tests: edge (Deno), worker and realtime as child processes on free ports, with a
// Redis prefix and a database of their own, and a headless Chromium to drive the built dashboard.
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { createTestDb, createTestRedis, eventually, REDIS_URL, uniqueName } from "../../test-support/index.ts";
import {
  BIN,
  DENO_EDGE_ARGS,
  loggedPort,
  ROOT,
  type RunningProcess,
  startProcess,
} from "../../test-support/processes.ts";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const WEB = join(ROOT, "web");
/** The built dashboard; `E2E_WEB_DIST` points the tests at another build (e.g. of an earlier commit) as it is. */
export const DIST = process.env.E2E_WEB_DIST ?? join(WEB, "dist");
export const WRITE_KEY = "e2e-write-key";
export const ADMIN_TOKEN = "e2e-admin-token";
export const READ_TOKEN = "e2e-read-token";
export const VIEWPORTS = { desktop: { width: 1280, height: 900 }, mobile: { width: 375, height: 812 } } as const;

/** Newest modification time under a folder (or of a file). */
function newest(path: string): number {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return Math.max(stat.mtimeMs, ...readdirSync(path).map((name) => newest(join(path, name))));
}

/** Whether web/dist is newer than every source file. */
function distIsFresh(): boolean {
  const built = join(DIST, "index.html");
  const sources = Math.max(
    newest(join(WEB, "src")),
    newest(join(WEB, "index.html")),
    newest(join(WEB, "vite.config.ts")),
  );
  return existsSync(built) && statSync(built).mtimeMs >= sources;
}

const BUILD_LOCK = join(ROOT, ".data", "web-build.lock");
/** A lock older than this is left over from a run that died while building. */
const BUILD_LOCK_STALE_MS = 5 * 60_000;

/**
 * Builds the dashboard unless web/dist is newer than every source file. Test files run two at a time, each starting
 * a stack: one process builds while the others wait, and the build is written aside and moved into place, so a stack
 * already serving the dashboard never sees its files emptied by another file's build (a lazy chunk missing then is a
 * page that cannot load its event validation).
 */
async function buildIfNeeded() {
  if (process.env.E2E_WEB_DIST || distIsFresh()) return;
  mkdirSync(dirname(BUILD_LOCK), { recursive: true });
  for (;;) {
    try {
      mkdirSync(BUILD_LOCK);
      break;
    } catch {
      const taken = statSync(BUILD_LOCK, { throwIfNoEntry: false })?.mtimeMs ?? Date.now();
      if (Date.now() - taken > BUILD_LOCK_STALE_MS) {
        rmSync(BUILD_LOCK, { recursive: true, force: true });
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
  try {
    if (distIsFresh()) return;
    const aside = join(ROOT, ".data", `web-build-${process.pid}`);
    await promisify(execFile)(join(BIN, "vite"), ["build", "--logLevel", "warn", "--outDir", aside, "--emptyOutDir"], {
      cwd: WEB,
    });
    const old = join(ROOT, ".data", `web-dist-old-${process.pid}`);
    if (existsSync(DIST)) renameSync(DIST, old);
    renameSync(aside, DIST);
    rmSync(old, { recursive: true, force: true });
  } finally {
    rmSync(BUILD_LOCK, { recursive: true, force: true });
  }
}

export interface BrowserStack {
  browser: Browser;
  /** The edge's origin, e.g. `http://127.0.0.1:41234`. */
  base: string;
  realtimeUrl: string;
  /** The Redis key prefix of the stack's deployment. */
  prefix: string;
  /** Console errors and page errors seen so far: a fault unless a test expects one. */
  problems: string[];
  /**
   * Opens a page of the dashboard and, unless told not to, signs in (with the read token unless another is given)
   * when the page asks: a browser that signed in once is signed in on every page it opens.
   */
  open(
    context: BrowserContext,
    path: string,
    options?: { signIn?: boolean; token?: string; realtimeUrl?: string },
  ): Promise<Page>;
  signInWith(page: Page, token: string): Promise<void>;
  /** Posts events with the write key, in batches of 500; each batch must be accepted. */
  send(events: readonly object[]): Promise<void>;
  /** Waits until each lead has folded the given number of events. */
  scored(counts: Record<string, number>): Promise<void>;
  stop(): Promise<void>;
}

export interface BrowserStackOptions {
  /** Also run the webhook dispatcher (its retries 60 s apart, so a test retries by hand). */
  dispatcher?: boolean;
}

export async function startBrowserStack(label: string, options: BrowserStackOptions = {}): Promise<BrowserStack> {
  await buildIfNeeded();
  const prefix = uniqueName(label);
  const db = await createTestDb(uniqueName(label));
  const redis = await createTestRedis(prefix);
  const cleanups = [() => db.drop(), () => redis.cleanup()];
  const processes: RunningProcess[] = [];
  const env = {
    NODE_ENV: "test",
    LOG_LEVEL: "info",
    REDIS_URL,
    MONGO_URL: db.url,
    REDIS_PREFIX: prefix,
    WRITE_KEYS: WRITE_KEY,
    ADMIN_TOKEN,
    READ_TOKENS: READ_TOKEN,
    WEB_DIST: DIST,
    PORT: "0",
    REALTIME_PORT: "0",
  };
  const stopAll = async () => {
    await Promise.all(processes.map((child) => child.stop("SIGTERM")));
    for (const cleanup of cleanups) await cleanup().catch(() => undefined);
  };
  let base: string;
  let realtimeUrl: string;
  let browser: Browser;
  // Whatever fails on the way up (a process, the browser's launch) leaves nothing running behind it.
  try {
    const edge = startProcess(join(BIN, "deno"), DENO_EDGE_ARGS, env);
    const worker = startProcess(join(BIN, "tsx"), ["worker/src/main.ts"], env);
    processes.push(edge, worker);
    // Realtime allows sockets from pages served on the edge's port: it starts once that port is known.
    const edgePort = await loggedPort(edge, "edge listening", 60_000);
    const realtime = startProcess(join(BIN, "tsx"), ["realtime/src/main.ts"], { ...env, PORT: String(edgePort) });
    processes.push(realtime);
    const dispatcher = options.dispatcher
      ? startProcess(join(BIN, "tsx"), ["webhooks/src/main.ts"], { ...env, WEBHOOK_RETRY_DELAYS_MS: "60000" })
      : undefined;
    if (dispatcher) processes.push(dispatcher);
    const realtimePort = await loggedPort(realtime, "realtime listening", 60_000);
    await worker.waitFor(/worker ready/, 60_000);
    await dispatcher?.waitFor(/dispatcher ready/, 60_000);
    base = `http://127.0.0.1:${edgePort}`;
    realtimeUrl = `http://127.0.0.1:${realtimePort}`;

    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
      ],
    });
  } catch (error) {
    await stopAll();
    throw error;
  }
  const problems: string[] = [];

  async function signInWith(page: Page, token: string) {
    await page.getByLabel("Access token").fill(token);
    await page.getByRole("button", { name: "Sign in" }).click();
  }

  return {
    browser,
    base,
    realtimeUrl,
    prefix,
    problems,
    signInWith,
    async open(context, path, options = {}) {
      const page = await context.newPage();
      // Below the test's own timeout, so a step that never completes fails naming its locator.
      page.setDefaultTimeout(20_000);
      page.on("console", (message) => {
        // Refused requests (an invalid event's 400) are the page's to show, and it does; anything else logged as an
        // error (script errors, Content-Security-Policy violations) is a fault.
        if (message.type() !== "error" || message.text().startsWith("Failed to load resource")) return;
        problems.push(`${path}: ${message.text()} (${message.location().url})`);
      });
      page.on("pageerror", (error) => problems.push(`${path}: ${error.message}`));
      const separator = path.includes("?") ? "&" : "?";
      const socket = options.realtimeUrl ?? realtimeUrl;
      await page.goto(`${base}${path}${separator}realtime=${encodeURIComponent(socket)}`);
      if (options.signIn ?? true) {
        const field = page.getByLabel("Access token");
        await field
          .or(page.getByRole("navigation", { name: "Main" }))
          .first()
          .waitFor({ timeout: 15_000 });
        if (await field.isVisible()) {
          await signInWith(page, options.token ?? READ_TOKEN);
          await page.getByRole("navigation", { name: "Main" }).waitFor({ timeout: 15_000 });
        }
      }
      return page;
    },
    async send(events) {
      for (let from = 0; from < events.length; from += 500) {
        const response = await fetch(`${base}/api/batch`, {
          method: "POST",
          headers: { "content-type": "application/json", authorization: `Bearer ${WRITE_KEY}` },
          body: JSON.stringify({ events: events.slice(from, from + 500) }),
        });
        if (response.status !== 202) throw new Error(`batch refused: ${response.status} ${await response.text()}`);
      }
    },
    async scored(counts) {
      await eventually(async () => {
        for (const [id, count] of Object.entries(counts)) {
          const response = await fetch(`${base}/api/leads/${encodeURIComponent(id)}`, {
            headers: { authorization: `Bearer ${READ_TOKEN}` },
          });
          if (response.status !== 200 || ((await response.json()) as { event_count: number }).event_count !== count) {
            return false;
          }
        }
        return true;
      }, 60_000);
    },
    async stop() {
      await browser.close();
      await stopAll();
    },
  };
}
