import type { ModelInfo } from '@embedcam/compute';
import type { RunConfig } from '@embedcam/queues';
import { describe, expect, it } from 'vitest';
import type { StoredProxies } from '../src/caches.js';
import { checkModel } from '../src/explain-image.js';
import { JobFailure } from '../src/failures.js';

const model = { name: 'mobilenet', fingerprint: 'aaaa', dim: 1280 } as ModelInfo;
const run = { runId: 'r1', model: 'default', modelFingerprint: 'aaaa', proxyId: 'px' } as RunConfig;
const proxies = (fingerprint: string, dim = 1280) =>
  ({ set: { meta: { model: { fingerprint }, dim } } }) as unknown as StoredProxies;

function refusal(f: () => void): JobFailure {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(JobFailure);
    expect(err).toMatchObject({ code: 'model-mismatch', permanent: true });
    return err as JobFailure;
  }
  throw new Error('expected a model-mismatch');
}

describe('checkModel', () => {
  it('accepts a run and proxies made with the loaded model (or without a recorded fingerprint)', () => {
    expect(() => checkModel(run, proxies('aaaa'), model)).not.toThrow();
    expect(() => checkModel({ ...run, modelFingerprint: '' }, proxies(''), model)).not.toThrow();
  });

  it('refuses a run made with other weights, naming both fingerprints', () => {
    const err = refusal(() => checkModel({ ...run, modelFingerprint: 'bbbb' }, proxies('aaaa'), model));
    expect(err.message).toMatch(
      /^Run r1 was made with model fingerprint bbbb, but default .* has aaaa \(mobilenet\)/,
    );
  });

  it('refuses proxies made with other weights', () => {
    const err = refusal(() => checkModel(run, proxies('cccc'), model));
    expect(err.message).toMatch(/^Proxy set px was made with model fingerprint cccc/);
  });

  it('refuses proxies of another embedding dimension', () => {
    const err = refusal(() => checkModel(run, proxies('aaaa', 512), model));
    expect(err.message).toBe('Proxy set px has dimension 512; mobilenet embeds in 1280.');
  });
});
