import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedis } from '../src/connection.js';
import { defineCommands, loadLuaCommands, luaCommand, luaScript } from '../src/lua-commands.js';
import { deleteKeysWithPrefix } from '../src/run-state.js';

const REDIS_URL = process.env.TEST_REDIS_URL ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A folder of scripts: `files` maps a file name to its text. */
async function scripts(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'embedcam-lua-'));
  for (const [name, text] of Object.entries(files)) await writeFile(path.join(dir, name), text);
  return dir;
}

describe('Lua commands from <name>-<numberOfKeys>.lua files', () => {
  const prefix = `t${randomBytes(5).toString('hex')}`;
  const redis = createRedis(REDIS_URL);
  const dirs: string[] = [];
  let dir: string;
  beforeAll(async () => {
    dir = await scripts({
      // Two keys: ARGV[1] is an argument, not a key, only because the name says 2.
      'copyPair-2.lua': "redis.call('SET', KEYS[2], redis.call('GET', KEYS[1])) return ARGV[1]",
      'greet-0.lua': "return 'greet'",
      'README.md': 'not a script',
    });
    dirs.push(dir);
  });
  afterAll(async () => {
    await deleteKeysWithPrefix(redis, prefix);
    redis.disconnect();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('reads every .lua file of the folder, the number of keys from its name', () => {
    expect(loadLuaCommands(dir).map((c) => [c.name, c.numberOfKeys])).toEqual([
      ['copyPair', 2],
      ['greet', 0],
    ]);
    expect(luaScript(dir, 'greet')).toBe("return 'greet'");
    expect(() => luaScript(dir, 'nope')).toThrow(/no Redis command nope/);
  });

  it('defines them on a client, which runs them with that many keys', async () => {
    defineCommands(redis, dir);
    await redis.set(`${prefix}:a`, 'x');
    expect(await luaCommand<string>(redis, 'copyPair')(`${prefix}:a`, `${prefix}:b`, 'done')).toBe('done');
    expect(await redis.get(`${prefix}:b`)).toBe('x');
    expect(await luaCommand<string>(redis, 'greet')()).toBe('greet');
  });

  it('a MULTI made from the client queues them', async () => {
    defineCommands(redis, dir);
    const multi = redis.multi();
    luaCommand(multi, 'greet')();
    luaCommand(multi, 'greet')();
    expect(await multi.exec()).toEqual([
      [null, 'greet'],
      [null, 'greet'],
    ]);
  });

  it('reads a folder once, and defining again is a no-op', async () => {
    await writeFile(path.join(dir, 'greet-0.lua'), "return 'changed'");
    const again = createRedis(REDIS_URL);
    try {
      defineCommands(again, dir);
      defineCommands(again, dir);
      expect(await luaCommand<string>(again, 'greet')()).toBe('greet');
    } finally {
      again.disconnect();
    }
  });

  it('refuses a file name without the number of keys, and a name the client already has', async () => {
    const unnamed = await scripts({ 'noKeys.lua': 'return 1' });
    const shadowing = await scripts({ 'get-1.lua': 'return 1' });
    const sameName = await scripts({ 'greet-0.lua': "return 'other'" });
    dirs.push(unnamed, shadowing, sameName);
    expect(() => loadLuaCommands(unnamed)).toThrow(/named <name>-<numberOfKeys>\.lua/);
    expect(() => defineCommands(redis, shadowing)).toThrow(/get is already defined/);
    defineCommands(redis, dir);
    expect(() => defineCommands(redis, sameName)).toThrow(/greet is already defined/);
  });

  it('says so when a command was not defined on the client', () => {
    const bare = createRedis(REDIS_URL, { lazyConnect: true });
    expect(() => luaCommand(bare, 'greet')).toThrow(/not defined on this client/);
    bare.disconnect();
  });
});
