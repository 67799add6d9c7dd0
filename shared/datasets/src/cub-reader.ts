import path from 'node:path';
import { DatasetError, type LineRef } from './dataset-error.js';
import { type IdTableRow, type IdTableSpec, parseIdTable } from './id-table.js';
import { parseIntegerField, parseNumberField } from './parse-fields.js';
import { readNumberedLines } from './read-lines.js';
import type { Box, Dataset, DatasetItem } from './types.js';

/** The five official CUB-200-2011 metadata files, all required. */
export const CUB_FILES = [
  'images.txt',
  'image_class_labels.txt',
  'bounding_boxes.txt',
  'train_test_split.txt',
  'classes.txt',
] as const;

const imagesSpec: IdTableSpec<string> = {
  format: '<image_id> <image_name>',
  parse: ([name], at) => checkRelativeImagePath(name, at),
};
const labelsSpec: IdTableSpec<number> = {
  format: '<image_id> <class_id>',
  parse: ([classId], at) => parseIntegerField(at, 'class_id', classId),
};
const boxesSpec: IdTableSpec<Box> = {
  format: '<image_id> <x> <y> <width> <height>',
  parse: (fields, at) => parseBox(fields, at),
};
const splitSpec: IdTableSpec<'train' | 'test'> = {
  format: '<image_id> <is_training_image>',
  parse: ([flag], at) => {
    if (flag === '1') return 'train';
    if (flag === '0') return 'test';
    throw new DatasetError(
      at.file,
      at.line,
      `is_training_image "${flag}" is not 0 or 1`,
      'write 1 (train) or 0 (test)',
    );
  },
};
const classesSpec: IdTableSpec<string> = {
  format: '<class_id> <class_name>',
  parse: ([name]) => name,
};

/**
 * Reads a CUB-200-2011 directory: the five metadata files in `dir`, images under `dir/images/`.
 * Items come in images.txt order. Image files are not stat'ed here (11,788 stats on a network disk
 * is slow and the image loader reports a missing file anyway).
 * className is the classes.txt name as written, e.g. "001.Black_footed_Albatross".
 */
export async function readCub(dir: string): Promise<Dataset> {
  const root = path.resolve(dir);
  const files = CUB_FILES.map((name) => path.join(root, name));
  const missingFix = `a CUB-200-2011 directory must contain ${CUB_FILES.join(', ')}`;
  // Read concurrently but report the first failure in CUB_FILES order, so errors are deterministic.
  const settled = await Promise.allSettled(files.map((f) => readNumberedLines(f, missingFix)));
  const texts = settled.map((s) => {
    if (s.status === 'rejected') throw s.reason;
    return s.value;
  });
  const [imagesFile, labelsFile, boxesFile, splitFile, classesFile] = files;
  const images = parseIdTable(imagesFile, texts[0], imagesSpec);
  const labels = parseIdTable(labelsFile, texts[1], labelsSpec);
  const boxes = parseIdTable(boxesFile, texts[2], boxesSpec);
  const splits = parseIdTable(splitFile, texts[3], splitSpec);
  const classRows = parseIdTable(classesFile, texts[4], classesSpec);

  const classes = new Map<number, string>();
  for (const [id, row] of classRows) classes.set(id, row.value);

  const items: DatasetItem[] = [];
  for (const [id, image] of images) {
    const at: LineRef = { file: imagesFile, line: image.line };
    const label = lookup(labels, id, at, labelsFile, labelsSpec.format);
    const className = classes.get(label.value);
    if (className === undefined) {
      throw new DatasetError(
        labelsFile,
        label.line,
        `class_id ${label.value} of image ${id} is not in classes.txt`,
        `add "${label.value} <class_name>" to ${classesFile} or fix the class id`,
      );
    }
    items.push({
      id: String(id),
      uri: path.join(root, 'images', image.value),
      label: label.value,
      className,
      bbox: lookup(boxes, id, at, boxesFile, boxesSpec.format).value,
      split: lookup(splits, id, at, splitFile, splitSpec.format).value,
    });
  }
  // The reverse direction: rows for images that images.txt does not list are almost always a
  // mismatched file (e.g. from another copy of the dataset), so refuse rather than drop silently.
  for (const [file, table] of [
    [labelsFile, labels],
    [boxesFile, boxes],
    [splitFile, splits],
  ] as const) {
    for (const [id, row] of table) {
      if (!images.has(id)) {
        throw new DatasetError(
          file,
          row.line,
          `image_id ${id} is not listed in images.txt`,
          `remove the line or add image ${id} to ${imagesFile}`,
        );
      }
    }
  }
  return { name: path.basename(root), source: root, items, classes };
}

function lookup<T>(
  table: Map<number, IdTableRow<T>>,
  id: number,
  at: LineRef,
  file: string,
  format: string,
): IdTableRow<T> {
  const row = table.get(id);
  if (!row) {
    throw new DatasetError(
      at.file,
      at.line,
      `image_id ${id} has no line in ${path.basename(file)}`,
      `add a line "${format}" for image ${id} to ${file}`,
    );
  }
  return row;
}

function parseBox(fields: string[], at: LineRef): Box {
  const [x, y, width, height] = (['x', 'y', 'width', 'height'] as const).map((name, i) =>
    parseNumberField(at, name, fields[i]),
  );
  if (width <= 0 || height <= 0) {
    throw new DatasetError(
      at.file,
      at.line,
      `bounding box ${width}x${height} is empty`,
      'width and height must be greater than 0',
    );
  }
  return [x, y, width, height];
}

/** Image names must stay inside images/: a "../" or absolute name would read arbitrary files. */
function checkRelativeImagePath(name: string, at: LineRef): string {
  const normalized = path.posix.normalize(name.replaceAll('\\', '/'));
  if (path.posix.isAbsolute(normalized) || normalized === '..' || normalized.startsWith('../')) {
    throw new DatasetError(
      at.file,
      at.line,
      `image_name "${name}" points outside images/`,
      'use a path relative to the images/ directory, e.g. 001.Black_footed_Albatross/x.jpg',
    );
  }
  return normalized;
}
