export * from './build-proxies.js';
export * from './evaluate-map.js';
export * from './explain-batch.js';
export * from './image-batch.js';
export * from './run-explain.js';
export * from './run-summary.js';
