import { getRunProgress } from '@embedcam/queues';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { type Aggregator, type AggregatorOptions, startAggregator } from '../src/aggregator.js';
import { type TestEnv, testEnv, waitFor } from './helpers.js';

/**
 * Real aggregators for the tests of one file: a private environment for the file (prefix,
 * store, queue), and every aggregator a test starts is closed after it.
 */
export function useAggregators() {
  let env: TestEnv | undefined;
  const running: Aggregator[] = [];
  beforeAll(async () => {
    env = await testEnv();
  });
  afterEach(async () => {
    for (const a of running.splice(0)) await a.close();
  });
  afterAll(async () => {
    await env?.cleanup();
  });
  const t = (): TestEnv => {
    if (!env) throw new Error('the test environment is made in beforeAll');
    return env;
  };
  return {
    env: t,
    async start(opts: AggregatorOptions = {}): Promise<Aggregator> {
      // BullMQ throttles stalled checks queue-wide by the last checker's interval: keep all short.
      const a = await startAggregator(t().config, {
        store: t().store,
        sweepIntervalMs: 200,
        stalledIntervalMs: 300,
        ...opts,
      });
      running.push(a);
      return a;
    },
    waitComplete(runId: string, timeoutMs = 30_000) {
      return waitFor(
        `run ${runId} complete`,
        async () => {
          const p = await getRunProgress(t().redis, t().prefix, runId);
          return p.status === 'complete' ? p : undefined;
        },
        timeoutMs,
      );
    },
  };
}
