// Sweeps: many training runs from one file, side by side and resumable, and their comparison table.
export { expandVariables, readSweepFile } from './file.js';
export type { SweepFile, SweepJob, SweepRow } from './file.js';
export { runSweep } from './runner.js';
export type { SweepOptions, SweepRecord } from './runner.js';
export { sweepTable } from './table.js';
export type { TableOptions } from './table.js';
