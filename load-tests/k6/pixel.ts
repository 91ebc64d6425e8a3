// k6 script for the "pixel" scenario: `k6 run load-tests/k6/pixel.ts` (see load-tests/README.md).
import { createScript } from "./script.ts";

const script = createScript("pixel");

export const options = script.options;
export const setup = script.setup;
export const ingest = script.ingest;
