/**
 * The values the engine accepts from outside (variables, business keys, message and signal names, form data):
 * JSON values whose every string and object key is valid Unicode without U+0000, whose numbers are finite and
 * whose nesting is bounded. These are exactly the values that survive storage unchanged on SQLite (a lone
 * surrogate would be stored as U+FFFD) and PostgreSQL (text refuses U+0000) and that the canonical JSON of the
 * history (src/persistence/canonical-json.ts) writes faithfully (a non-finite number would be hashed as null),
 * so a chain written from them verifies. The HTTP layer checks every request with the same walk
 * (src/http/input-safety.ts); the engine's entry points check again for embedders.
 */
import { InsureflowError } from '../errors.ts';

/** Deepest nesting of objects and arrays accepted in a value (the value itself is depth 1). */
export const MAX_VALUE_DEPTH = 100;

/** One reason a value is refused: where (a dotted path under the caller's root) and why. */
export interface TextProblem {
  field: string;
  message: string;
}

// a high surrogate not followed by a low one, a low one not preceded by a high one, or U+0000
const BAD_CHAR = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]|\0/;
const BAD_CHARS = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]|\0/g;

/** Why a string is not acceptable text, or null when it is. */
export function textProblem(s: string): string | null {
  const m = BAD_CHAR.exec(s);
  if (!m) return null;
  const cp = m[0].charCodeAt(0);
  const at = `at character ${m.index}`;
  return cp === 0
    ? `contains U+0000 (NUL) ${at}; text must be valid Unicode without NUL`
    : `contains a lone surrogate (U+${cp.toString(16).toUpperCase()}) ${at}; text must be valid Unicode (well-formed UTF-16) without NUL`;
}

/** A path segment (an object key) made printable: every lone surrogate and NUL written as \uXXXX. */
export function printableKey(key: string): string {
  return key.replace(BAD_CHARS, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * The first problem of a value (depth first, iterative: no stack overflow on deep input), or null.
 * `root` prefixes the reported field (e.g. "variables"); nested fields are dot-joined, array items by index.
 */
export function findTextProblem(value: unknown, root = '', maxDepth = MAX_VALUE_DEPTH): TextProblem | null {
  const stack: { v: unknown; path: string; depth: number }[] = [{ v: value, path: root, depth: 1 }];
  const at = (path: string) => path || '(root)';
  const join = (path: string, seg: string) => (path ? `${path}.${seg}` : seg);
  while (stack.length) {
    const { v, path, depth } = stack.pop()!;
    if (typeof v === 'string') {
      const why = textProblem(v);
      if (why) return { field: at(path), message: why };
    } else if (typeof v === 'number') {
      if (!Number.isFinite(v)) return { field: at(path), message: `is ${v}; numbers must be finite` };
    } else if (typeof v === 'bigint') {
      return { field: at(path), message: 'is a bigint; numbers must be JSON numbers' };
    } else if (v !== null && typeof v === 'object') {
      if (depth > maxDepth) return { field: at(path), message: `is nested deeper than ${maxDepth} levels` };
      if (Array.isArray(v)) {
        for (let i = v.length - 1; i >= 0; i--) stack.push({ v: v[i], path: join(path, String(i)), depth: depth + 1 });
      } else {
        const keys = Object.keys(v);
        for (let i = keys.length - 1; i >= 0; i--) {
          const k = keys[i];
          const why = textProblem(k);
          if (why) return { field: join(path, printableKey(k)), message: `has a key that ${why}` };
          stack.push({ v: (v as Record<string, unknown>)[k], path: join(path, k), depth: depth + 1 });
        }
      }
    }
  }
  return null;
}

/**
 * Checks the named inputs of an engine operation, e.g. `assertTextValues('start', { businessKey, variables })`.
 * Absent inputs (undefined, null) pass. An input named `variables` may not have a key __proto__.
 * @throws InsureflowError VALIDATION_FAILED naming the field (`details: [{ field, message }]`)
 */
export function assertTextValues(operation: string, inputs: Record<string, unknown>): void {
  for (const [name, value] of Object.entries(inputs)) {
    // a variable named __proto__ would not survive the process engine's copies of its variables (an assignment
    // to it sets a prototype): refused by name (over HTTP the JSON parser already refuses the key)
    if (name === 'variables' && value !== null && typeof value === 'object' && Object.hasOwn(value, '__proto__')) {
      const message = 'may not be named __proto__';
      throw new InsureflowError('VALIDATION_FAILED', `${operation}: variables.__proto__ ${message}`, [{ field: 'variables.__proto__', message, keyword: 'text' }]);
    }
    const problem = findTextProblem(value, name);
    if (problem) {
      throw new InsureflowError('VALIDATION_FAILED', `${operation}: ${problem.field} ${problem.message}`, [{ field: problem.field, message: problem.message, keyword: 'text' }]);
    }
  }
}
