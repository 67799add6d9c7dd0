// Plain-JavaScript entry of a compute thread. Loader hooks registered in the main thread with
// tsx's register() are not inherited by worker threads, so this registers tsx here and then loads
// the TypeScript module. Works under the embedcam bin (tsx/esm/api), `tsx file.ts` and vitest.
import { register } from 'tsx/esm/api';

register();
await import('./compute-thread.ts');
