// Loads a TypeScript file the way services/cli/bin/embedcam.js does (tsx registered through its API).
import { register } from 'tsx/esm/api';

register();
await import(process.argv[2]);
