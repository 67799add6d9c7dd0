export * from './connection.js';
export * from './errors.js';
export * from './logger.js';
export * from './names.js';
export * from './run-service.js';
export * from './run-state.js';
export * from './schemas.js';
