// k6 script for the "batch" scenario: `k6 run load-tests/k6/batch.ts` (see load-tests/README.md).
import { createScript } from "./script.ts";

const script = createScript("batch");

export const options = script.options;
export const setup = script.setup;
export const ingest = script.ingest;
