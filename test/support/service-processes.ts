import type { ChildProcess } from 'node:child_process';
import { type ServiceChild, ServiceLauncher, type ServiceName } from '@embedcam/cli';

export type Service = ServiceName;

/** Service processes started through the real CLI, as an operator would (`embedcam worker`, …). */
export class ServiceProcesses {
  private readonly launcher: ServiceLauncher;

  constructor(env: NodeJS.ProcessEnv) {
    this.launcher = new ServiceLauncher({ env });
  }

  get procs(): readonly ServiceChild[] {
    return this.launcher.children;
  }

  start(name: Service): ChildProcess {
    return this.launcher.start(name).proc;
  }

  /** `kill -9`: no cleanup, in-flight jobs stall. */
  kill(proc: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): Promise<number | null> {
    const child = this.procs.find((c) => c.proc === proc);
    if (!child) throw new Error(`pid ${proc.pid} was not started here`);
    return child.kill(signal);
  }

  logs(): string {
    return this.launcher.logs();
  }

  stopAll(): Promise<void> {
    return this.launcher.stopAll();
  }
}
