/**
 * The JUEL subset Camunda 7 diagrams use (`${!approved}`, `${status == 'ok'}`, `${amount > 1000 && category ne
 * 'travel'}`, `${empty documents}`), run by our own small interpreter: a tokenizer, a recursive-descent parser to
 * an AST and an evaluator. Pure: no eval, no Function, no reflection, no I/O. The same parser serves the deploy-time
 * check (src/definitions/validate.ts through `juelProblem`) and run time (src/engine/expressions.ts through
 * `evaluateJuel`), so both agree on what an expression means.
 *
 * The subset (Unified EL, JSR 245 / Jakarta EL 3.0, chapter 1):
 * - identifiers (process variables), property paths `a.b`, `a['b']`, `a[0]`;
 * - literals: 'text' and "text" (escapes \' \" \\), integers, decimals (1.5, 1e3), true, false, null;
 * - `empty`, `!`/`not`, unary `-`, `* / div % mod`, `+ -`, `< > <= >= lt gt le ge`, `== != eq ne`, `&&`/`and`,
 *   `||`/`or`, `c ? a : b`, parentheses; with the usual EL precedence (in that order, tightest first).
 *
 * Semantics, as the EL specification says (section 1.7-1.10, coercions 1.23):
 * - `+ - *` on two integers (or integer texts) give an integer; with a decimal (or a text containing . e E) a
 *   decimal; `/` and `div` always divide as decimals (`7 / 2` is 3.5); `%` on integers by 0 is an error; null
 *   counts as 0; a text that is not a number, a boolean, a list or a map is an error ("+" does not join texts).
 * - `== !=`: null equals only null; with a number on either side both are compared as numbers (`'1' == 1` is
 *   true; `'abc' == 1` is an error); else with a boolean both as booleans (`'true' == true`); else with a text
 *   both as texts (`5 == '5'` is handled by the number rule); lists and maps compare by content.
 * - `< > <= >=`: a null side gives false (`null <= null` is true); with a number both are numbers; else with a text
 *   both are texts compared by UTF-16 code units (as Java's compareTo); booleans compare false < true.
 * - `! && || ?:` take booleans: null and '' are false, a text is true only when it is "true" (any case); a number,
 *   list or map is an error. `&&` and `||` stop at the first operand that decides.
 * - `empty x` is true for null, '', [] and {} (and false for anything else).
 * - An identifier that is not a variable is an error ("Cannot resolve identifier 'x'", Camunda 7's
 *   PropertyNotFoundException); a variable set to null is null. A property of null is null; a missing key of a map
 *   is null; a list index out of range is null; a property of a text, number or boolean is an error.
 *
 * Safety: properties are read only from plain objects (maps) and arrays (lists), and only own data properties,
 * never from the prototype chain: `a.constructor`, `a['__proto__']`, `a.prototype` are null for a map, an error
 * for anything else; no value that is a function can be produced. Method calls (`a.b()`), functions (`f()`, `ns:f()`)
 * and bean lookups are parsed so that they can be refused with what to write instead (`juelProblem`), and never run.
 */

/** A JUEL expression that cannot be parsed or evaluated; `at` is the 0-based offset in the body, when known. */
export class JuelError extends Error {
  constructor(
    message: string,
    readonly at: number | null = null,
  ) {
    super(message);
    this.name = 'JuelError';
  }
}

/* ------------------------------------------------------------------------------------------------------------ */
/* tokens                                                                                                         */
/* ------------------------------------------------------------------------------------------------------------ */

type Token =
  | { t: 'num'; value: number; decimal: boolean; at: number; text: string }
  | { t: 'str'; value: string; at: number; text: string }
  | { t: 'id'; value: string; at: number; text: string }
  | { t: 'op'; value: string; at: number; text: string }
  | { t: 'end'; at: number; text: string };

const KEYWORDS = new Set(['and', 'or', 'not', 'eq', 'ne', 'lt', 'gt', 'le', 'ge', 'true', 'false', 'null', 'instanceof', 'empty', 'div', 'mod']);
// longest first; `=`, `{`, `}`, `;`, `->`, `+=` are tokens so that the parser can say why they are not JUEL here
const OPERATORS = ['&&', '||', '==', '!=', '<=', '>=', '->', '+=', '(', ')', '[', ']', '.', ',', '?', ':', '!', '<', '>', '+', '-', '*', '/', '%', '=', '{', '}', ';'];

