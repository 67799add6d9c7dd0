export * from './config.js';
export * from './home.js';
