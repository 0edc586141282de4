/**
 * What an expression string in a diagram is, decided once for deploy-time validation
 * (src/definitions/validate.ts, src/definitions/bindings.ts) and for run time (src/engine/expressions.ts), so the
 * two cannot disagree. Pure: it classifies, it does not evaluate.
 *
 * The forms the engine runs:
 * - `=body` (Camunda 8): FEEL;
 * - `${body}` or `#{body}` wrapping the whole value (Camunda 7): JUEL, run by src/engine/juel.ts (a safe subset:
 *   no method calls, no beans); with a FEEL language override (`language: 'feel'`, a FEEL `expressionLanguage` or
 *   `language` URI, see `ExpressionOptions`) the body is FEEL instead, and so is a value written without any wrapper;
 * - `${environment.services.name}`: a bpmn-engine service reference (a handler binding);
 * - anything without `${`, `#{` or a leading `=`: a literal value.
 *
 * Everything else is `unsupported`, refused at deployment with what to write instead, because no evaluator here
 * would give it the meaning its author expects:
 * - a template that mixes text and expressions, or several expressions (`${a} and ${b}`, `Claim ${no}`): JUEL
 *   composite expressions are not run here, FEEL has no templates;
 * - a bpmn-engine path (`${environment.variables.x}`, `${content.x}`, `${properties.x}`, `${fields.x}`): process
 *   variables are in scope by name (`${x}`, `=x`);
 * - an expression whose `{` is never closed.
 */

export type ExpressionSyntax = '=' | '${' | '#{';

/**
 * The language of an expression when the diagram says it (the `language` of a formal expression, else the
 * `expressionLanguage` of the definitions, mapped by the caller): `feel` makes `${x}` and an unwrapped value FEEL;
 * `juel` (or none) keeps the default, `=...` FEEL and `${...}` JUEL.
 */
export type ExpressionLanguage = 'feel' | 'juel';

export interface ExpressionOptions {
  language?: ExpressionLanguage | null;
}

export type ParsedExpression =
  /** no expression: the value as written */
  | { kind: 'literal'; text: string }
  /** a FEEL expression; `body` is trimmed and has no `=` / `${ }` wrapper (syntax '' when the language said FEEL) */
  | { kind: 'feel'; body: string; syntax: ExpressionSyntax | '' }
  /** a JUEL expression (Camunda 7), run by src/engine/juel.ts; `body` is trimmed and has no `${ }` wrapper */
  | { kind: 'juel'; body: string; syntax: '${' | '#{' }
  /** `${environment.services.name}` */
  | { kind: 'service'; name: string }
  /** a form the engine does not run: see the module comment */
  | { kind: 'unsupported'; problem: string; suggestion: string | null; conditionSuggestion: string | null };

const ENGINE_ROOT = /^(environment|content|properties|fields)\s*[.[]/;
const SERVICE = /^environment\.services\.([A-Za-z_$][\w$.-]*)$/;

/**
 * Index of the `}` closing the `{` at `open`, skipping string literals ("..." and JUEL's '...', with backslash
 * escapes); -1 when it is never closed.
 */
export function closingBrace(text: string, open: number): number {
  let depth = 0;
  let inString: string | null = null;
  for (let i = open; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === inString) inString = null;
      continue;
    }
    if (c === '"' || c === "'") inString = c;
    else if (c === '{') depth++;
    else if (c === '}') {
      depth--;
      if (depth === 0) return i;
    }
  }
  return -1;
}

type Part = { text: string } | { body: string };

/** Splits a value into text and `${...}` / `#{...}` parts; `{ unclosed }` (a 0-based index) when one is not closed. */
function splitTemplate(value: string): Part[] | { unclosed: number } {
  const parts: Part[] = [];
  let i = 0;
  let text = '';
  while (i < value.length) {
    if ((value[i] === '$' || value[i] === '#') && value[i + 1] === '{') {
      const end = closingBrace(value, i + 1);
      if (end < 0) return { unclosed: i };
      if (text) parts.push({ text });
      text = '';
      parts.push({ body: value.slice(i + 2, end).trim() });
      i = end + 1;
    } else {
      text += value[i++];
    }
  }
  if (text) parts.push({ text });
  return parts;
}