function tokenize(src: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i];
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const start = i;
    if (/[0-9]/.test(c) || (c === '.' && /[0-9]/.test(src[i + 1] ?? ''))) {
      const m = /^(?:[0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?/.exec(src.slice(i))!;
      const text = m[0];
      i += text.length;
      tokens.push({ t: 'num', value: Number(text), decimal: /[.eE]/.test(text), at: start, text });
      continue;
    }
    if (c === "'" || c === '"') {
      let value = '';
      i++;
      for (;;) {
        if (i >= src.length) throw new JuelError(`the text starting at character ${start + 1} is never closed with ${c}`, start);
        const d = src[i];
        if (d === '\\' && (src[i + 1] === c || src[i + 1] === '\\')) {
          value += src[i + 1];
          i += 2;
        } else if (d === c) {
          i++;
          break;
        } else {
          value += d;
          i++;
        }
      }
      tokens.push({ t: 'str', value, at: start, text: src.slice(start, i) });
      continue;
    }
    if (/[A-Za-z_$]/.test(c)) {
      const m = /^[A-Za-z_$][A-Za-z0-9_$]*/.exec(src.slice(i))!;
      i += m[0].length;
      tokens.push({ t: 'id', value: m[0], at: start, text: m[0] });
      continue;
    }
    const op = OPERATORS.find((o) => src.startsWith(o, i));
    if (!op) throw new JuelError(`unexpected "${c}" at character ${i + 1}`, i);
    i += op.length;
    tokens.push({ t: 'op', value: op, at: start, text: op });
  }
  tokens.push({ t: 'end', at: src.length, text: '' });
  return tokens;
}

/* ------------------------------------------------------------------------------------------------------------ */
/* syntax tree                                                                                                    */
/* ------------------------------------------------------------------------------------------------------------ */

export type BinaryOperator = '+' | '-' | '*' | '/' | '%' | '<' | '>' | '<=' | '>=' | '==' | '!=' | '&&' | '||';

export type JuelNode =
  | { type: 'literal'; value: string | number | boolean | null; at: number }
  | { type: 'identifier'; name: string; at: number }
  /** `a.b` (computed false, property a string literal) or `a[expr]` */
  | { type: 'member'; object: JuelNode; property: JuelNode; computed: boolean; at: number }
  /** a method call `a.b(...)` (callee a member) or a function `f(...)` / `ns:f(...)` (callee an identifier): never run */
  | { type: 'call'; callee: JuelNode; args: JuelNode[]; at: number }
  | { type: 'unary'; op: '-' | '!' | 'empty'; operand: JuelNode; at: number }
  | { type: 'binary'; op: BinaryOperator; left: JuelNode; right: JuelNode; at: number }
  | { type: 'conditional'; test: JuelNode; then: JuelNode; otherwise: JuelNode; at: number };

const WORD_OPERATORS: Record<string, BinaryOperator> = { and: '&&', or: '||', eq: '==', ne: '!=', lt: '<', gt: '>', le: '<=', ge: '>=', div: '/', mod: '%' };

class Parser {
  private i = 0;
  constructor(
    private readonly src: string,
    private readonly tokens: Token[],
  ) {}

  private get tok(): Token {
    return this.tokens[this.i];
  }

  /** The current token is the operator (symbol or word form) `values` names: consume and return it. */
  private accept(...values: string[]): string | null {
    const t = this.tok;
    if ((t.t === 'op' || t.t === 'id') && values.includes(t.value)) {
      this.i++;
      return t.value;
    }
    return null;
  }

  private fail(t: Token = this.tok): never {
    if (t.t === 'end') throw new JuelError('it ends too early', t.at);
    const previous = this.tokens[this.tokens.indexOf(t) - 1];
    const why = HINTS[t.text] ?? (previous ? HINTS[previous.text] : undefined) ?? '';
    throw new JuelError(`unexpected "${t.text}" at character ${t.at + 1}${why ? `; ${why}` : ''}`, t.at);
  }

  private expect(value: string): void {
    if (!this.accept(value)) this.fail();
  }

  parse(): JuelNode {
    if (this.tokens.length === 1) throw new JuelError('the expression is empty', 0);
    const node = this.expression();
    if (this.tok.t !== 'end') this.fail();
    return node;
  }

  private expression(): JuelNode {
    const test = this.or();
    const at = this.tok.at;
    if (!this.accept('?')) return test;
    const then = this.expression();
    this.expect(':');
    const otherwise = this.expression();
    return { type: 'conditional', test, then, otherwise, at };
  }

