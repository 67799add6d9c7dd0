// @embedcam/storage: one ObjectStore interface over local directories and S3 APIs,
// opened from a URI, plus readUri for reading single inputs.

export {
  ForbiddenInputError,
  InputTooLargeError,
  InvalidKeyError,
  NotFoundError,
  StorageError,
  UnsupportedUriError,
} from './errors.js';
export {
  DEFAULT_MAX_READ_BYTES,
  InputConfinement,
  type InputRoot,
  isPrivateAddress,
  parseInputRoot,
  redactUserinfo,
} from './input-confinement.js';
export { datasetRootOf, InputReader, type InputReaderOptions } from './input-reader.js';
export { LocalStore, type LocalStoreOptions, TEMP_FILE_PREFIX } from './local-store.js';
export type { ObjectBody, ObjectStore, PutOptions } from './object-store.js';
export {
  ACCEPTED_STORE_URIS,
  type OpenStoreOptions,
  openStore,
  type ParsedStorageUri,
  type ParseOptions,
  parseStorageUri,
} from './open-store.js';
export { ACCEPTED_READ_URIS, type ReadUriOptions, readUri } from './read-uri.js';
export {
  createS3Client,
  resolveS3ClientConfig,
  type S3ConnectionOptions,
  type S3Credentials,
} from './s3-client.js';
export {
  ensureBucket,
  MULTIPART_PART_SIZE,
  MULTIPART_THRESHOLD,
  S3Store,
  type S3StoreConfig,
} from './s3-store.js';
export { validateBucketName } from './validate-bucket.js';
export { MAX_KEY_BYTES, validateKey, validatePrefix } from './validate-key.js';
