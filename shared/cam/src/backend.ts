import * as tf from '@tensorflow/tfjs';

export type TfBackendName = 'tensorflow' | 'wasm' | 'cpu';

export interface BackendChoice {
  backend: TfBackendName;
  /** Why this backend: which candidates were tried and why they were skipped. */
  tried: string[];
}

let chosen: Promise<BackendChoice> | undefined;

/**
 * Picks the TF.js backend once per process: native (tfjs-node-gpu / tfjs-node, when installed)
 * → WebAssembly → pure JS. `preference` (or EMBEDCAM_TF_BACKEND) forces one and fails loudly
 * when it is unavailable, rather than silently running 100× slower.
 */
export function initBackend(preference?: string): Promise<BackendChoice> {
  chosen ??= pick(preference ?? process.env.EMBEDCAM_TF_BACKEND);
  return chosen;
}

async function pick(preference: string | undefined): Promise<BackendChoice> {
  const order: TfBackendName[] = ['tensorflow', 'wasm', 'cpu'];
  if (preference && preference !== 'auto' && !order.includes(preference as TfBackendName)) {
    throw new Error(
      `Unknown TF.js backend "${preference}" (EMBEDCAM_TF_BACKEND or --tf-backend): use tensorflow, wasm, cpu or auto.`,
    );
  }
  const candidates = preference && preference !== 'auto' ? [preference as TfBackendName] : order;
  const tried: string[] = [];
  for (const name of candidates) {
    const why = await tryBackend(name);
    if (why === null) return { backend: name, tried };
    tried.push(`${name}: ${why}`);
  }
  throw new Error(`No TF.js backend could start (${tried.join('; ')}).`);
}

async function tryBackend(name: TfBackendName): Promise<string | null> {
  try {
    if (name === 'tensorflow') {
      // Optional native bindings: present only where libtensorflow could be installed.
      const loaded =
        (await importOptional('@tensorflow/tfjs-node-gpu')) ||
        (await importOptional('@tensorflow/tfjs-node'));
      if (!loaded) return 'neither @tensorflow/tfjs-node-gpu nor @tensorflow/tfjs-node is installed';
    } else if (name === 'wasm') {
      await import('@tensorflow/tfjs-backend-wasm');
    }
    if (!(await tf.setBackend(name))) return 'setBackend failed';
    await tf.ready();
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}

async function importOptional(specifier: string): Promise<boolean> {
  try {
    await import(specifier);
    return true;
  } catch {
    return false;
  }
}
