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

/** Adds the checks to `app` (before the routes are registered, and before the authentication hook). */
export function registerInputSafety(app: FastifyInstance): void {
  app.addHook('onRequest', async (req: FastifyRequest) => {
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
