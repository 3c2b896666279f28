// Library entry point: everything the CLI can do, reachable from code.
export * from './errors.js';
export * from './dtype.js';
export * from './tensor.js';
export * from './byte-source.js';
export type * from './model.js';
