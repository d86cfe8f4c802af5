import { brotliCompressSync, brotliDecompressSync, constants } from 'node:zlib';

/** Marks a stored outcome that is Brotli-compressed and base64-encoded; plain outcomes are JSON and start with `{`. */
const COMPRESSED_PREFIX = 'br:';
/**
 * Brotli quality 4: about as fast as gzip's default on JSON (a few ms for 300 KB) and a quarter smaller;
 * quality 6 saves about 30 % more for 50 % more CPU on every completion (BENCHMARKS.md).
 */
const QUALITY = 4;

/** The size of a text in UTF-8 bytes, as a store keeps it. */
export function utf8Bytes(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

/**
 * Compresses an outcome's text when it is at least `aboveBytes` long and compression pays for the base64 it
 * needs (stores keep text). Anything else is returned as it is, so small outcomes cost nothing.
 */
export function compressOutcomeText(text: string, aboveBytes: number): string {
  const bytes = utf8Bytes(text);
  if (bytes < aboveBytes) return text;
  const packed = brotliCompressSync(Buffer.from(text, 'utf8'), {
    params: { [constants.BROTLI_PARAM_QUALITY]: QUALITY, [constants.BROTLI_PARAM_SIZE_HINT]: bytes },
  });
  const stored = COMPRESSED_PREFIX + packed.toString('base64');
  return stored.length < bytes ? stored : text;
}

/** Reads an outcome's text back, compressed or not. */
export function decompressOutcomeText(stored: string): string {
  if (!stored.startsWith(COMPRESSED_PREFIX)) return stored;
  return brotliDecompressSync(Buffer.from(stored.slice(COMPRESSED_PREFIX.length), 'base64')).toString('utf8');
}