  private binaryLevel(next: () => JuelNode, ops: string[]): JuelNode {
    let left = next();
    for (;;) {
      const at = this.tok.at;
      const op = this.accept(...ops);
      if (!op) return left;
      const right = next();
      left = { type: 'binary', op: (WORD_OPERATORS[op] ?? op) as BinaryOperator, left, right, at };
    }
  }

  private or = (): JuelNode => this.binaryLevel(this.and, ['||', 'or']);
  private and = (): JuelNode => this.binaryLevel(this.equality, ['&&', 'and']);
  private equality = (): JuelNode => this.binaryLevel(this.relational, ['==', '!=', 'eq', 'ne']);
  private relational = (): JuelNode => this.binaryLevel(this.additive, ['<', '>', '<=', '>=', 'lt', 'gt', 'le', 'ge']);
  private additive = (): JuelNode => this.binaryLevel(this.multiplicative, ['+', '-']);
  private multiplicative = (): JuelNode => this.binaryLevel(this.unary, ['*', '/', 'div', '%', 'mod']);

  private unary = (): JuelNode => {
    const at = this.tok.at;
    const op = this.accept('-', '!', 'not', 'empty');
    if (!op) return this.postfix();
    const operand = this.unary();
    return { type: 'unary', op: op === 'not' ? '!' : (op as '-' | '!' | 'empty'), operand, at };
  };

  private postfix(): JuelNode {
    let node = this.primary();
    for (;;) {
      const at = this.tok.at;
      if (this.accept('.')) {
        const name = this.tok;
        if (name.t !== 'id') this.fail();
        this.i++;
        node = { type: 'member', object: node, property: { type: 'literal', value: name.value, at: name.at }, computed: false, at };
      } else if (this.accept('[')) {
        const property = this.expression();
        this.expect(']');
        node = { type: 'member', object: node, property, computed: true, at };
      } else if (this.tok.t === 'op' && this.tok.value === '(' && (node.type === 'member' || node.type === 'identifier')) {
        this.i++;
        node = { type: 'call', callee: node, args: this.args(), at };
      } else {
        return node;
      }
    }
  }

  private args(): JuelNode[] {
    const args: JuelNode[] = [];
    if (this.accept(')')) return args;
    for (;;) {
      args.push(this.expression());
      if (this.accept(')')) return args;
      this.expect(',');
    }
  }

  private primary(): JuelNode {
    const t = this.tok;
    switch (t.t) {
      case 'num':
        this.i++;
        return { type: 'literal', value: t.value, at: t.at };
      case 'str':
        this.i++;
        return { type: 'literal', value: t.value, at: t.at };
      case 'id': {
        if (t.value === 'true' || t.value === 'false') {
          this.i++;
          return { type: 'literal', value: t.value === 'true', at: t.at };
        }
        if (t.value === 'null') {
          this.i++;
          return { type: 'literal', value: null, at: t.at };
        }
        if (KEYWORDS.has(t.value)) this.fail();
        this.i++;
        // a function with a namespace prefix, `ns:f(...)`
        const next = this.tokens[this.i];
        const after = this.tokens[this.i + 1];
        const paren = this.tokens[this.i + 2];
        if (next.t === 'op' && next.value === ':' && after?.t === 'id' && paren?.t === 'op' && paren.value === '(' && next.at === t.at + t.text.length) {
          this.i += 3;
          return { type: 'call', callee: { type: 'identifier', name: `${t.value}:${after.value}`, at: t.at }, args: this.args(), at: t.at };
        }
        return { type: 'identifier', name: t.value, at: t.at };
      }
      case 'op':
        if (t.value === '(') {
          this.i++;
          const inner = this.expression();
          this.expect(')');
          return inner;
        }
        return this.fail();
      default:
        return this.fail();
    }
  }
}

/** Why a token that JUEL-the-subset does not take is there, most often FEEL written inside `${ }`. */
const HINTS: Record<string, string> = {
  '=': 'JUEL compares with == (or eq); "=" is FEEL\'s comparison',
  in: '"in" is FEEL, not JUEL',
  then: '"if ... then ... else" is FEEL; JUEL writes condition ? a : b',
  if: '"if ... then ... else" is FEEL; JUEL writes condition ? a : b',
  '[': 'list literals are not part of the JUEL subset run here',
  '{': 'map and set literals are not part of the JUEL subset run here',
  ';': 'several expressions in a row are not part of the JUEL subset run here',
  '->': 'lambda expressions are not part of the JUEL subset run here',
  '+=': 'text concatenation (+=) is not part of the JUEL subset run here',
  instanceof: '"instanceof" is not part of the JUEL subset run here',
};

