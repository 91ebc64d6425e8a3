import { ApiError } from "../errors.ts";
import { createDeadlines } from "./deadlines.ts";

/** Largest body of `POST /api/events` (one event). */
export const MAX_EVENT_BODY_BYTES = 64 * 1024;
/** Largest body of `POST /api/batch` and `POST /beacon`, after decompression. */
export const MAX_BATCH_BODY_BYTES = 1024 * 1024;

/** How long a request's body may take to arrive, unless the caller says otherwise. */
export const DEFAULT_BODY_TIMEOUT_MS = 10_000;

function tooLarge(maxBytes: number): ApiError {
  return new ApiError("PAYLOAD_TOO_LARGE", `body must be at most ${maxBytes} bytes (after decompression)`);
}

function emptyBody(): ApiError {
  return new ApiError("VALIDATION_FAILED", "the body is empty", [{ path: "(body)", message: "is required" }]);
}

function unreadable(): ApiError {
  return new ApiError("VALIDATION_FAILED", "the body could not be read", [
    { path: "(body)", message: "corrupt or truncated (gzip?) body" },
  ]);
}

function tooSlow(ms: number): ApiError {
  return new ApiError("REQUEST_TIMEOUT", `the body did not arrive within ${ms} ms`);
}

/** The body deadlines of every request in this process, on one timer (see `createDeadlines`). */
const bodyDeadlines = createDeadlines();

/**
 * Races a body read against a deadline; past it, `stop` ends the read and the request is refused with 408. A
 * client that trickles its body, or stops sending it, would otherwise hold its connection and buffer for ever.
 */
async function beforeDeadline<T>(ms: number, read: Promise<T>, stop: () => void): Promise<T> {
  let expire: (error: ApiError) => void = () => undefined;
  const expired = new Promise<never>((_, reject) => {
    expire = reject;
  });
  const deadline = bodyDeadlines.set(ms, () => {
    stop();
    expire(tooSlow(ms));
  });
  try {
    return await Promise.race([read, expired]);
  } finally {
    bodyDeadlines.cancel(deadline, ms);
  }
}

/** The media type of a request, lower-cased without parameters; "" when absent. */
export function mediaType(request: Request): string {
  return (request.headers.get("content-type") ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
}

function concat(chunks: Uint8Array[], size: number): Uint8Array {
  if (chunks.length === 1 && chunks[0]) return chunks[0];
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}

async function readAll(reader: ReadableStreamDefaultReader<Uint8Array>, maxBytes: number): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > maxBytes) {
        await reader.cancel().catch(() => undefined);
        throw tooLarge(maxBytes);
      }
      chunks.push(value);
    }
  } catch (error) {
    if (error instanceof ApiError) throw error;
    throw unreadable();
  }
  return concat(chunks, size);
}

/**
 * Reads a request's body as sent (no decoding) within `maxBytes` (413) and `timeoutMs` (408). A declared
 * Content-Length over the cap is refused before anything is read.
 */
async function readBody(request: Request, maxBytes: number, timeoutMs: number): Promise<Uint8Array> {
  const declared = request.headers.get("content-length");
  if (Number(declared ?? "0") > maxBytes) throw tooLarge(maxBytes);
  if (declared !== null) {
    // The common case: a declared length within the cap (the server holds the body to it), read in one piece
    // without a stream (touching `request.body` alone makes Deno build one).
    const read = request.arrayBuffer().catch(() => {
      throw unreadable();
    });
    // Nothing to cancel here: the server drops the connection of a request whose body it never finished reading.
    const bytes = new Uint8Array(await beforeDeadline(timeoutMs, read, () => undefined));
    if (bytes.byteLength > maxBytes) throw tooLarge(maxBytes);
    return bytes;
  }
  if (!request.body) return new Uint8Array(0);
  const reader = request.body.getReader();
  return await beforeDeadline(timeoutMs, readAll(reader, maxBytes), () => {
    reader.cancel().catch(() => undefined);
  });
}

/**
 * Inflated bytes per compressed byte past which a gzip body is refused (413), once it has inflated to more than
 * `GZIP_RATIO_GRACE_BYTES`. Deflate reaches ~1,030:1 at most, and a bomb comes close to it; event JSON compresses
 * ~25:1. The same default as Apache's `DeflateInflateRatioLimit`.
 */
export const MAX_GZIP_RATIO = 200;
/**
 * Inflated size under which the ratio is not judged: short bodies of repeated fields compress unusually well (300
 * identical id-less events, 13 KB, are ~100:1; 1,000 of them, 43 KB and ~200:1, are refused).
 */
export const GZIP_RATIO_GRACE_BYTES = 16 * 1024;
/** The most bytes one compressed byte of deflate can stand for (a run of 258 bytes in ~2 bits). */
const DEFLATE_MAX_RATIO = 1032;
/**
 * Bounds of the compressed slices handed to the inflater. An inflater turns a whole input chunk into output before
 * anyone can look at it, so a 64 KB network chunk of a bomb would be 64 MB of output. Each slice is sized so that
 * even at deflate's best ratio it cannot inflate past what the cap and the ratio bound still allow, but no smaller
 * than 16 bytes (~16 KB of output at worst), and no larger than 16 KB, since each slice is a round trip through
 * the stream.
 */
const MIN_INFLATE_SLICE_BYTES = 16;
const MAX_INFLATE_SLICE_BYTES = 16 * 1024;

function tooCompressed(): ApiError {
  return new ApiError("PAYLOAD_TOO_LARGE", `gzip body inflates more than ${MAX_GZIP_RATIO} times its size`, [
    { path: "(body)", message: `compression ratio above ${MAX_GZIP_RATIO}:1` },
  ]);
}

