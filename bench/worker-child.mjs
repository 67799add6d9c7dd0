// Entry of a benchmark worker process (as services/cli/bin/embedcam.js: tsx's loader, then the TS).
import { register } from 'tsx/esm/api';

register();
await import('./worker-child.ts');