const PARSED = new Map<string, JuelNode>();
const PARSED_MAX = 2000;

/**
 * The syntax tree of a JUEL body (without its `${ }`).
 * @throws JuelError saying where and why it does not parse
 */
export function parseJuel(body: string): JuelNode {
  const cached = PARSED.get(body);
  if (cached) return cached;
  const node = new Parser(body, tokenize(body)).parse();
  if (PARSED.size >= PARSED_MAX) PARSED.delete(PARSED.keys().next().value as string);
  PARSED.set(body, node);
  return node;
}

/* ------------------------------------------------------------------------------------------------------------ */
/* values and coercions (EL 1.23)                                                                                 */
/* ------------------------------------------------------------------------------------------------------------ */

const own = (o: object, key: string) => Object.prototype.hasOwnProperty.call(o, key);

function isMap(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

function describe(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'string') return `the text ${JSON.stringify(v)}`;
  if (typeof v === 'number') return `the number ${v}`;
  if (typeof v === 'boolean') return `the boolean ${v}`;
  if (isMap(v)) return 'a map';
  return 'an object';
}

/** An integer (EL's Long) vs a decimal (Double): a number is an integer when it has no fraction. */
const isDecimal = (v: unknown) => (typeof v === 'number' && !Number.isInteger(v)) || (typeof v === 'string' && /[.eE]/.test(v));
const INTEGER_TEXT = /^[+-]?[0-9]+$/;
const DECIMAL_TEXT = /^\s*[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?[dDfF]?\s*$/;

function toInteger(v: unknown, at: number): number {
  if (v === null || v === undefined || v === '') return 0;
  if (typeof v === 'number') return Math.trunc(v);
  if (typeof v === 'string' && INTEGER_TEXT.test(v)) return Number(v);
  throw new JuelError(`cannot use ${describe(v)} as an integer (at character ${at + 1})`, at);
}

function toDecimal(v: unknown, at: number): number {
  if (v === null || v === undefined || v === '') return 0;
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && DECIMAL_TEXT.test(v)) return Number(v.trim().replace(/[dDfF]$/, ''));
  throw new JuelError(`cannot use ${describe(v)} as a number (at character ${at + 1})`, at);
}

function toText(v: unknown, at: number): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  throw new JuelError(`cannot use ${describe(v)} as a text (at character ${at + 1})`, at);
}

function toBoolean(v: unknown, at: number): boolean {
  if (v === null || v === undefined || v === '') return false;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string') return v.toLowerCase() === 'true';
  throw new JuelError(`cannot use ${describe(v)} as a boolean (at character ${at + 1})`, at);
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  if (isMap(a) && isMap(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => own(b, k) && deepEqual(a[k], b[k]));
  }
  return false;
}

function equals(a: unknown, b: unknown, at: number): boolean {
  if (a === undefined) a = null;
  if (b === undefined) b = null;
  if (a === b) return true;
  if (a === null || b === null) return false;
  if (typeof a === 'number' || typeof b === 'number') {
    if (isDecimal(a) || isDecimal(b)) return toDecimal(a, at) === toDecimal(b, at);
    return toInteger(a, at) === toInteger(b, at);
  }
  if (typeof a === 'boolean' || typeof b === 'boolean') return toBoolean(a, at) === toBoolean(b, at);
  if (typeof a === 'string' || typeof b === 'string') return toText(a, at) === toText(b, at);
  return deepEqual(a, b);
}

/** -1, 0 or 1; null when a side is null (every relational operator is then false, see `relational`). */
function compare(a: unknown, b: unknown, at: number): number | null {
  if (a === undefined) a = null;
  if (b === undefined) b = null;
  if (a === null || b === null) return null;
  let x: number | string | boolean;
  let y: number | string | boolean;
  if (typeof a === 'number' || typeof b === 'number') {
    const decimal = isDecimal(a) || isDecimal(b);
    x = decimal ? toDecimal(a, at) : toInteger(a, at);
    y = decimal ? toDecimal(b, at) : toInteger(b, at);
  } else if (typeof a === 'string' || typeof b === 'string') {
    x = toText(a, at);
    y = toText(b, at);
  } else if (typeof a === 'boolean' && typeof b === 'boolean') {
    x = Number(a);
    y = Number(b);
  } else {
    throw new JuelError(`cannot compare ${describe(a)} with ${describe(b)} (at character ${at + 1})`, at);
  }
  return x < y ? -1 : x > y ? 1 : 0;
}

