import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';

/** The MD5 of a file, as lower-case hex (streamed). */
export async function md5File(file: string): Promise<string> {
  const h = createHash('md5');
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}
