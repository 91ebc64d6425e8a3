// k6 script for the "soak" scenario: `k6 run load-tests/k6/soak.ts` (see load-tests/README.md).
import { createScript } from "./script.ts";

const script = createScript("soak");

export const options = script.options;
export const setup = script.setup;
export const ingest = script.ingest;
