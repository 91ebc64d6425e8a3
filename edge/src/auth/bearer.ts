import { createSecretCheck } from "@leadscore/runtime";
import type { MiddlewareHandler } from "hono";
import { ApiError } from "../errors.ts";

export interface BearerOptions {
  /** Tokens that pass. */
  secrets: readonly string[];
  /** `realm` of the `WWW-Authenticate` challenge. */
  realm: string;
  /** What the token is called in messages, e.g. "admin token". */
  name: string;
  /** A header that may carry the token instead of `Authorization: Bearer`, e.g. `x-admin-token`. */
  header?: string;
  /**
   * The answer to a token that does not pass. Reads answer 401 with `error="invalid_token"` (RFC 6750), so a client
   * knows to ask for a token again; admin writes keep their 403.
   */
  invalid: "UNAUTHORIZED" | "FORBIDDEN";
}

const BEARER = /^Bearer[ \t]+(\S+)[ \t]*$/i;

/**
 * The token of an `Authorization: Bearer <token>` header, the one parser for write keys, read, admin and metrics
 * tokens: the scheme in any case, then one token of visible characters, spaces or tabs around it; anything else
 * (another scheme, no token, two words) is no token at all.
 */
export function bearerToken(authorization: string | undefined): string | undefined {
  return authorization?.match(BEARER)?.[1];
}

function presentedToken(authorization: string | undefined, header: string | undefined): string | undefined {
  const bearer = bearerToken(authorization);
  if (bearer) return bearer;
  return header && header.length > 0 ? header : undefined;
}

/**
 * Requires one of `secrets` as `Authorization: Bearer <token>` (or in `header`): 401 with `WWW-Authenticate` when no
 * token is given. Compared through digests with no early exit; the token never reaches a message or a log.
 */
export function requireBearer(options: BearerOptions): MiddlewareHandler {
  const check = createSecretCheck(options.secrets);
  const challenge = `Bearer realm="${options.realm}"`;
  const article = /^[aeiou]/i.test(options.name) ? "an" : "a";
  return async (c, next) => {
    const presented = presentedToken(
      c.req.header("authorization"),
      options.header === undefined ? undefined : c.req.header(options.header),
    );
    if (presented === undefined) {
      throw new ApiError("UNAUTHORIZED", `${article} ${options.name} is required`, [], {
        "WWW-Authenticate": challenge,
      });
    }
    if (!(await check(presented))) {
      const headers: Record<string, string> =
        options.invalid === "UNAUTHORIZED" ? { "WWW-Authenticate": `${challenge}, error="invalid_token"` } : {};
      throw new ApiError(options.invalid, `the ${options.name} is not valid`, [], headers);
    }
    await next();
  };
}
