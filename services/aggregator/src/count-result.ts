import { type Counters, isFloatCounter } from '@embedcam/metrics';
import type { runKeys } from '@embedcam/queues';
import type { ChainableCommander, Redis } from 'ioredis';

/**
 * Counts one image into a run, atomically and at most once (a Redis script runs alone, and it
 * validates every argument before its first write, so it either writes everything or nothing).
 *
 * KEYS: done, failed, counters, class counters (of ARGV[3]), classes, images
 * ARGV: imageId, 'ok' | 'failed', label, row JSON, number of integer counter pairs,
 *       then integer pairs (field, increment), then float pairs (field, increment)
 *
 * - `SADD done imageId`; when the id was already there, nothing else happens and it returns 0.
 * - ok: HINCRBY / HINCRBYFLOAT each counter into the run's and the class's hash, SADD classes
 *   label, HSET images imageId row.
 * - failed: SADD failed imageId, HSET images imageId row.
 * Returns 1 when the image was counted now.
 */
export const COUNT_RESULT_LUA = `
local nInt = tonumber(ARGV[5])
if ARGV[2] ~= 'ok' and ARGV[2] ~= 'failed' then return redis.error_reply('bad status ' .. tostring(ARGV[2])) end
if nInt == nil or nInt < 0 or (#ARGV - 5) % 2 ~= 0 or 5 + 2 * nInt > #ARGV then
  return redis.error_reply('bad counter arguments')
end
local lastInt = 5 + 2 * nInt
for i = 6, #ARGV, 2 do
  local v = ARGV[i + 1]
  if i <= lastInt then
    if not string.match(v, '^%-?%d+$') then return redis.error_reply('counter ' .. ARGV[i] .. ' is not an integer: ' .. v) end
  else
    local n = tonumber(v)
    if n == nil or n ~= n or n == math.huge or n == -math.huge then
      return redis.error_reply('counter ' .. ARGV[i] .. ' is not a finite number: ' .. v)
    end
  end
end
if redis.call('SADD', KEYS[1], ARGV[1]) == 0 then return 0 end
if ARGV[2] == 'failed' then
  redis.call('SADD', KEYS[2], ARGV[1])
else
  for i = 6, lastInt, 2 do
    redis.call('HINCRBY', KEYS[3], ARGV[i], ARGV[i + 1])
    redis.call('HINCRBY', KEYS[4], ARGV[i], ARGV[i + 1])
  end
  for i = lastInt + 1, #ARGV, 2 do
    redis.call('HINCRBYFLOAT', KEYS[3], ARGV[i], ARGV[i + 1])
    redis.call('HINCRBYFLOAT', KEYS[4], ARGV[i], ARGV[i + 1])
  end
  redis.call('SADD', KEYS[5], ARGV[3])
end
redis.call('HSET', KEYS[6], ARGV[1], ARGV[4])
return 1
`;

const COMMAND = 'embedcamCountResult';

type CountCommand = (...args: Array<string | number>) => Promise<number>;

/** Registers the script on a client (EVALSHA with a fallback to EVAL after a Redis restart). */
export function defineCountCommand(redis: Redis): void {
  if (!(COMMAND in redis)) redis.defineCommand(COMMAND, { numberOfKeys: 6, lua: COUNT_RESULT_LUA });
}

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

/** Counts one image (see {@link COUNT_RESULT_LUA}); true when it was counted now, false for a repeat. */
export async function countResult(
  redis: Redis,
  keys: ReturnType<typeof runKeys>,
  input: CountInput,
): Promise<boolean> {
  defineCountCommand(redis);
  const cmd = (redis as unknown as Record<string, CountCommand>)[COMMAND];
  return (await cmd.apply(redis, countArgs(keys, input))) === 1;
}

/** Queues the script on a MULTI / pipeline (the client must have {@link defineCountCommand} run). */
export function queueCountResult(
  chain: ChainableCommander,
  keys: ReturnType<typeof runKeys>,
  input: CountInput,
): ChainableCommander {
  const cmd = (chain as unknown as Record<string, (...a: Array<string | number>) => ChainableCommander>)[
    COMMAND
  ];
  return cmd.apply(chain, countArgs(keys, input));
}
