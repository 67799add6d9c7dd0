// Starting one compute thread: the worker_threads Worker on thread-entry.mjs, and its first message.
import { Worker } from 'node:worker_threads';
import { ComputeThreadError } from './errors.js';
import { type ComputeInit, type FromThread, fromWireError, type ModelInfo } from './protocol.js';

const THREAD_ENTRY = new URL('./thread-entry.mjs', import.meta.url);

/** Only what a thread loads (pool options such as thread counts and callbacks stay here). */
export function initOf(o: ComputeInit): ComputeInit {
  return {
    model: o.model,
    engine: o.engine,
    tfBackend: o.tfBackend,
    gradient: o.gradient,
    crashOnItemId: o.crashOnItemId,
  };
}

export function spawnThread(init: ComputeInit): Worker {
  // stdout/stderr of the thread go to the process's (tf.js prints its backend choice there).
  return new Worker(THREAD_ENTRY, { workerData: initOf(init), name: 'embedcam-compute' });
}

/** Waits for a new thread's ready/initError message (or its early exit). */
export function whenReady(worker: Worker): Promise<ModelInfo> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: FromThread) => {
      if (m.type === 'ready') done(() => resolve(m.info));
      else if (m.type === 'initError') done(() => reject(fromWireError(m.error, 'Compute thread start-up')));
    };
    const onError = (err: Error) => done(() => reject(err));
    const onExit = (code: number) =>
      done(() => reject(new ComputeThreadError(`Compute thread exited with code ${code} while starting.`)));
    const done = (f: () => void) => {
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
      f();
    };
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.on('exit', onExit);
  });
}
