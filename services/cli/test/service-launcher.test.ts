import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ServiceLauncher } from '../src/service-launcher.js';

const FIXTURES = path.join(import.meta.dirname, 'fixtures');
const CHILD = path.join(FIXTURES, 'child.mjs');

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function until(cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('ServiceLauncher', () => {
  let launcher: ServiceLauncher;
  afterEach(() => launcher?.killAllNow());

  it('captures output in a ring buffer, with the env of the launcher and of the start', async () => {
    launcher = new ServiceLauncher({ env: { FOO: 'a', BAR: 'b' }, keepChunks: 200 });
    const c = launcher.startScript('stand-in', CHILD, { env: { BAR: 'c' } });
    await until(() => c.logTail().includes('FOO=a BAR=c') && c.logTail().includes('up'));
    expect(c.logTail()).toMatch(new RegExp(`^--- stand-in \\(pid ${c.pid}\\)\\n`));
    expect(c.logTail(4)).toMatch(/\n.{4}$/s);
    expect(launcher.logs()).toContain(`child ${c.pid} up`);
  });

  it('kill() sends SIGKILL and resolves at the exit; stop() is SIGTERM, then SIGKILL after the grace', async () => {
    launcher = new ServiceLauncher({ env: {} });
    const killed = launcher.startScript('killed', CHILD);
    const polite = launcher.startScript('polite', CHILD);
    const stubborn = launcher.startScript('stubborn', CHILD, { args: ['stubborn'] });
    await until(() => [killed, polite, stubborn].every((c) => c.logTail().includes('up')));
    expect(await killed.kill()).toBeNull();
    expect(killed.exited).toEqual({ code: null, signal: 'SIGKILL' });
    await polite.stop();
    expect(polite.exited).toEqual({ code: 0, signal: null });
    await stubborn.stop(300);
    expect(stubborn.exited).toEqual({ code: null, signal: 'SIGKILL' });
    expect([killed, polite, stubborn].every((c) => c.stopping)).toBe(true);
    await launcher.stopAll(); // all gone already: returns at once
  });

  it('starts `embedcam <service>` through the CLI bin', async () => {
    launcher = new ServiceLauncher({ env: process.env });
    const c = launcher.start('worker', { args: ['--help'] });
    expect(await c.wait()).toBe(0);
    expect(c.logTail()).toMatch(/Usage: embedcam worker/);
  });

  it('a child stops when its parent dies (the IPC channel closes)', async () => {
    const parent = spawn(process.execPath, ['--import', 'tsx', path.join(FIXTURES, 'launch-parent.ts')], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const pid = await new Promise<number>((resolve, reject) => {
      parent.stdout.once('data', (b: Buffer) => resolve(Number(b.toString().trim())));
      parent.once('exit', () => reject(new Error('parent exited early')));
    });
    expect(alive(pid)).toBe(true);
    parent.kill('SIGKILL');
    await until(() => !alive(pid));
  });
});
