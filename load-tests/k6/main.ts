// k6 entry point for every scenario: `k6 run -e WORKLOAD=mix load-tests/k6/main.ts` (see load-tests/README.md).
import { createScript } from "./script.ts";

const script = createScript(__ENV.WORKLOAD || "mix");

export const options = script.options;
export const setup = script.setup;
export const ingest = script.ingest;
