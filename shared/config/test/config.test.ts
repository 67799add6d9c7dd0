import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/index.js';

describe('loadConfig', () => {
  it('applies defaults and coerces numbers', () => {
    const c = loadConfig({ WORKER_CONCURRENCY: '8', REDIS_URL: 'redis://127.0.0.1:6379/2' });
    expect(c.WORKER_CONCURRENCY).toBe(8);
    expect(c.BATCH_MAX_SIZE).toBe(16);
    expect(c.EMBEDCAM_PREFIX).toBe('embedcam');
    expect(c.REDIS_URL).toBe('redis://127.0.0.1:6379/2');
  });

  it('lets flags override the environment and ignores empty strings', () => {
    const c = loadConfig({ BATCH_MAX_SIZE: '4', STORAGE_URI: '' }, { BATCH_MAX_SIZE: 32 });
    expect(c.BATCH_MAX_SIZE).toBe(32);
    expect(c.STORAGE_URI).toBe(path.join(os.homedir(), '.embedcam', 'store'));
  });

  it('puts the default store under EMBEDCAM_HOME and makes local stores absolute', () => {
    expect(loadConfig({ EMBEDCAM_HOME: '/srv/ec' }).STORAGE_URI).toBe('/srv/ec/store');
    expect(loadConfig({ EMBEDCAM_HOME: 'rel/home' }).STORAGE_URI).toBe(path.resolve('rel/home/store'));
    expect(loadConfig({ STORAGE_URI: 'some/dir' }).STORAGE_URI).toBe(path.resolve('some/dir'));
    expect(loadConfig({ STORAGE_URI: 's3://bucket/p' }).STORAGE_URI).toBe('s3://bucket/p');
    expect(loadConfig({}, { STORAGE_URI: './x' }).STORAGE_URI).toBe(path.resolve('x'));
  });

  it('names every wrong variable and the expected form', () => {
    let err: unknown;
    try {
      loadConfig({
        WORKER_CONCURRENCY: 'many',
        REDIS_URL: 'localhost:6379',
        LOG_LEVEL: 'loud',
        BATCH_MAX_WAIT_MS: '-1',
      });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const msg = (err as Error).message;
    expect(msg).toMatch(/WORKER_CONCURRENCY must be an integer.*"many"/);
    expect(msg).toMatch(/REDIS_URL must look like redis:\/\/host:6379.*"localhost:6379"/);
    expect(msg).toMatch(/LOG_LEVEL must be trace/);
    expect(msg).toMatch(/BATCH_MAX_WAIT_MS must be ≥ 0/);
    expect((err as ConfigError).issues).toHaveLength(4);
  });
});
