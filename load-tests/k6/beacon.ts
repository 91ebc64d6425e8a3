// k6 script for the "beacon" scenario: `k6 run load-tests/k6/beacon.ts` (see load-tests/README.md).
import { createScript } from "./script.ts";

const script = createScript("beacon");

export const options = script.options;
export const setup = script.setup;
export const ingest = script.ingest;
