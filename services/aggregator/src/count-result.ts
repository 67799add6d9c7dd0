import { type Counters, isFloatCounter } from '@embedcam/metrics';
import { luaCommand, type runKeys } from '@embedcam/queues';
import type { ChainableCommander, Redis } from 'ioredis';
import { aggregatorScript, defineAggregatorCommands } from './redis-commands.js';

/** The counting script, commands/countResult-6.lua: its header documents KEYS and ARGV. */
export const COUNT_RESULT_LUA = aggregatorScript('countResult');

/** Registers the aggregator's scripts on a client (EVALSHA with a fallback to EVAL after a Redis restart). */
export const defineCountCommand = defineAggregatorCommands;

export type CountInput =
  | { status: 'ok'; imageId: string; label: number; row: string; counters: Counters }
  | { status: 'failed'; imageId: string; label?: number; row: string };

/** The script's keys and arguments; throws RangeError for a counter that HINCRBY(FLOAT) would refuse. */
export function countArgs(keys: ReturnType<typeof runKeys>, input: CountInput): Array<string | number> {
  const label = input.label ?? 0;
  const ints: string[] = [];
  const floats: string[] = [];
  if (input.status === 'ok') {
    for (const [field, v] of Object.entries(input.counters)) {
      if (isFloatCounter(field)) {
        if (!Number.isFinite(v)) throw new RangeError(`counter ${field} is not finite: ${v}`);
        floats.push(field, String(v));
      } else {
        if (!Number.isSafeInteger(v)) throw new RangeError(`counter ${field} is not an integer: ${v}`);
        ints.push(field, String(v));
      }
    }
  }
  return [
    keys.done,
    keys.failed,
    keys.counters,
    keys.classCounters(label),
    keys.classes,
    keys.images,
    input.imageId,
    input.status,
    String(label),
    input.row,
    ints.length / 2,
    ...ints,
    ...floats,
  ];
}

/** Counts one image (commands/countResult-6.lua); true when it was counted now, false for a repeat. */
export async function countResult(
  redis: Redis,
  keys: ReturnType<typeof runKeys>,
  input: CountInput,
): Promise<boolean> {
  defineAggregatorCommands(redis);
  return (await luaCommand<number>(redis, 'countResult')(...countArgs(keys, input))) === 1;
}

/** Queues the script on a MULTI / pipeline (the client must have {@link defineCountCommand} run). */
export function queueCountResult(
  chain: ChainableCommander,
  keys: ReturnType<typeof runKeys>,
  input: CountInput,
): ChainableCommander {
  return luaCommand(chain, 'countResult')(...countArgs(keys, input));
}
