// An ObjectStore on any S3 API (AWS, MinIO, s3rver). Small bodies go up in one PutObject;
// bodies over MULTIPART_THRESHOLD go through lib-storage's Upload, which splits them into
// parallel parts so large heatmap archives neither hit the 5 GiB PutObject limit nor restart
// from zero on a flaky connection.
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { InvalidKeyError } from './errors.js';
import { getOrNull, type ObjectBody, type ObjectStore, type PutOptions } from './object-store.js';
import { createS3Client, type S3ConnectionOptions } from './s3-client.js';
import { isS3NotFound, mapS3Error } from './s3-errors.js';
import { validateBucketName } from './validate-bucket.js';
import { MAX_KEY_BYTES, validateKey, validatePrefix } from './validate-key.js';

/** Bodies strictly larger than this use a multipart upload. */
export const MULTIPART_THRESHOLD = 8 * 1024 * 1024;
/** Part size for multipart uploads (S3's minimum is 5 MiB). */
export const MULTIPART_PART_SIZE = 8 * 1024 * 1024;

export interface S3StoreConfig extends S3ConnectionOptions {
  bucket: string;
  /** Key prefix every key of this store lives under (no leading/trailing `/` needed). */
  prefix?: string;
  /** Share an existing client; a shared client is not destroyed by close(). */
  client?: S3Client;
}

export class S3Store implements ObjectStore {
  readonly uri: string;
  readonly bucket: string;
  /** Normalised prefix without a trailing `/`, `''` for none. */
  readonly prefix: string;
  readonly client: S3Client;
  private readonly ownsClient: boolean;

  constructor(config: S3StoreConfig) {
    this.bucket = validateBucketName(config.bucket);
    const prefix = (config.prefix ?? '').replace(/^\/+|\/+$/g, '');
    this.prefix = prefix ? validateKey(prefix) : '';
    this.uri = `s3://${this.bucket}${this.prefix ? `/${this.prefix}` : ''}`;
    this.client = config.client ?? createS3Client(config);
    this.ownsClient = config.client === undefined;
  }

  async put(key: string, body: ObjectBody, opts: PutOptions = {}): Promise<void> {
    const Key = this.fullKey(key);
    const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
    const params = { Bucket: this.bucket, Key, Body: bytes, ContentType: opts.contentType };
    try {
      if (bytes.byteLength > MULTIPART_THRESHOLD) {
        await new Upload({
          client: this.client,
          params,
          partSize: MULTIPART_PART_SIZE,
          queueSize: 4,
          leavePartsOnError: false,
        }).done();
      } else {
        await this.client.send(new PutObjectCommand(params));
      }
    } catch (err) {
      throw mapS3Error('put', key, this.uri, err);
    }
  }

  async get(key: string): Promise<Buffer> {
    const Key = this.fullKey(key);
    try {
      return await s3GetBytes(this.client, this.bucket, Key);
    } catch (err) {
      throw mapS3Error('get', key, this.uri, err);
    }
  }

  getOrNull(key: string): Promise<Buffer | null> {
    return getOrNull(this, key);
  }

  async exists(key: string): Promise<boolean> {
    const Key = this.fullKey(key);
    try {
      await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key }));
      return true;
    } catch (err) {
      if (isS3NotFound(err)) return false;
      throw mapS3Error('exists', key, this.uri, err);
    }
  }

  async *list(prefix: string): AsyncIterable<string> {
    validatePrefix(prefix);
    const base = this.prefix ? `${this.prefix}/` : '';
    let ContinuationToken: string | undefined;
    // ListObjectsV2 returns at most 1,000 keys a page; follow the continuation token to the end.
    do {
      let page: ListObjectsV2CommandOutput;
      try {
        page = await this.client.send(
          new ListObjectsV2Command({ Bucket: this.bucket, Prefix: base + prefix, ContinuationToken }),
        );
      } catch (err) {
        throw mapS3Error('list', prefix, this.uri, err);
      }
      for (const item of page.Contents ?? []) {
        if (item.Key?.startsWith(base)) yield item.Key.slice(base.length);
      }
      ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (ContinuationToken);
  }

  async delete(key: string): Promise<void> {
    const Key = this.fullKey(key);
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key }));
    } catch (err) {
      if (isS3NotFound(err) && (err as { name?: string }).name !== 'NoSuchBucket') return;
      throw mapS3Error('delete', key, this.uri, err);
    }
  }

  /** Creates the bucket when it does not exist yet (embedded and test setups). */
  async ensureBucket(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
      return;
    } catch (err) {
      if (!isS3NotFound(err)) throw mapS3Error('ensureBucket', this.bucket, this.uri, err);
    }
    try {
      await this.client.send(new CreateBucketCommand({ Bucket: this.bucket }));
    } catch (err) {
      // Another process created it between our HEAD and CREATE: that is what we wanted.
      if ((err as { name?: string }).name === 'BucketAlreadyOwnedByYou') return;
      throw mapS3Error('ensureBucket', this.bucket, this.uri, err);
    }
  }

  async close(): Promise<void> {
    if (this.ownsClient) this.client.destroy();
  }

  private fullKey(key: string): string {
    validateKey(key);
    const full = this.prefix ? `${this.prefix}/${key}` : key;
    if (Buffer.byteLength(full, 'utf8') > MAX_KEY_BYTES) {
      throw new InvalidKeyError(key, `with the store prefix it exceeds ${MAX_KEY_BYTES} bytes in UTF-8`);
    }
    return full;
  }
}

/** Creates `config.bucket` when missing; a convenience around S3Store#ensureBucket. */
export async function ensureBucket(config: S3StoreConfig): Promise<void> {
  const store = new S3Store(config);
  try {
    await store.ensureBucket();
  } finally {
    await store.close();
  }
}

/** Raw GetObject → Buffer, without key validation. */
export async function s3GetBytes(client: S3Client, bucket: string, key: string): Promise<Buffer> {
  const res = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  if (!res.Body) return Buffer.alloc(0);
  const bytes = await res.Body.transformToByteArray();
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
