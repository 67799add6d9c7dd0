import path from 'node:path';
import { defineCommands, luaScript } from '@embedcam/queues';
import type { Redis } from 'ioredis';

/**
 * The aggregator's Redis scripts, one file each: `commands/<name>-<numberOfKeys>.lua`. Found from
 * this module, not the working directory, so tsx from anywhere and the Docker image both load them.
 */
export const COMMANDS_DIR = path.join(import.meta.dirname, 'commands');

/** Defines every script of {@link COMMANDS_DIR} on the client (again is a no-op). */
export function defineAggregatorCommands(redis: Redis): void {
  defineCommands(redis, COMMANDS_DIR);
}

/** The text of one of the scripts (to EVAL it directly). */
export function aggregatorScript(name: 'countResult' | 'releaseLock'): string {
  return luaScript(COMMANDS_DIR, name);
}
