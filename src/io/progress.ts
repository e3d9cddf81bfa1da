/** Progress reported while a checkpoint is downloaded and loaded (bytes). */
export type ProgressEvent = DownloadProgress | LoadProgress;

export interface DownloadProgress {
  stage: 'download';
  file: string;
  loaded: number;
  total: number;
}

export interface LoadProgress {
  stage: 'load';
  file: string;
  /** Bytes of weights read so far, over all shards. */
  loaded: number;
  total: number;
}

export type OnProgress = (p: ProgressEvent) => void;
