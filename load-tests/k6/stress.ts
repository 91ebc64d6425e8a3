// k6 script for the "stress" scenario: `k6 run load-tests/k6/stress.ts` (see load-tests/README.md).
import { createScript } from "./script.ts";

const script = createScript("stress");

export const options = script.options;
export const setup = script.setup;
export const ingest = script.ingest;