function relational(op: '<' | '>' | '<=' | '>=', a: unknown, b: unknown, at: number): boolean {
  if ((a ?? null) === null && (b ?? null) === null) return op === '<=' || op === '>=';
  const c = compare(a, b, at);
  if (c === null) return false;
  return op === '<' ? c < 0 : op === '>' ? c > 0 : op === '<=' ? c <= 0 : c >= 0;
}

function arithmetic(op: '+' | '-' | '*' | '/' | '%', a: unknown, b: unknown, at: number): number {
  if ((a ?? null) === null && (b ?? null) === null) return 0;
  if (op === '/') return toDecimal(a, at) / toDecimal(b, at);
  if (isDecimal(a) || isDecimal(b)) {
    const x = toDecimal(a, at);
    const y = toDecimal(b, at);
    return op === '+' ? x + y : op === '-' ? x - y : op === '*' ? x * y : x % y;
  }
  const x = toInteger(a, at);
  const y = toInteger(b, at);
  if (op === '%' && y === 0) throw new JuelError(`division by zero (at character ${at + 1})`, at);
  // `+ 0` turns the -0 of an integer remainder into 0
  return op === '+' ? x + y : op === '-' ? x - y : op === '*' ? x * y : (x % y) + 0;
}

function isEmpty(v: unknown): boolean {
  if (v === null || v === undefined || v === '') return true;
  if (Array.isArray(v)) return v.length === 0;
  if (isMap(v)) return Object.keys(v).length === 0;
  return false;
}

/** The value of `object[property]` (see the module comment: own data properties of maps and lists only). */
function member(object: unknown, property: unknown, at: number): unknown {
  if (object === null || object === undefined || property === null || property === undefined) return null;
  if (Array.isArray(object)) {
    if (typeof property === 'boolean' || (typeof property === 'string' && !INTEGER_TEXT.test(property.trim()))) {
      throw new JuelError(`a list has no property ${JSON.stringify(String(property))}; use an index such as [0] (at character ${at + 1})`, at);
    }
    const index = toInteger(typeof property === 'string' ? property.trim() : property, at);
    return index >= 0 && index < object.length ? (object[index] ?? null) : null;
  }
  if (isMap(object)) {
    const key = typeof property === 'string' ? property : typeof property === 'number' || typeof property === 'boolean' ? String(property) : null;
    if (key === null) throw new JuelError(`cannot use ${describe(property)} as the key of a map (at character ${at + 1})`, at);
    if (!own(object, key)) return null;
    const d = Object.getOwnPropertyDescriptor(object, key);
    const v = d && 'value' in d ? d.value : null;
    return typeof v === 'function' ? null : (v ?? null);
  }
  throw new JuelError(`cannot read the property ${JSON.stringify(String(property))} of ${describe(object)} (at character ${at + 1})`, at);
}

/* ------------------------------------------------------------------------------------------------------------ */
/* evaluation                                                                                                     */
/* ------------------------------------------------------------------------------------------------------------ */

function evaluateNode(node: JuelNode, vars: Record<string, unknown>): unknown {
  switch (node.type) {
    case 'literal':
      return node.value;
    case 'identifier': {
      if (!own(vars, node.name)) throw new JuelError(`Cannot resolve identifier '${node.name}': no variable of that name is set`, node.at);
      // the variables object is the engine's own (its properties may be lazy copies, getters the engine defines)
      const v = vars[node.name];
      return typeof v === 'function' ? null : (v ?? null);
    }
    case 'member': {
      const object = evaluateNode(node.object, vars);
      return member(object, evaluateNode(node.property, vars), node.at);
    }
    case 'call':
      throw new JuelError(`${callText(node)}(...) is a method call or a function, which does not run here`, node.at);
    case 'unary': {
      const v = evaluateNode(node.operand, vars);
      if (node.op === 'empty') return isEmpty(v);
      if (node.op === '!') return !toBoolean(v, node.at);
      if (v === null || v === undefined) return 0;
      const n = isDecimal(v) ? toDecimal(v, node.at) : toInteger(v, node.at);
      return n === 0 ? 0 : -n;
    }
    case 'binary': {
      const { op, at } = node;
      if (op === '&&') return toBoolean(evaluateNode(node.left, vars), at) ? toBoolean(evaluateNode(node.right, vars), at) : false;
      if (op === '||') return toBoolean(evaluateNode(node.left, vars), at) ? true : toBoolean(evaluateNode(node.right, vars), at);
      const a = evaluateNode(node.left, vars);
      const b = evaluateNode(node.right, vars);
      switch (op) {
        case '==':
          return equals(a, b, at);
        case '!=':
          return !equals(a, b, at);
        case '<':
        case '>':
        case '<=':
        case '>=':
          return relational(op, a, b, at);
        default:
          return arithmetic(op, a, b, at);
      }
    }
    case 'conditional':
      return toBoolean(evaluateNode(node.test, vars), node.at) ? evaluateNode(node.then, vars) : evaluateNode(node.otherwise, vars);
  }
}

