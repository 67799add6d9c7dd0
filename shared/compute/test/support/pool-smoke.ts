// Started in a child process by thread-loading.test.ts: one compute thread, one embedding.
import { ComputePool } from '../../src/index.js';

const pool = await ComputePool.start({ model: 'default', threads: 1 });
const pixels = new Uint8Array(224 * 224 * 3).fill(128);
const { dim, embeddings } = await pool.embed([
  { original: { width: 224, height: 224 }, width: 224, height: 224, pixels },
]);
await pool.close();
process.stdout.write(
  `${JSON.stringify({ ok: true, runtime: pool.info.runtime, dim, n: embeddings.length })}\n`,
);
