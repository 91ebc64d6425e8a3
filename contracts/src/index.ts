export * from "./config.ts";
export * from "./documents.ts";
export * from "./errors.ts";
export * from "./event.ts";
export * from "./rules.ts";
export * from "./scoring.ts";
export * from "./socket.ts";
export * from "./stage.ts";