/**
 * Evaluates a JUEL body (without its `${ }`) over `variables` (process variables by name; only the object's own
 * properties count; the object is the caller's, so its own getters run, while values inside it are read as data only). Returns plain values: a text, number, boolean, null, or a list or map taken from a variable.
 * @throws JuelError when it does not parse, names a variable that is not set, calls a method or cannot coerce a
 *   value (the message says which and where)
 */
export function evaluateJuel(body: string, variables: Record<string, unknown>): unknown {
  return evaluateNode(parseJuel(body), variables ?? {});
}

/* ------------------------------------------------------------------------------------------------------------ */
/* deploy-time check and what to write instead                                                                    */
/* ------------------------------------------------------------------------------------------------------------ */

function callText(node: Extract<JuelNode, { type: 'call' }>): string {
  return pathText(node.callee) ?? 'the call';
}

/** `a.b.c` for a plain path, null otherwise. */
function pathText(node: JuelNode): string | null {
  if (node.type === 'identifier') return node.name;
  if (node.type === 'member' && !node.computed && node.property.type === 'literal') {
    const base = pathText(node.object);
    return base === null ? null : `${base}.${String(node.property.value)}`;
  }
  return null;
}

function walk(node: JuelNode, visit: (n: JuelNode) => void): void {
  visit(node);
  switch (node.type) {
    case 'member':
      walk(node.object, visit);
      walk(node.property, visit);
      break;
    case 'call':
      walk(node.callee, visit);
      node.args.forEach((a) => walk(a, visit));
      break;
    case 'unary':
      walk(node.operand, visit);
      break;
    case 'binary':
      walk(node.left, visit);
      walk(node.right, visit);
      break;
    case 'conditional':
      walk(node.test, visit);
      walk(node.then, visit);
      walk(node.otherwise, visit);
      break;
  }
}

const FEEL_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const feelString = (s: string) => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
const juelString = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

/** Binding strength of a node in printed form (higher binds tighter), for parentheses. */
function strength(node: JuelNode): number {
  switch (node.type) {
    case 'conditional':
      return 1;
    case 'binary':
      return { '||': 2, '&&': 3, '==': 4, '!=': 4, '<': 5, '>': 5, '<=': 5, '>=': 5, '+': 6, '-': 6, '*': 7, '/': 7, '%': 7 }[node.op];
    case 'unary':
      return 8;
    default:
      return 9;
  }
}

type Dialect = 'feel' | 'juel';

/** `x.compareTo(y)` as [x, y]. */
function compareToOf(node: JuelNode): [JuelNode, JuelNode] | null {
  if (node.type !== 'call' || node.args.length !== 1 || node.callee.type !== 'member' || node.callee.computed) return null;
  return node.callee.property.type === 'literal' && node.callee.property.value === 'compareTo' ? [node.callee.object, node.args[0]] : null;
}

/**
 * The expression printed in FEEL or JUEL with the method calls that have an equivalent rewritten
 * (`execution.getVariable('x')` -> `x`, `a.compareTo(b) > 0` -> `a > b`, `a.equals(b)` -> `a == b`, FEEL text
 * functions for `toUpperCase()` and the like); null when a call has none (a bean's method).
 */
