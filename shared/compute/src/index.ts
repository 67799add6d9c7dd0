export * from './compute-pool.js';
export * from './dynamic-batcher.js';
export * from './errors.js';
export * from './load-cache.js';
export * from './pool-registry.js';
export * from './pool-types.js';
export * from './protocol.js';
