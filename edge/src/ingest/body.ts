import { ApiError } from "../errors.ts";

/** Largest body of `POST /api/events` (one event). */
export const MAX_EVENT_BODY_BYTES = 64 * 1024;
/** Largest body of `POST /api/batch` and `POST /beacon`, after decompression. */
export const MAX_BATCH_BODY_BYTES = 1024 * 1024;

/** How long a request's body may take to arrive, unless the caller says otherwise. */
export const DEFAULT_BODY_TIMEOUT_MS = 10_000;

export type BodyKind = "json" | "text";

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

/**
 * Races a body read against a deadline; past it, `stop` ends the read and the request is refused with 408. A
 * client that trickles its body, or stops sending it, would otherwise hold its connection and buffer for ever.
 */
async function beforeDeadline<T>(ms: number, read: Promise<T>, stop: () => void): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      read,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          stop();
          reject(tooSlow(ms));
        }, ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** The media type of a request, lower-cased without parameters; "" when absent. */
export function mediaType(request: Request): string {
  return (request.headers.get("content-type") ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
}

async function readAll(reader: ReadableStreamDefaultReader<Uint8Array>, maxBytes: number): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      // Stop reading (and inflating) as soon as the cap is passed: a gzip bomb costs at most `maxBytes`.
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
  if (chunks.length === 1 && chunks[0]) return chunks[0];
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Reads an ingestion body: checks its media type (415), its size before and after gzip (413), its encoding
 * (400 on invalid UTF-8) and parses JSON (400). `text/plain` bodies (sendBeacon) must hold JSON too. The whole body
 * must arrive within `timeoutMs` (408).
 */
export async function readJsonBody(
  request: Request,
  maxBytes: number,
  allowText: boolean,
  timeoutMs = DEFAULT_BODY_TIMEOUT_MS,
): Promise<unknown> {
  const type = mediaType(request);
  const textOk = allowText && (type === "text/plain" || type === "");
  if (type !== "application/json" && !textOk) {
    throw new ApiError(
      "UNSUPPORTED_MEDIA_TYPE",
      allowText ? "body must be application/json or text/plain" : "body must be application/json",
    );
  }
  const declared = request.headers.get("content-length");
  if (Number(declared ?? "0") > maxBytes) throw tooLarge(maxBytes);
  const encoding = (request.headers.get("content-encoding") ?? "identity").trim().toLowerCase();
  if (encoding !== "identity" && encoding !== "gzip") {
    throw new ApiError("UNSUPPORTED_MEDIA_TYPE", "Content-Encoding must be gzip or absent");
  }
  let bytes: Uint8Array;
  if (encoding === "identity" && declared !== null) {
    // The common case: a declared length within the cap (the server holds the body to it), read in one piece
    // without a stream (touching `request.body` alone makes Deno build one).
    const read = request.arrayBuffer().catch(() => {
      throw unreadable();
    });
    // Nothing to cancel here: the server drops the connection of a request whose body it never finished reading.
    bytes = new Uint8Array(await beforeDeadline(timeoutMs, read, () => undefined));
    if (bytes.byteLength > maxBytes) throw tooLarge(maxBytes);
  } else {
    if (!request.body) throw emptyBody();
    const stream =
      encoding === "gzip"
        ? request.body.pipeThrough(
            new DecompressionStream("gzip") as unknown as TransformStream<Uint8Array, Uint8Array>,
          )
        : request.body;
    const reader = stream.getReader();
    bytes = await beforeDeadline(timeoutMs, readAll(reader, maxBytes), () => {
      reader.cancel().catch(() => undefined);
    });
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
