// How S3 connection settings are resolved from options and environment (no network).
import { describe, expect, it } from 'vitest';
import { resolveS3ClientConfig, StorageError } from '../src/index.js';

describe('resolveS3ClientConfig', () => {
  it('targets AWS with SDK defaults when nothing is set', () => {
    const cfg = resolveS3ClientConfig({}, {});
    expect(cfg.endpoint).toBeUndefined();
    expect(cfg.region).toBeUndefined(); // left to the SDK's own chain (profiles, IMDS)
    expect(cfg.credentials).toBeUndefined(); // likewise: AWS_ACCESS_KEY_ID/… are read by the SDK
    expect(cfg.forcePathStyle).toBe(false);
    expect(cfg.requestChecksumCalculation).toBe('WHEN_SUPPORTED');
  });

  it('reads S3_ENDPOINT and AWS_REGION, and defaults to path style for a custom endpoint', () => {
    const cfg = resolveS3ClientConfig({}, { S3_ENDPOINT: 'http://minio:9000', AWS_REGION: 'eu-west-1' });
    expect(cfg.endpoint).toBe('http://minio:9000');
    expect(cfg.region).toBe('eu-west-1');
    expect(cfg.forcePathStyle).toBe(true);
    expect(cfg.requestChecksumCalculation).toBe('WHEN_REQUIRED');
    expect(cfg.responseChecksumValidation).toBe('WHEN_REQUIRED');
  });

  it('falls back to AWS_DEFAULT_REGION, then us-east-1 for a custom endpoint', () => {
    expect(resolveS3ClientConfig({}, { AWS_DEFAULT_REGION: 'ap-south-1' }).region).toBe('ap-south-1');
    expect(resolveS3ClientConfig({}, { S3_ENDPOINT: 'http://minio:9000' }).region).toBe('us-east-1');
  });

  it('honours S3_FORCE_PATH_STYLE in both directions', () => {
    expect(resolveS3ClientConfig({}, { S3_FORCE_PATH_STYLE: 'true' }).forcePathStyle).toBe(true);
    expect(
      resolveS3ClientConfig({}, { S3_ENDPOINT: 'https://s3.example.com', S3_FORCE_PATH_STYLE: '0' })
        .forcePathStyle,
    ).toBe(false);
  });

  it('prefers explicit options over the environment', () => {
    const cfg = resolveS3ClientConfig(
      {
        endpoint: 'http://127.0.0.1:1234',
        region: 'us-west-2',
        forcePathStyle: false,
        credentials: { accessKeyId: 'A', secretAccessKey: 'B' },
        checksums: 'when-supported',
      },
      { S3_ENDPOINT: 'http://other:9000', AWS_REGION: 'eu-west-1', S3_FORCE_PATH_STYLE: 'true' },
    );
    expect(cfg).toMatchObject({
      endpoint: 'http://127.0.0.1:1234',
      region: 'us-west-2',
      forcePathStyle: false,
      credentials: { accessKeyId: 'A', secretAccessKey: 'B' },
      requestChecksumCalculation: 'WHEN_SUPPORTED',
    });
  });

  it('rejects malformed settings with a message naming the variable', () => {
    expect(() => resolveS3ClientConfig({}, { S3_FORCE_PATH_STYLE: 'maybe' })).toThrow(/S3_FORCE_PATH_STYLE/);
    expect(() => resolveS3ClientConfig({}, { S3_ENDPOINT: 'minio:9000' })).toThrow(StorageError);
    expect(() => resolveS3ClientConfig({}, { S3_ENDPOINT: 'minio:9000' })).toThrow(/http:\/\/ or https:\/\//);
  });
});
