// The one way pipeline services are run as child processes of another process (`embedcam run`,
// eval-cub, the end-to-end tests, the benchmark): `embedcam <service>` through the CLI's bin, as an
// operator would start it.
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import type { Logger } from 'pino';

export type ServiceName = 'worker' | 'aggregator' | 'proxy-builder';

/** The CLI's bin. */
export const EMBEDCAM_BIN = path.resolve(import.meta.dirname, '../bin/embedcam.js');

/** Settings as environment variables for child services: `base` with every set value of `config` as a string. */
export function serviceEnv(
  config: Record<string, unknown>,
  base: NodeJS.ProcessEnv = process.env,
): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...base };
  for (const [k, v] of Object.entries(config)) if (v !== undefined) env[k] = String(v);
  return env;
}

export interface ServiceLauncherOptions {
  /** The children's environment, as is (add process.env yourself where wanted). */
  env: NodeJS.ProcessEnv;
  /**
   * 'capture' (default): each child's stdout and stderr are kept in a ring buffer (see logs());
   * 'inherit': they go to this process's.
   */
  output?: 'capture' | 'inherit';
  /** Output chunks kept per child when capturing. Default 200. */
  keepChunks?: number;
  /** Told of starts and of exits nobody asked for. */
  log?: Logger;
}

export interface StartOptions {
  args?: string[];
  /** Added to the launcher's env. */
  env?: NodeJS.ProcessEnv;
  /** The child's name in logs (default: the service's). */
  label?: string;
}

/** A started child. */
export class ServiceChild {
  readonly pid: number;
  exited: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  /** Set by stop() and kill(): the exit is expected. */
  stopping = false;
  private readonly chunks: string[] = [];
  private readonly exit: Promise<number | null>;

  constructor(
    readonly name: string,
    readonly proc: ChildProcess,
    keepChunks: number,
  ) {
    if (proc.pid === undefined) throw new Error(`${name}: could not start a process`);
    this.pid = proc.pid;
    this.exit = new Promise((resolve) =>
      proc.once('exit', (code, signal) => {
        this.exited = { code, signal };
        resolve(code);
      }),
    );
    const keep = (b: Buffer) => {
      this.chunks.push(b.toString());
      if (this.chunks.length > keepChunks) this.chunks.shift();
    };
    proc.stdout?.on('data', keep);
    proc.stderr?.on('data', keep);
  }

  /** The captured output, with a header; the last `maxChars` characters only if given. */
  logTail(maxChars = Number.POSITIVE_INFINITY): string {
    const out = this.chunks.join('');
    return `--- ${this.name} (pid ${this.pid})\n${out.length > maxChars ? out.slice(-maxChars) : out}`;
  }

  /** Resolves with the exit code (null after a signal) once the child has exited. */
  wait(): Promise<number | null> {
    return this.exit;
  }

  /** Sends `signal` (default SIGKILL: no cleanup, in-flight jobs stall) and resolves with the exit code. */
  kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<number | null> {
    this.stopping = true;
    if (!this.exited) this.proc.kill(signal);
    return this.exit;
  }

  /** SIGTERM (the service finishes in-flight work and exits), then SIGKILL after `graceMs`. */
  async stop(graceMs = 30_000): Promise<void> {
    this.stopping = true;
    if (this.exited) return;
    const force = setTimeout(() => this.proc.kill('SIGKILL'), graceMs);
    this.proc.kill('SIGTERM');
    await this.exit;
    clearTimeout(force);
  }
}

/** Starts `embedcam <service>` children and stops them. */
export class ServiceLauncher {
  readonly children: ServiceChild[] = [];

  constructor(private readonly opts: ServiceLauncherOptions) {}

  start(service: ServiceName, o: StartOptions = {}): ServiceChild {
    return this.startScript(o.label ?? service, EMBEDCAM_BIN, { ...o, args: [service, ...(o.args ?? [])] });
  }

  /** Another Node entry point with the same plumbing (the benchmark's worker child). */
  startScript(label: string, script: string, o: Omit<StartOptions, 'label'> = {}): ServiceChild {
    const output = this.opts.output === 'inherit' ? 'inherit' : 'pipe';
    const proc = spawn(process.execPath, [script, ...(o.args ?? [])], {
      env: { ...this.opts.env, ...o.env },
      // The IPC channel closes when this process dies, however it dies: runService stops then.
      stdio: ['ignore', output, output, 'ipc'],
    });
    proc.on('error', (err) =>
      this.opts.log?.error({ service: label, err: err.message }, `${label}: ${err.message}`),
    );
    const child = new ServiceChild(label, proc, this.opts.keepChunks ?? 200);
    proc.once('exit', (code, signal) => {
      if (!child.stopping && code !== 0)
        this.opts.log?.error({ service: label, code, signal }, `${label} exited (${code ?? signal})`);
    });
    this.children.push(child);
    this.opts.log?.info({ service: label, pid: child.pid }, `started ${label}`);
    return child;
  }

  get size(): number {
    return this.children.length;
  }

  logs(maxCharsEach?: number): string {
    return this.children.map((c) => c.logTail(maxCharsEach)).join('\n');
  }

  /** Stops every child (see ServiceChild.stop). */
  async stopAll(graceMs?: number): Promise<void> {
    await Promise.all(this.children.map((c) => c.stop(graceMs)));
  }

  /** Synchronous last resort (e.g. in a process 'exit' handler): SIGKILL every child still running. */
  killAllNow(): void {
    for (const c of this.children) if (!c.exited) c.proc.kill('SIGKILL');
  }
}
