// What `import('embedcam')` gives a script (the published package's entry): the client, the
// configuration and the errors a script may want to tell apart.
export {
  type BuildProxiesOptions,
  EmbedcamClient,
  RunStalledError,
  type SubmitResult,
  type SubmitRunOptions,
} from '@embedcam/client';
export { type Config, ConfigError, embedcamHome, loadConfig } from '@embedcam/config';
export { StoreMismatchError } from '@embedcam/queues';
