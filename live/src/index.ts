export * from "./codec.ts";
export * from "./commit.ts";
export * from "./generation.ts";
export * from "./history.ts";
export * from "./keys.ts";
export * from "./outbox.ts";
export * from "./profile.ts";
export * from "./reader.ts";
