// Runs s3rver in its own process for tests (see s3-server.ts). It must be started with
// `node --openssl-legacy-provider`: s3rver encrypts ListObjectsV2 continuation tokens with DES,
// which OpenSSL 3 only offers through the legacy provider.
// argv[2]: data directory. Reports { type: 'ready', port } over IPC once listening, and exits
// when the parent disconnects, so a crashed test run cannot leave it (or its data) behind.
import { rm } from 'node:fs/promises';
import S3rver from 's3rver';

const directory = process.argv[2];
if (!directory || !process.send) {
  console.error('usage: fork(s3rver-child.mjs, [dataDir]) with an IPC channel');
  process.exit(2);
}

const server = new S3rver({
  address: '127.0.0.1',
  port: 0, // the OS picks a free port; we report it back
  directory,
  silent: true,
  vhostBuckets: false,
});

let closing = false;
async function shutdown(code) {
  if (closing) return;
  closing = true;
  try {
    await server.close();
  } catch {
    // not running yet, or already closed
  }
  // The parent removes the directory too; doing it here covers a parent that died.
  await rm(directory, { recursive: true, force: true }).catch(() => {});
  process.exit(code);
}

process.on('disconnect', () => shutdown(0));
process.on('SIGTERM', () => shutdown(0));
process.on('SIGINT', () => shutdown(0));

try {
  const { port } = await server.run();
  process.send({ type: 'ready', port });
} catch (err) {
  console.error(err);
  process.exit(1);
}
