export * from './client.js';
export * from './model-ref.js';
