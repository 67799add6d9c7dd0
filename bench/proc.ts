// Per-process figures from Linux's /proc: CPU time (whole process, and its main thread apart from
// its other threads) and peak resident memory. Elsewhere they read as null.
import { readFileSync } from 'node:fs';

/** USER_HZ: the unit of utime/stime in /proc/<pid>/stat (100 on every Linux in use). */
const TICKS_PER_SECOND = 100;

function statCpuSeconds(path: string): number | null {
  try {
    const text = readFileSync(path, 'utf8');
    // Fields after the command name (which may hold spaces) start after the last ')'.
    const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return (Number(rest[11]) + Number(rest[12])) / TICKS_PER_SECOND; // utime, stime
  } catch {
    return null;
  }
}

export interface CpuSample {
  /** CPU seconds of the whole process (all threads). */
  total: number;
  /** CPU seconds of its main thread (the event loop). */
  main: number;
}

export function cpuOf(pid: number): CpuSample | null {
  const total = statCpuSeconds(`/proc/${pid}/stat`);
  if (total === null) return null;
  return { total, main: statCpuSeconds(`/proc/${pid}/task/${pid}/stat`) ?? Number.NaN };
}

/** Peak resident set size (VmHWM) in MiB. */
export function peakRssMiB(pid: number): number | null {
  try {
    const m = /VmHWM:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

export function cpuDelta(a: CpuSample | null, b: CpuSample | null): CpuSample | null {
  return a && b ? { total: b.total - a.total, main: b.main - a.main } : null;
}
