// The napi-rs binding. Types come from the generated native/index.d.ts; at run time this file
// lives in dist/cjs/, two folders below native/.
import type * as Native from '../native/index';

// eslint-disable-next-line @typescript-eslint/no-require-imports
export const native: typeof Native = require('../../native/index.js');
export type { FailureInit, RetryEvent } from '../native/index';
