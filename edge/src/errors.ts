import { ERROR_STATUS, type ErrorBody, type ErrorCode } from "@leadscore/contracts";

export interface ErrorDetail {
  path: string;
  message: string;
}

/** The one error type of the HTTP API; `app.onError` renders it as `{ error: { code, message, details } }`. */
export class ApiError extends Error {
  override name = "ApiError";
  readonly status: (typeof ERROR_STATUS)[ErrorCode];

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: ErrorDetail[] = [],
    /** Extra response headers, e.g. `Retry-After`. */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.status = ERROR_STATUS[code];
  }

  toBody(): ErrorBody {
    return { error: { code: this.code, message: this.message, details: this.details } };
  }
}

export function errorResponse(error: ApiError): Response {
  return new Response(JSON.stringify(error.toBody()), {
    status: error.status,
    headers: { "content-type": "application/json; charset=utf-8", ...error.headers },
  });
}
