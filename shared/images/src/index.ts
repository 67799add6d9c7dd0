export { jet, jetIndex } from './colormap.js';
export {
  type DecodedImage,
  type DecodeOptions,
  decodeImage,
  type ImageSize,
  readImageSize,
} from './decode.js';
export { type Box, drawBoxOutline, type Rgb } from './draw-box.js';
export { decodeHeatmapPng, encodeHeatmapPng, type HeatmapImage, quantiseUnit } from './encode.js';
export { type GridOptions, renderGrid } from './grid.js';
export { ImageError, type ImageErrorCode, isImageError } from './image-error.js';
export { DEFAULT_MAX_PIXELS, type OpenImageOptions } from './open-image.js';
export { GT_BOX_COLOR, type OverlayOptions, renderExplainOverlay, renderOverlay } from './overlay.js';
export { type PreparedImage, type PrepareOptions, prepareForModel } from './prepare.js';
export { type ResizeFilter, resizeBilinear } from './resize-bilinear.js';
export { type SniffResult, type SupportedFormat, sniffFormat } from './sniff-format.js';
export {
  type ChannelOrder,
  type PixelPreprocess,
  type TensorLayout,
  toFloatTensorData,
} from './tensor-data.js';
