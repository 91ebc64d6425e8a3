/// <reference types="vite/client" />

interface ImportMetaEnv {
  /** Socket.io server the built dashboard connects to; empty means the page's own origin. */
  readonly VITE_REALTIME_URL?: string;
  /** Port of the Socket.io server on the page's own host, when no URL is given. */
  readonly VITE_REALTIME_PORT?: string;
}
