/** Bounding box in pixels, top-left origin: [x, y, width, height]. */
export type Box = [x: number, y: number, width: number, height: number];

/** One image of a dataset, whatever format it was read from. */
export interface DatasetItem {
  /** Unique within the dataset (CUB: the numeric image id as a string). */
  id: string;
  /** Absolute local path, or an `s3://` / `http(s)://` URI kept as given. */
  uri: string;
  /** Class id (CUB: 1-based, as in classes.txt). */
  label: number;
  className?: string;
  bbox?: Box;
  /** Free-form split name; CUB uses 'train' / 'test'. */
  split?: string;
}

export interface Dataset {
  /** Short name for logs (directory or manifest base name). */
  name: string;
  /** Absolute path the dataset was read from. */
  source: string;
  items: DatasetItem[];
  /** Class id → class name. */
  classes: Map<number, string>;
}
