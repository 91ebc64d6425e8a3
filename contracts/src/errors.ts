/** Every error the HTTP API returns has this shape. */
export interface ErrorBody {
  error: {
    code: ErrorCode;
    message: string;
    details: { path: string; message: string }[];
  };
}

export const ERROR_STATUS = {
  VALIDATION_FAILED: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  REQUEST_TIMEOUT: 408,
  CONFLICT: 409,
  /** A webhook test delivery asked of a paused (or disabled) subscription, which would never be attempted. */
  SUBSCRIPTION_PAUSED: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  RATE_LIMITED: 429,
  INTERNAL: 500,
  SERVICE_UNAVAILABLE: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;
