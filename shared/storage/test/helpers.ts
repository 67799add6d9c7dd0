// Small utilities shared by the storage tests.
import { randomBytes } from 'node:crypto';
import type { S3Client } from '@aws-sdk/client-s3';
import { vi } from 'vitest';
import type { ObjectStore } from '../src/index.js';

export async function collect(iterable: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

export async function sortedList(store: ObjectStore, prefix: string): Promise<string[]> {
  return (await collect(store.list(prefix))).sort();
}

/** Runs `fn` over `items` with at most `limit` calls in flight. */
export async function mapLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>) {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/** Every byte value, then random bytes: catches text decoding or truncation anywhere. */
export function binaryFixture(randomLength = 64 * 1024): Buffer {
  const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
  return Buffer.concat([all, randomBytes(randomLength)]);
}

/** Records the command names an S3Client sends (the client still sends them). */
export function traceCommands(client: S3Client): string[] {
  const names: string[] = [];
  const original = client.send.bind(client);
  vi.spyOn(client, 'send').mockImplementation(((
    command: { constructor: { name: string } },
    ...rest: unknown[]
  ) => {
    names.push(command.constructor.name);
    return (original as (...args: unknown[]) => unknown)(command, ...rest);
  }) as never);
  return names;
}
