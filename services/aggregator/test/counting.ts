import type { ImageResult } from '@embedcam/explain';
import { type CountInput, countResult } from '../src/count-result.js';
import { okCountInput } from '../src/result-intake.js';
import { parseImageResult } from '../src/rows.js';
import type { TestEnv } from './helpers.js';

/** The count of an ok result, as the aggregator makes it from the stored object. */
export function okInput(r: ImageResult): CountInput {
  return okCountInput(parseImageResult(JSON.stringify(r)));
}

/** Counts results straight into Redis, as an aggregator that died before writing the report left them. */
export async function countDirectly(
  t: TestEnv,
  runId: string,
  results: readonly ImageResult[],
): Promise<void> {
  for (const r of results) await countResult(t.redis, t.keys(runId), okInput(r));
}
