import { sharedDir } from '@embedcam/cam';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { sharedDataDir } from './shared-data.js';

// The tests' idea of where the shared data is must be the CLI's, or tests would check one folder
// while `embedcam run` defaults to another.
describe('sharedDataDir', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it('is ../shared beside the repository by default, as in @embedcam/cam', () => {
    vi.stubEnv('EMBEDCAM_SHARED_DIR', undefined);
    expect(sharedDataDir()).toBe(sharedDir());
    expect(sharedDataDir()).toMatch(/[/\\]shared$/);
  });

  it('follows EMBEDCAM_SHARED_DIR, as @embedcam/cam does', () => {
    vi.stubEnv('EMBEDCAM_SHARED_DIR', '/somewhere/else');
    expect(sharedDataDir()).toBe('/somewhere/else');
    expect(sharedDir()).toBe('/somewhere/else');
  });
});
