export { JobFailure } from './failures.js';
export {
  type HeatmapWorker,
  type StartWorkerOptions,
  startWorker,
  type WorkerStats,
} from './heatmap-worker.js';