function feelString(text: string): string {
  return `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** `environment.variables.amount > 1` -> `amount > 1`; null when the body uses other engine paths. */
function withoutEnginePaths(body: string): string | null {
  const stripped = body.replace(/\benvironment\.variables\./g, '');
  return /\b(environment|content|properties|fields)\s*[.[]/.test(stripped) ? null : stripped;
}

function enginePath(body: string): ParsedExpression {
  const plain = withoutEnginePaths(body);
  return {
    kind: 'unsupported',
    problem:
      `it reads bpmn-engine's internal path "${body}", which expressions cannot use` +
      (plain === null ? '; refer to process variables by name instead' : ''),
    suggestion: plain === null ? null : `=${plain}`,
    conditionSuggestion: plain === null ? null : `=${plain}`,
  };
}

/**
 * Classifies a raw attribute or element text (see the module comment). Surrounding white space is ignored.
 * Examples: `=a > 1` -> feel `a > 1`; `${a > 1}` -> juel `a > 1` (feel with `{ language: 'feel' }`);
 * `${environment.services.pay}` -> service `pay`; `adjusters` -> literal (feel `adjusters` with a FEEL language);
 * `${a} and ${b}` -> unsupported, suggesting `=a and b` (a condition) or `=string(a) + " and " + string(b)` (a text).
 */
export function parseExpression(raw: string, options: ExpressionOptions = {}): ParsedExpression {
  const text = String(raw ?? '');
  const t = text.trim();
  const feel = options.language === 'feel';
  if (t.startsWith('=')) return { kind: 'feel', body: t.slice(1).trim(), syntax: '=' };
  if (!t.includes('${') && !t.includes('#{')) return feel && t ? { kind: 'feel', body: t, syntax: '' } : { kind: 'literal', text };

  const parts = splitTemplate(t);
  if (!Array.isArray(parts)) {
    return {
      kind: 'unsupported',
      problem: `the "${t.slice(parts.unclosed, parts.unclosed + 2)}" at character ${parts.unclosed + 1} is never closed with "}"`,
      suggestion: null,
      conditionSuggestion: null,
    };
  }
  if (parts.length === 1 && 'body' in parts[0]) {
    const body = parts[0].body;
    const syntax: ExpressionSyntax = t.startsWith('#') ? '#{' : '${';
    const service = SERVICE.exec(body);
    if (service) return { kind: 'service', name: service[1] };
    if (ENGINE_ROOT.test(body)) return enginePath(body);
    return feel ? { kind: 'feel', body, syntax } : { kind: 'juel', body, syntax: syntax as '${' | '#{' };
  }

  // a template: text and expressions mixed, or several expressions in a row
  const bodies = parts.filter((p): p is { body: string } => 'body' in p).map((p) => p.body);
  const usable = bodies.map(withoutEnginePaths);
  if (usable.some((b) => b === null)) {
    return {
      kind: 'unsupported',
      problem: 'it mixes text and expressions (a template) and reads bpmn-engine internal paths; neither is supported',
      suggestion: null,
      conditionSuggestion: null,
    };
  }
  let i = 0;
  const fixed = parts.map((p) => ('body' in p ? { body: usable[i++] as string } : p));
  const wrap = (b: string) => (/^[\w.]+$/.test(b) ? b : `(${b})`);
  const concatenated = fixed.map((p) => ('body' in p ? `string(${p.body})` : feelString(p.text))).join(' + ');
  const unwrapped = fixed.map((p) => ('body' in p ? wrap(p.body) : p.text)).join('').trim();
  return {
    kind: 'unsupported',
    problem: `it mixes text and ${bodies.length > 1 ? `${bodies.length} expressions` : 'an expression'} (a template), which FEEL does not have`,
    suggestion: `=${concatenated}`,
    conditionSuggestion: `=${unwrapped}`,
  };
}

/** The FEEL body of a raw value, or null when it is not a FEEL expression (JUEL, a literal, a service, unsupported). */
export function feelBodyOf(raw: unknown, options: ExpressionOptions = {}): string | null {
  if (typeof raw !== 'string') return null;
  const e = parseExpression(raw, options);
  return e.kind === 'feel' ? e.body : null;
}

/** The expression a raw value evaluates as (FEEL or JUEL), or null for a literal, a service reference or an unsupported form. */
export function evaluableOf(raw: unknown, options: ExpressionOptions = {}): Extract<ParsedExpression, { kind: 'feel' | 'juel' }> | null {
  if (typeof raw !== 'string') return null;
  const e = parseExpression(raw, options);
  return e.kind === 'feel' || e.kind === 'juel' ? e : null;
}

/** True when the value is, or contains, an expression (`=...`, `${...}`, `#{...}`) rather than a plain value. */
export function isExpressionValue(raw: string, options: ExpressionOptions = {}): boolean {
  return parseExpression(raw, options).kind !== 'literal';
}
