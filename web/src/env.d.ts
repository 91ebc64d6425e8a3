/// <reference types="vite/client" />

interface ImportMetaEnv {
  /** Socket.io server the built dashboard connects to; empty means the page's own origin. */
  readonly VITE_REALTIME_URL?: string;
}
