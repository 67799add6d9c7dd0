import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { ChainableCommander, Redis } from 'ioredis';

/** One Redis script, read from `<name>-<numberOfKeys>.lua` (BullMQ's naming of its commands). */
export interface LuaCommand {
  name: string;
  numberOfKeys: number;
  lua: string;
}

export type LuaArg = string | number | Buffer;

const FILE_NAME = /^([A-Za-z][A-Za-z0-9]*)-(\d+)\.lua$/;

// The files ship with the code and do not change while it runs: read each folder once.
const loaded = new Map<string, readonly LuaCommand[]>();

/** Every `*.lua` of a folder; throws for a file whose name does not say its number of keys. */
export function loadLuaCommands(dir: string): readonly LuaCommand[] {
  const abs = path.resolve(dir);
  let commands = loaded.get(abs);
  if (!commands) {
    commands = readdirSync(abs)
      .filter((f) => f.endsWith('.lua'))
      .sort()
      .map((file) => {
        const m = FILE_NAME.exec(file);
        if (!m)
          throw new Error(`${path.join(abs, file)}: a Redis command file is named <name>-<numberOfKeys>.lua`);
        return { name: m[1], numberOfKeys: Number(m[2]), lua: readFileSync(path.join(abs, file), 'utf8') };
      });
    loaded.set(abs, commands);
  }
  return commands;
}

/** The text of one script of a folder (for EVAL in tests, or a client that cannot define commands). */
export function luaScript(dir: string, name: string): string {
  const c = loadLuaCommands(dir).find((x) => x.name === name);
  if (!c) throw new Error(`no Redis command ${name} in ${path.resolve(dir)}`);
  return c.lua;
}

/**
 * Defines each script of `dir` as a command on the client: ioredis sends EVALSHA and falls back
 * to EVAL when Redis lost the script (restart, SCRIPT FLUSH). MULTI and pipelines made from the
 * client inherit the commands. Defining again is a no-op, so callers need not track it.
 */
export function defineCommands(redis: Redis, dir: string): void {
  const defined = redis.scriptsSet as Record<string, { lua: string } | undefined>;
  for (const c of loadLuaCommands(dir)) {
    const had = defined[c.name];
    if (had?.lua === c.lua) continue;
    // Another folder's script of the same name, or a name like `get`, would silently replace it.
    if (had || c.name in redis) throw new Error(`Redis command ${c.name} is already defined on this client`);
    redis.defineCommand(c.name, { numberOfKeys: c.numberOfKeys, lua: c.lua });
  }
}

/** A command {@link defineCommands} defined, typed by the caller; on a MULTI/pipeline it queues. */
export function luaCommand<R>(client: Redis, name: string): (...args: LuaArg[]) => Promise<R>;
export function luaCommand(
  client: ChainableCommander,
  name: string,
): (...args: LuaArg[]) => ChainableCommander;
export function luaCommand(client: Redis | ChainableCommander, name: string) {
  const fn = (client as unknown as Record<string, unknown>)[name];
  if (typeof fn !== 'function') {
    throw new Error(`Redis command ${name} is not defined on this client (call defineCommands first)`);
  }
  return (...args: LuaArg[]) => fn.apply(client, args);
}