function print(node: JuelNode, d: Dialect): string | null {
  const wrap = (child: JuelNode, min: number): string | null => {
    const s = print(child, d);
    return s === null ? null : strength(child) < min ? `(${s})` : s;
  };
  switch (node.type) {
    case 'literal':
      if (typeof node.value === 'string') return d === 'feel' ? feelString(node.value) : juelString(node.value);
      return String(node.value);
    case 'identifier':
      return node.name;
    case 'member': {
      const object = wrap(node.object, 9);
      if (object === null) return null;
      const p = node.property;
      if (p.type === 'literal' && typeof p.value === 'string' && FEEL_NAME.test(p.value)) return `${object}.${p.value}`;
      if (d === 'juel') {
        const inner = print(p, d);
        return inner === null ? null : `${object}[${inner}]`;
      }
      if (p.type === 'literal' && typeof p.value === 'number' && Number.isInteger(p.value)) return `${object}[${p.value + 1}]`;
      if (p.type === 'literal' && typeof p.value === 'string') return `get value(${object}, ${feelString(p.value)})`;
      return null;
    }
    case 'call':
      return printCall(node, d);
    case 'unary': {
      const operand = wrap(node.operand, 8);
      if (operand === null) return null;
      if (node.op === '-') return `-${operand}`;
      if (node.op === '!') return d === 'feel' ? `not(${print(node.operand, d)})` : `!${operand}`; // operand printed: not null
      return d === 'feel' ? null : `empty ${operand}`;
    }
    case 'binary': {
      const cmp = compareToOf(node.left);
      if (cmp && node.right.type === 'literal' && node.right.value === 0 && !['+', '-', '*', '/', '%', '&&', '||'].includes(node.op)) {
        return print({ type: 'binary', op: node.op, left: cmp[0], right: cmp[1], at: node.at }, d);
      }
      const s = strength(node);
      const left = wrap(node.left, s);
      const right = wrap(node.right, s + 1);
      if (left === null || right === null) return null;
      if (d === 'feel') {
        if (node.op === '%') return `modulo(${print(node.left, d)}, ${print(node.right, d)})`; // both printed: not null
        const op = { '==': '=', '&&': 'and', '||': 'or' }[node.op as string] ?? node.op;
        return `${left} ${op} ${right}`;
      }
      return `${left} ${node.op} ${right}`;
    }
    case 'conditional': {
      const test = print(node.test, d);
      const then = print(node.then, d);
      const otherwise = print(node.otherwise, d);
      if (test === null || then === null || otherwise === null) return null;
      return d === 'feel' ? `if ${test} then ${then} else ${otherwise}` : `${wrap(node.test, 2)} ? ${then} : ${otherwise}`;
    }
  }
}

const FEEL_TEXT_FUNCTIONS: Record<string, string> = {
  toUpperCase: 'upper case',
  toLowerCase: 'lower case',
  length: 'string length',
  size: 'count',
  startsWith: 'starts with',
  endsWith: 'ends with',
};

function printCall(node: Extract<JuelNode, { type: 'call' }>, d: Dialect): string | null {
  const callee = node.callee;
  if (callee.type !== 'member' || callee.computed || callee.property.type !== 'literal') return null;
  const method = String(callee.property.value);
  const target = pathText(callee.object);
  const arg0 = node.args[0];
  // execution.getVariable('x'), execution.getVariableLocal('x'), task.getVariable('x'): the variable by name
  if ((target === 'execution' || target === 'task') && /^getVariable(Local)?$/.test(method) && node.args.length === 1 && arg0.type === 'literal' && typeof arg0.value === 'string' && FEEL_NAME.test(arg0.value)) {
    return arg0.value;
  }
  if (target === 'execution' || target === 'task') return null;
  const object = print(callee.object, d);
  const args = node.args.map((a) => print(a, d));
  if (object === null || args.some((a) => a === null)) return null;
  const wrapped = strength(callee.object) < 9 ? `(${object})` : object;
  if (method === 'equals' && args.length === 1) return `${wrapped} ${d === 'feel' ? '=' : '=='} ${args[0]}`;
  if (d === 'juel') return null;
  const fn = FEEL_TEXT_FUNCTIONS[method];
  if (!fn) return null;
  const arity = method === 'startsWith' || method === 'endsWith' ? 1 : 0;
  return args.length === arity ? `${fn}(${[object, ...args].join(', ')})` : null;
}

/** What is wrong with a JUEL body at deploy time, and what to write instead (FEEL with `=`, or JUEL). */
export interface JuelProblem {
  /** true when the body does not parse as JUEL (then `problem` says where), false when it parses but cannot run */
  syntax: boolean;
  /** a sentence fragment: why it cannot run */
  problem: string;
  /** the FEEL expression to write instead (with its `=`), when one is known */
  feel: string | null;
  /** the JUEL expression to write instead (with its `${ }`), when one is known */
  juel: string | null;
}

