export * from './proxy-builder.js';
