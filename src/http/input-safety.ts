/**
 * Input that cannot hurt, checked once for every route: every string a request brings in (the body at any
 * depth, object keys included, the query, the path parameters, the Authorization header) must be valid Unicode
 * without U+0000, every number finite, and the nesting at most MAX_VALUE_DEPTH deep (src/engine/text-values.ts).
 * Anything else is a 400 VALIDATION_FAILED naming the field, before the route's schema or handler sees it: a
 * lone surrogate stored on SQLite comes back as U+FFFD (and its history chain would verify as tampered), a NUL
 * is refused by PostgreSQL text columns (a 500), and a deep value would overflow the stack of the recursive
 * walks behind the route. Multipart parts are streamed to the route and checked there (checkPartText).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { InsureflowError } from '../errors.ts';
import { findTextProblem, textProblem } from '../engine/text-values.ts';

type Place = 'body' | 'querystring' | 'params' | 'headers';

function refuse(where: Place, field: string, message: string): InsureflowError {
  return new InsureflowError('VALIDATION_FAILED', `request ${where} is invalid: ${field} ${message}`, [{ in: where, field, message, keyword: 'text' }]);
}

/** Throws VALIDATION_FAILED for the first bad string, number or nesting of `value`, found under `where`. */
export function checkRequestValue(where: Place, value: unknown, root = ''): void {
  const problem = findTextProblem(value, root);
  if (problem) throw refuse(where, problem.field, problem.message);
}

/**
 * A multipart part's text (its field name, file name, or a field's value / a file's content as UTF-8).
 * @throws InsureflowError VALIDATION_FAILED naming the part
 */
export function checkPartText(what: string, text: string): void {
  const why = textProblem(text);
  if (why) throw refuse('body', what, why);
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The problem of a request URL whose percent-encoded bytes are not UTF-8 (`%ED%A0%80`, an encoded lone
 * surrogate, or `%FF`): decoders turn them into U+FFFD silently, so they are refused before anything decodes them.
 */
export function urlEncodingProblem(url: string): string | null {
  if (!url.includes('%')) return null;
  const bytes: number[] = [];
  for (let i = 0; i < url.length; i++) {
    const hex = url[i] === '%' ? url.slice(i + 1, i + 3) : '';
    if (/^[0-9A-Fa-f]{2}$/.test(hex)) {
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else bytes.push(...Buffer.from(url[i], 'utf8'));
  }
  try {
    strictUtf8.decode(Uint8Array.from(bytes));
    return null;
  } catch {
    return 'the URL\'s percent-encoded bytes are not valid UTF-8';
  }
}

/**
 * A JSON body must be valid UTF-8: invalid bytes (`\xff`, an encoded lone surrogate) would be replaced by U+FFFD
 * and stored as if the client had sent it. Replaces Fastify's JSON parser with one that decodes strictly, then
 * parses with Fastify's own (prototype-poisoning checks kept).
 * @throws (through done) InsureflowError VALIDATION_FAILED
 */
function registerStrictJson(app: FastifyInstance): void {
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (req, body, done) => {
    let text: string;
    try {
      text = strictUtf8.decode(body as Buffer);
    } catch {
      done(refuse('body', '(root)', 'is not valid UTF-8'), undefined);
      return;
    }
    parseJson(req, text, done);
  });
}

/** Adds the checks to `app` (before the routes are registered, and before the authentication hook). */
export function registerInputSafety(app: FastifyInstance): void {
  registerStrictJson(app);
  app.addHook('onRequest', async (req: FastifyRequest) => {
    const urlProblem = urlEncodingProblem(req.url);
    if (urlProblem) throw new InsureflowError('BAD_REQUEST', urlProblem, [{ in: 'url', message: urlProblem }]);
    // the only header read as text: the bearer token (Node itself refuses NUL and control characters in headers)
    const auth = req.headers.authorization;
    if (auth !== undefined) checkRequestValue('headers', auth, 'authorization');
  });
  app.addHook('preValidation', async (req: FastifyRequest) => {
    checkRequestValue('params', req.params);
    checkRequestValue('querystring', req.query);
    if (req.body !== undefined && req.body !== null) checkRequestValue('body', req.body);
  });
}
