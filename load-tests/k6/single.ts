// k6 script for the "single" scenario: `k6 run load-tests/k6/single.ts` (see load-tests/README.md).
import { createScript } from "./script.ts";

const script = createScript("single");

export const options = script.options;
export const setup = script.setup;
export const ingest = script.ingest;
