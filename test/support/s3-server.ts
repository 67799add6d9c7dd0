// An S3 endpoint for tests.
//
// - If S3_ENDPOINT is set (MinIO, AWS, CI service container), it is used as is: credentials and
//   region come from the usual AWS_* variables, the bucket from S3_TEST_BUCKET or a fresh
//   `embedcam-test-<random>` that stop() empties and removes again.
// - Otherwise s3rver (a devDependency) runs in a child process on a free 127.0.0.1 port with a
//   temp directory. Where a Docker engine exists, MinIO via testcontainers would be the more
//   faithful choice; this machine has none, so s3rver it is.
//
// s3rver runs in a child, not in the test process, because its ListObjectsV2 pagination needs
// `node --openssl-legacy-provider` (DES continuation tokens), a flag that only applies per process.
import { type ChildProcess, fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DeleteBucketCommand } from '@aws-sdk/client-s3';
import { type S3ConnectionOptions, S3Store } from '@embedcam/storage';

export interface S3TestServer {
  /** http://host:port of the S3 API. */
  endpoint: string;
  /** A bucket that exists and belongs to this test run. */
  bucket: string;
  /** Everything an S3Store/openStore/readUri needs to reach `endpoint`. */
  connection: S3ConnectionOptions;
  stop(): Promise<void>;
}

/** The environment a service process (`embedcam worker`, …) needs to reach the server. */
export function s3ChildEnv(s: Pick<S3TestServer, 'endpoint' | 'connection'>): NodeJS.ProcessEnv {
  const { region, credentials } = s.connection;
  const creds = credentials as { accessKeyId: string; secretAccessKey: string } | undefined;
  return {
    S3_ENDPOINT: s.endpoint,
    S3_FORCE_PATH_STYLE: 'true',
    AWS_REGION: region ?? process.env.AWS_REGION ?? 'us-east-1',
    // An external endpoint (S3_ENDPOINT) brings its credentials in the environment already.
    ...(creds ? { AWS_ACCESS_KEY_ID: creds.accessKeyId, AWS_SECRET_ACCESS_KEY: creds.secretAccessKey } : {}),
  };
}

const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
const CHILD_SCRIPT = fileURLToPath(new URL('./s3rver-child.mjs', import.meta.url));

export async function startS3Server(): Promise<S3TestServer> {
  const external = process.env.S3_ENDPOINT?.trim();
  return external ? useExternal(external) : startS3rver();
}

async function useExternal(endpoint: string): Promise<S3TestServer> {
  const connection: S3ConnectionOptions = { endpoint };
  const given = process.env.S3_TEST_BUCKET?.trim();
  const bucket = given || freshBucketName();
  const store = new S3Store({ ...connection, bucket });
  await store.ensureBucket();
  return {
    endpoint,
    bucket,
    connection,
    async stop() {
      try {
        if (!given) await removeBucket(store);
      } finally {
        await store.close();
      }
    },
  };
}

async function startS3rver(): Promise<S3TestServer> {
  const dir = await mkdtemp(path.join(tmpdir(), 'embedcam-s3rver-'));
  const child = fork(CHILD_SCRIPT, [dir], {
    execPath: process.execPath,
    // Replace (not extend) the parent's flags: vitest workers may carry loaders s3rver does not need.
    execArgv: ['--openssl-legacy-provider'],
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  child.stdout?.resume();

  const stopChild = async () => {
    await killChild(child);
    await rm(dir, { recursive: true, force: true });
  };

  try {
    const port = await waitForReady(child, () => stderr);
    const endpoint = `http://127.0.0.1:${port}`;
    await waitUntilAnswering(endpoint);
    const connection: S3ConnectionOptions = {
      endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: S3RVER_CREDENTIALS,
    };
    const bucket = freshBucketName();
    const store = new S3Store({ ...connection, bucket });
    try {
      await store.ensureBucket();
    } finally {
      await store.close();
    }
    return { endpoint, bucket, connection, stop: stopChild };
  } catch (err) {
    await stopChild();
    throw err;
  }
}

function freshBucketName(): string {
  return `embedcam-test-${randomBytes(6).toString('hex')}`;
}

function waitForReady(child: ChildProcess, stderr: () => string, timeoutMs = 15_000): Promise<number> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => done(new Error(`s3rver did not start within ${timeoutMs} ms: ${stderr()}`)),
      timeoutMs,
    );
    const onMessage = (msg: unknown) => {
      const m = msg as { type?: string; port?: number };
      if (m?.type === 'ready' && typeof m.port === 'number') done(undefined, m.port);
    };
    const onExit = (code: number | null, signal: string | null) =>
      done(new Error(`s3rver exited before it was ready (code ${code}, signal ${signal}): ${stderr()}`));
    const done = (err?: Error, port?: number) => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
      if (err) reject(err);
      else resolve(port as number);
    };
    child.on('message', onMessage);
    child.on('exit', onExit);
  });
}

/** Any HTTP answer (s3rver replies 403 to an unsigned request) means it is serving. */
async function waitUntilAnswering(endpoint: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const res = await fetch(endpoint, { signal: AbortSignal.timeout(1000) });
      await res.body?.cancel();
      return;
    } catch (err) {
      if (Date.now() > deadline)
        throw new Error(`s3rver at ${endpoint} did not answer: ${(err as Error).message}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

async function killChild(child: ChildProcess, graceMs = 5_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** Empties and deletes a bucket this harness created on an external server. */
async function removeBucket(store: S3Store): Promise<void> {
  const keys: string[] = [];
  for await (const key of store.list('')) keys.push(key);
  for (let i = 0; i < keys.length; i += 32) {
    await Promise.all(keys.slice(i, i + 32).map((key) => store.delete(key)));
  }
  await store.client.send(new DeleteBucketCommand({ Bucket: store.bucket }));
}
