import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';

const BIN = path.resolve(import.meta.dirname, '../../services/cli/bin/embedcam.js');

export type Service = 'worker' | 'aggregator' | 'proxy-builder';

/** Service processes started through the real CLI, as an operator would (`embedcam worker`, …). */
export class ServiceProcesses {
  readonly procs: Array<{ name: Service; proc: ChildProcess; log: string[] }> = [];

  constructor(private readonly env: NodeJS.ProcessEnv) {}

  start(name: Service): ChildProcess {
    const proc = spawn(process.execPath, [BIN, name], {
      env: this.env,
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    const log: string[] = [];
    const keep = (b: Buffer) => {
      log.push(b.toString());
      if (log.length > 200) log.shift();
    };
    proc.stdout?.on('data', keep);
    proc.stderr?.on('data', keep);
    this.procs.push({ name, proc, log });
    return proc;
  }

  /** `kill -9`: no cleanup, in-flight jobs stall. */
  async kill(proc: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): Promise<number | null> {
    if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode;
    const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
    proc.kill(signal);
    return exited;
  }

  logs(): string {
    return this.procs.map((p) => `--- ${p.name} (pid ${p.proc.pid})\n${p.log.join('')}`).join('\n');
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.procs.map(({ proc }) => this.kill(proc, 'SIGTERM')));
    await Promise.all(this.procs.map(({ proc }) => this.kill(proc, 'SIGKILL')));
  }
}
