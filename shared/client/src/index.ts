export * from './client.js';
export * from './client-options.js';
export * from './proxy-flow.js';
