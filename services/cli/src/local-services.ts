import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import type { Logger } from 'pino';

export type ServiceName = 'worker' | 'aggregator' | 'proxy-builder';

const BIN = path.resolve(import.meta.dirname, '../bin/embedcam.js');

/**
 * Starts services as child processes of this command (`embedcam <service>`), so one command runs
 * the whole pipeline on one machine; they stop when the command ends.
 */
export class LocalServices {
  private readonly children: Array<{ name: ServiceName; proc: ChildProcess }> = [];

  constructor(
    private readonly env: NodeJS.ProcessEnv,
    private readonly log: Logger,
  ) {}

  start(name: ServiceName, args: string[] = []): void {
    const proc = spawn(process.execPath, [BIN, name, ...args], {
      env: { LOG_LEVEL: 'warn', ...this.env },
      // The IPC channel lets the child notice when this command dies (see serve()).
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    proc.on('exit', (code, signal) => {
      if (code !== 0 && signal === null)
        this.log.error({ service: name, code }, `local ${name} exited with code ${code}`);
    });
    this.children.push({ name, proc });
    this.log.info({ service: name, pid: proc.pid }, `started a local ${name}`);
  }

  get size(): number {
    return this.children.length;
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.children.map(
        ({ proc }) =>
          new Promise<void>((resolve) => {
            if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
            const force = setTimeout(() => proc.kill('SIGKILL'), 30_000);
            proc.once('exit', () => {
              clearTimeout(force);
              resolve();
            });
            proc.kill('SIGTERM');
          }),
      ),
    );
  }
}
