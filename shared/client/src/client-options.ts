import type { ProxyScheme } from '@embedcam/cam';

export interface DatasetSelection {
  /** CUB directory or JSONL manifest (read by the client; image URIs must be readable by workers). */
  dataset: string;
  split?: string;
  classes?: string;
  limit?: number;
  perClass?: number;
}

export interface BuildProxiesOptions extends DatasetSelection {
  model?: string;
  engine?: 'tfjs' | 'onnx';
  scheme: ProxyScheme;
  /** Rebuild even if the proxy set exists in storage. */
  force?: boolean;
  onProgress?: (p: { shardsDone: number; shards: number }) => void;
  timeoutMs?: number;
}

export interface SubmitRunOptions extends DatasetSelection {
  runId?: string;
  model?: string;
  engine?: 'tfjs' | 'onnx';
  /** A proxy scheme (built from `refSplit` of the same dataset and classes) or an existing proxy id. */
  proxies?: ProxyScheme;
  proxyId?: string;
  refSplit?: string;
  target?: 'gt' | 'predicted' | number;
  resolution?: 'eval224' | 'original';
  overlays?: boolean;
  tau?: number;
  /**
   * Redo the images whose stored result is a failure (a new attempt; they are counted again).
   * Without it, stored failures count as done.
   */
  retryFailed?: boolean;
  onProxyProgress?: BuildProxiesOptions['onProgress'];
}

export interface SubmitResult {
  runId: string;
  proxyId: string;
  total: number;
  /** Jobs added now (0 when re-submitting a finished run). */
  enqueued: number;
  alreadyDone: number;
  /** Results in the store that Redis did not count (it lost the run): announced again, not recomputed. */
  recounted: number;
  /** Stored failures enqueued again (`retryFailed`); they are part of `enqueued`. */
  retried: number;
  /** The run's attempt (part of its job ids); absent for runs from before attempts. */
  attempt?: string;
}
