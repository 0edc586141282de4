/**
 * Resource files as text: a BPMN, DMN or form file read from disk or received over HTTP is decoded by its XML
 * declaration's encoding (`<?xml version="1.0" encoding="ISO-8859-1"?>`), so accented names of Latin-1 or
 * windows-1252 files come out right. No declaration, UTF-8 (with or without BOM), US-ASCII: UTF-8.
 */
import { InsureflowError } from '../errors.ts';

const UTF8 = new Set(['utf-8', 'utf8', 'us-ascii', 'ascii']);
const LATIN1 = new Set(['iso-8859-1', 'iso8859-1', 'iso_8859-1', 'latin1', 'latin-1', 'l1']);
const WINDOWS_1252 = new Set(['windows-1252', 'cp1252', 'x-cp1252']);

/**
 * windows-1252's bytes 0x80-0x9F (undefined ones as U+FFFD); all others are their Latin-1 code points. Our own
 * table: Node's TextDecoder('windows-1252') without full ICU decodes these bytes wrongly (Node 20 drops them).
 */
const CP1252_HIGH = '€\uFFFD‚ƒ„…†‡ˆ‰Š‹Œ\uFFFDŽ\uFFFD\uFFFD‘’“”•–—˜™š›œ\uFFFDžŸ';

function decodeWindows1252(buf: Buffer): string {
  let out = '';
  const latin = buf.toString('latin1');
  for (let i = 0; i < latin.length; i++) {
    const c = latin.charCodeAt(i);
    out += c >= 0x80 && c <= 0x9f ? CP1252_HIGH[c - 0x80] : latin[i];
  }
  return out;
}

/** The encoding an XML declaration at the start of `bytes` names, lower case; null without one. */
export function declaredEncoding(bytes: Uint8Array): string | null {
  const head = Buffer.from(bytes.subarray(0, 256)).toString('latin1').replace(/^\xEF\xBB\xBF/, '');
  return /^\s*<\?xml\b[^>]*?\sencoding\s*=\s*["']([^"']*)["']/.exec(head)?.[1]?.trim().toLowerCase() ?? null;
}

/**
 * Decodes one resource file's bytes by its XML declaration.
 * @param resource the resource's name, for the error
 * @throws InsureflowError RESOURCE_ENCODING_UNSUPPORTED (422) for an encoding other than UTF-8, US-ASCII,
 *   ISO-8859-1 and windows-1252, naming the resource
 */
export function decodeResource(bytes: Uint8Array, resource: string): string {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const enc = declaredEncoding(buf);
  if (enc === null || UTF8.has(enc)) return buf.toString('utf8');
  if (LATIN1.has(enc)) return buf.toString('latin1');
  if (WINDOWS_1252.has(enc)) return decodeWindows1252(buf);
  throw new InsureflowError(
    'RESOURCE_ENCODING_UNSUPPORTED',
    `${resource} declares the encoding ${JSON.stringify(enc)}, which is not supported: save it as UTF-8, ISO-8859-1 or windows-1252`,
    { resource, encoding: enc },
  );
}