/**
 * Inflates a gzip body slice by slice, checking the output cap and the compression ratio after every slice, so a
 * body that would inflate past the cap costs about what inflating the cap costs, and a bomb far less. `cancel`
 * stops it (e.g. at the deadline).
 */
function inflateCapped(body: ReadableStream<Uint8Array>, maxBytes: number) {
  const inflater = new DecompressionStream("gzip") as unknown as TransformStream<Uint8Array, Uint8Array>;
  const writer = inflater.writable.getWriter();
  const output = inflater.readable.getReader();
  const input = createSliceReader(body);
  const cancel = () => {
    input.cancel();
    output.cancel().catch(() => undefined);
    writer.abort().catch(() => undefined);
  };
  let compressed = 0;
  let inflated = 0;
  const chunks: Uint8Array[] = [];

  const collect = async () => {
    for (;;) {
      const { done, value } = await output.read();
      if (done) return;
      inflated += value.byteLength;
      if (inflated > maxBytes) throw tooLarge(maxBytes);
      if (inflated > GZIP_RATIO_GRACE_BYTES && inflated > compressed * MAX_GZIP_RATIO) throw tooCompressed();
      chunks.push(value);
    }
  };
  // Each write waits until `collect` has taken the previous slice's output (the inflater's readable side holds
  // none), so at most two slices' output is ever unchecked: the one being collected and the one being inflated.
  const feed = async () => {
    for (;;) {
      const allowed = Math.min(maxBytes, Math.max(GZIP_RATIO_GRACE_BYTES, compressed * MAX_GZIP_RATIO)) - inflated;
      const size = Math.min(
        MAX_INFLATE_SLICE_BYTES,
        Math.max(MIN_INFLATE_SLICE_BYTES, Math.floor(allowed / DEFLATE_MAX_RATIO)),
      );
      const slice = await input.read(size);
      if (slice === null) break;
      compressed += slice.byteLength;
      await writer.write(slice);
    }
    await writer.close();
  };

  const done = Promise.all([collect(), feed()]).then(
    () => concat(chunks, inflated),
    (error: unknown) => {
      cancel();
      throw error instanceof ApiError ? error : unreadable();
    },
  );
  /** Bytes taken from the inflater so far: what the body cost in inflating, accepted or refused. */
  const inflatedBytes = () => inflated;
  return { done, cancel, inflatedBytes };
}

/**
 * Reads a stream in pieces of at most a given size: straight into a buffer of that size when it is a byte stream
 * (request bodies are), else by cutting up its chunks. Reading no more than the next slice keeps a refused body's
 * big network chunks out of memory: it halves what a stream of bombs leaves for the collector.
 */
function createSliceReader(stream: ReadableStream<Uint8Array>) {
  let byob: ReadableStreamBYOBReader | undefined;
  let chunks: ReadableStreamDefaultReader<Uint8Array> | undefined;
  try {
    byob = stream.getReader({ mode: "byob" });
  } catch {
    chunks = stream.getReader();
  }
  let rest: Uint8Array | undefined;
  return {
    /** The next at most `size` bytes, or null at the end. */
    async read(size: number): Promise<Uint8Array | null> {
      if (byob) {
        const { done, value } = await byob.read(new Uint8Array(size));
        return done || !value ? null : value;
      }
      while (!rest?.byteLength) {
        const next = await (chunks as ReadableStreamDefaultReader<Uint8Array>).read();
        if (next.done) return null;
        rest = next.value;
      }
      const slice = rest.subarray(0, size);
      rest = rest.subarray(slice.byteLength);
      return slice;
    },
    cancel() {
      (byob ?? chunks)?.cancel().catch(() => undefined);
    },
  };
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * The edge's one JSON body reader, for every route that takes a body (ingestion and admin writes): checks its media
 * type (415), its size before and after gzip (413), its encoding (400 on invalid UTF-8) and parses JSON (400).
 * `text/plain` bodies (sendBeacon) must hold JSON too. The whole body must arrive within `timeoutMs` (408).
 * `onInflated` is told the bytes a gzip body inflated to, accepted or refused.
 */
export async function readJsonBody(
  request: Request,
  maxBytes: number,
  allowText: boolean,
  timeoutMs = DEFAULT_BODY_TIMEOUT_MS,
  onInflated?: (bytes: number) => void,
): Promise<unknown> {
  const type = mediaType(request);
  const textOk = allowText && (type === "text/plain" || type === "");
  if (type !== "application/json" && !textOk) {
    throw new ApiError(
      "UNSUPPORTED_MEDIA_TYPE",
      allowText ? "body must be application/json or text/plain" : "body must be application/json",
    );
  }
  if (Number(request.headers.get("content-length") ?? "0") > maxBytes) throw tooLarge(maxBytes);
  const encoding = (request.headers.get("content-encoding") ?? "identity").trim().toLowerCase();
  if (encoding !== "identity" && encoding !== "gzip") {
    throw new ApiError("UNSUPPORTED_MEDIA_TYPE", "Content-Encoding must be gzip or absent");
  }
  let bytes: Uint8Array;
  if (encoding === "identity") {
    bytes = await readBody(request, maxBytes, timeoutMs);
  } else {
    if (!request.body) throw emptyBody();
    const inflating = inflateCapped(request.body, maxBytes);
    try {
      bytes = await beforeDeadline(timeoutMs, inflating.done, inflating.cancel);
    } finally {
      onInflated?.(inflating.inflatedBytes());
    }
  }
  if (bytes.byteLength === 0) throw emptyBody();
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw new ApiError("VALIDATION_FAILED", "the body is not valid UTF-8", [
      { path: "(body)", message: "invalid UTF-8" },
    ]);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new ApiError("VALIDATION_FAILED", "the body is not valid JSON", [
      { path: "(body)", message: "invalid JSON" },
    ]);
  }
}
