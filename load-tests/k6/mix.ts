// k6 script for the "mix" scenario: `k6 run load-tests/k6/mix.ts` (see load-tests/README.md).
import { createScript } from "./script.ts";

const script = createScript("mix");

export const options = script.options;
export const setup = script.setup;
export const ingest = script.ingest;