export interface JuelCheckOptions {
  /** property paths of the `execution` object the caller provides (e.g. `processBusinessKey` for a business key) */
  execution?: string[];
}

/**
 * Why a JUEL body (without its `${ }`) cannot run here, or null when it can for some values of its variables:
 * it does not parse; it calls a method or function (`execution.getVariable('x')`, `myBean.check()`,
 * `amount.compareTo(5)`, `count(x)`), or looks up the engine's `execution`/`task` beans; it adds or compares a text
 * literal that is not a number (`x + 's'`: JUEL's + only adds numbers). The caller adds the element and, when the
 * body is valid FEEL, the `=` form.
 */
export function juelProblem(body: string, options: JuelCheckOptions = {}): JuelProblem | null {
  let tree: JuelNode;
  try {
    tree = parseJuel(body);
  } catch (err) {
    return { syntax: true, problem: (err as Error).message, feel: null, juel: null };
  }
  const calls: Extract<JuelNode, { type: 'call' }>[] = [];
  const beans: string[] = [];
  const texts: string[] = [];
  walk(tree, (n) => {
    if (n.type === 'call') calls.push(n);
    if (n.type === 'binary' && ['+', '-', '*', '/', '%'].includes(n.op)) {
      for (const side of [n.left, n.right]) {
        if (side.type === 'literal' && typeof side.value === 'string' && !DECIMAL_TEXT.test(side.value)) texts.push(side.value);
      }
    }
  });
  const beanPaths = (n: JuelNode): void => {
    // the outermost plain path rooted at execution/task that is not a call's callee
    if (n.type === 'call') {
      if (n.callee.type === 'member') beanPaths(n.callee.object);
      n.args.forEach(beanPaths);
      return;
    }
    const path = pathText(n);
    if (path !== null) {
      const [root, ...rest] = path.split('.');
      if ((root === 'execution' || root === 'task') && !(root === 'execution' && options.execution?.includes(rest.join('.')))) beans.push(path);
      return;
    }
    if (n.type === 'member') {
      beanPaths(n.object);
      beanPaths(n.property);
    } else if (n.type === 'unary') beanPaths(n.operand);
    else if (n.type === 'binary') {
      beanPaths(n.left);
      beanPaths(n.right);
    } else if (n.type === 'conditional') {
      beanPaths(n.test);
      beanPaths(n.then);
      beanPaths(n.otherwise);
    }
  };
  beanPaths(tree);

  const feel = print(tree, 'feel');
  const juel = print(tree, 'juel');
  if (calls.length) {
    const what = callText(calls[0]);
    const isVariable = /^(execution|task)\.getVariable(Local)?$/.test(what);
    const isBean = calls[0].callee.type === 'member';
    return {
      syntax: false,
      problem:
        `it calls ${isBean ? 'the method' : 'the function'} ${what}(...): JUEL method calls, functions and bean lookups do not run here` +
        (isVariable ? ' (for execution.getVariable("x") write the variable name x)' : '') +
        (feel === null ? '; write the FEEL expression instead (e.g. =amount > 5 for amount.compareTo(5) > 0), or move the logic into a handler (a service task) or a decision' : ''),
      feel: feel === null ? null : `=${feel}`,
      juel: juel === null ? null : `\${${juel}}`,
    };
  }
  if (beans.length) {
    return {
      syntax: false,
      problem: `it reads ${beans[0]}, a property of the engine's ${beans[0].split('.')[0]} object, which expressions here cannot see; pass the value in a process variable and refer to it by name`,
      feel: null,
      juel: null,
    };
  }
  if (texts.length) {
    return {
      syntax: false,
      problem: `it uses the text ${JSON.stringify(texts[0])} in arithmetic: JUEL's + - * / only compute with numbers (they do not join texts)`,
      feel: feel === null ? null : `=${feel}`,
      juel: null,
    };
  }
  return null;
}

/** The variables a JUEL body reads (root identifiers, in order of appearance); [] when it does not parse. */
export function juelVariables(body: string): string[] {
  let tree: JuelNode;
  try {
    tree = parseJuel(body);
  } catch {
    return [];
  }
  const names: string[] = [];
  walk(tree, (n) => {
    if (n.type === 'identifier' && !names.includes(n.name)) names.push(n.name);
  });
  return names;
}
