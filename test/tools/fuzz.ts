/**
 * The HTTP fuzzer (`npm run fuzz [-- --requests 10000 --seed 1]`): starts the real server in this process
 * (src/server.ts `serve`, on a socket, with the shipped processes/ deployed, the demo data and one user per role),
 * takes EVERY route from Fastify's route table (app.printRoutes; their schemas from the OpenAPI document when they
 * have one), and sends N seeded malformed requests over raw sockets: wrong types, missing and extra fields, huge
 * and empty strings, lone surrogates, NUL, deep nesting, invalid JSON, wrong and broken content types, malformed
 * multipart, bad ids (NUL, invalid percent-encoding, too long), real ids harvested from earlier answers, random
 * tokens. Then it shuts the server down while a few more requests arrive (503 is fine there, and only there).
 *
 * Prints the count per status code and every response >= 500 (method, url, body, response); exits 1 if there is
 * one. Database: a fresh SQLite file, or with DATABASE_URL=postgres://... a fresh PostgreSQL database next to the
 * one named (dropped afterwards). Deterministic request generation (seeded PRNG), requests one at a time.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { randomBytes } from 'node:crypto';
import knexFactory from 'knex';
import type { FastifyInstance } from 'fastify';
import { serve, type RunningServer } from '../../src/server.ts';
import { dialectOf } from '../../src/persistence/dialect.ts';
import { seedDemo } from '../../src/processes/demo.ts';
import type { Config } from '../../src/config.ts';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface FuzzOptions {
  /** number of malformed requests (default 10,000) */
  requests?: number;
  /** PRNG seed (default 1) */
  seed?: number;
  /** a postgres:// URL: a fresh database is created next to it; anything else (default): a fresh SQLite file */
  databaseUrl?: string;
  /** progress lines (default: none) */
  log?: (line: string) => void;
  /** server log level (default silent; `error` shows the stack of each 500) */
  logLevel?: Config['logLevel'];
}

export interface FuzzRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string;
}

export interface FuzzFailure {
  request: FuzzRequest;
  /** status code, or `no response` / `timeout` */
  status: number | string;
  response: string;
}

export interface FuzzReport {
  /** the routes fuzzed, `METHOD /path` */
  routes: string[];
  /** responses per status code (and `no response`) during the run */
  counts: Record<string, number>;
  /** responses per status code while the server shut down */
  shutdown: Record<string, number>;
  /** every response >= 500 (503 during shutdown excepted), every request without an answer */
  failures: FuzzFailure[];
}

// ------------------------------------------------------------------------------------------------ randomness

/** mulberry32: small, fast, seeded. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  return {
    next,
    int,
    chance: (p: number) => next() < p,
    pick: <T>(xs: readonly T[]): T => xs[int(xs.length)],
    hex: (n: number) => Array.from({ length: n }, () => '0123456789abcdef'[int(16)]).join(''),
  };
}
type Rng = ReturnType<typeof prng>;

const uuidOf = (r: Rng) => `${r.hex(8)}-${r.hex(4)}-4${r.hex(3)}-a${r.hex(3)}-${r.hex(12)}`;

/** Strings that have hurt services before. */
const NASTY_STRINGS = [
  '', ' ', '\u0000', 'a\u0000b', '\ud800', '\udfff', 'x\ud83d', '\udc00x', '\ud83d\ude00', '\u202e\u0644', '\ufeff', '\uffff', '\u{10ffff}',
  '%', '_', '%_%', "' or 1=1 --", '"; drop table users; --', '\\', '\\u0000', '../../etc/passwd', '..', '.', '/', '*',
  '__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'null', 'undefined', 'NaN', 'true', '0', '-1', '1e309',
  '${x}', '=1+1', '=x', '#{x}', '<x/>', '<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>', '{}', '[]',
  'P', 'PT', 'PT0S', 'R/PT0S', 'P999999999Y', 'R-1/PT1S', '2026-13-45', '2026-02-30T25:61:61Z', '9999-12-31T23:59:59Z', '0000-01-01T00:00:00Z',
  'admin', 'adjusters', 'ADJUSTERS', 'adjuster_', 'Bearer', 'null\u0000', 'x'.repeat(101), 'x'.repeat(201), 'é', 'ß', 'İ',
];

function nastyString(r: Rng): string {
  switch (r.int(8)) {
    case 0:
      return 'x'.repeat(r.pick([1000, 10_000, 100_000]));
    case 1: {
      // random code units, surrogates and NUL included
      return Array.from({ length: r.int(20) + 1 }, () => String.fromCharCode(r.chance(0.3) ? r.pick([0, 0xd800, 0xdbff, 0xdc00, 0xdfff, 0xfffe]) : r.int(0x10000))).join('');
    }
    case 2:
      return String.fromCodePoint(...Array.from({ length: r.int(12) + 1 }, () => r.int(0x110000)).filter((c) => c < 0xd800 || c > 0xdfff));
    default:
      return r.pick(NASTY_STRINGS);
  }
}

function deep(r: Rng, depth: number): unknown {
  let v: unknown = r.pick([1, 'x', null, {}]);
  for (let i = 0; i < depth; i++) v = r.chance(0.5) ? [v] : { a: v };
  return v;
}

function nastyValue(r: Rng, pool: string[]): unknown {
  switch (r.int(14)) {
    case 0: return null;
    case 1: return r.pick([true, false]);
    case 2: return r.pick([0, -1, 1.5, -0, 2 ** 53 + 1, 1e308, -1e308, 5e-324, 2147483648, 9007199254740993]);
    case 3: return [];
    case 4: return {};
    case 5: return Array.from({ length: r.int(5) }, () => nastyString(r));
    case 6: return deep(r, r.pick([10, 101, 1000]));
    case 7: return { [nastyString(r)]: nastyString(r) };
    case 8: return pool.length ? r.pick(pool) : 'x';
    case 9: return Array.from({ length: r.pick([1000, 20_000]) }, (_, i) => i);
    case 10: return Object.fromEntries(Array.from({ length: r.pick([50, 2000]) }, (_, i) => [`k${i}`, i]));
    default: return nastyString(r);
  }
}

// ------------------------------------------------------------------------------------------------ schemas

type Schema = Record<string, any>;

interface RouteInfo {
  method: string;
  /** Fastify path, e.g. /api/tasks/:id/claim */
  path: string;
  params: string[];
  query?: Schema;
  body?: Schema;
}

/** Every route of the table: parses app.printRoutes() (a tree of path segments with their methods). */
export function routeTable(app: FastifyInstance): { method: string; path: string }[] {
  const out: { method: string; path: string }[] = [];
  const stack: string[] = [];
  for (const line of app.printRoutes().split('\n')) {
    const m = /^([\s│]*)[└├]── (.*?)(?: \(([A-Z, ]+)\))?$/.exec(line);
    if (!m) continue;
    const depth = m[1].length / 4;
    stack.length = depth;
    stack.push(m[2]);
    if (m[3]) for (const method of m[3].split(',').map((s) => s.trim())) out.push({ method, path: stack.join('') });
  }
  return out;
}

const shapeOf = (path: string) => path.replace(/\{[^}]+\}|:[^/]+|\*/g, '#');

function routesWithSchemas(app: FastifyInstance): RouteInfo[] {
  const spec = (app as unknown as { swagger(): any }).swagger();
  const ops = new Map<string, any>();
  for (const [p, item] of Object.entries<any>(spec.paths ?? {})) for (const [m, op] of Object.entries<any>(item)) ops.set(`${m.toUpperCase()} ${shapeOf(p)}`, op);
  const resolve = (s: any): any => {
    if (s && typeof s.$ref === 'string') {
      const name = s.$ref.replace(/^#\/components\/schemas\//, '');
      return resolve(spec.components?.schemas?.[name]);
    }
    return s;
  };
  return routeTable(app).map(({ method, path }) => {
    const op = ops.get(`${method === 'HEAD' ? 'GET' : method} ${shapeOf(path)}`);
    const params = [...path.matchAll(/:([^/]+)|\*/g)].map((m) => m[1] ?? '*');
    const queryParams = (op?.parameters ?? []).filter((p: any) => p.in === 'query');
    const query = queryParams.length ? { type: 'object', properties: Object.fromEntries(queryParams.map((p: any) => [p.name, resolve(p.schema)])), required: queryParams.filter((p: any) => p.required).map((p: any) => p.name) } : undefined;
    const body = resolve(op?.requestBody?.content?.['application/json']?.schema);
    return { method, path, params, query, body };
  });
}

/** A value that fits the schema (roughly: the types, enums, formats), from the pool where a string fits. */
function valueFor(r: Rng, schema: Schema | undefined, pool: string[], forms: Schema[], depth = 0): unknown {
  if (!schema || depth > 6) return nastyValue(r, pool);
  if (schema.enum) return r.pick(schema.enum);
  if (schema.const !== undefined) return schema.const;
  for (const k of ['oneOf', 'anyOf'] as const) if (Array.isArray(schema[k])) return valueFor(r, r.pick(schema[k]), pool, forms, depth + 1);
  if (Array.isArray(schema.allOf)) return Object.assign({}, ...schema.allOf.map((s: Schema) => valueFor(r, s, pool, forms, depth + 1)));
  const type = Array.isArray(schema.type) ? r.pick(schema.type) : schema.type;
  switch (type) {
    case 'string':
      if (schema.format === 'date-time') return new Date(Date.UTC(2026, r.int(12), r.int(28) + 1, r.int(24))).toISOString();
      if (schema.format === 'date') return `2026-${String(r.int(12) + 1).padStart(2, '0')}-${String(r.int(28) + 1).padStart(2, '0')}`;
      if (schema.format === 'email') return `x${r.int(100)}@example.com`;
      if (schema.pattern === '^POL-[A-Z0-9]+-[0-9]{4}-[0-9]{6,}$') return pool.find((s) => s.startsWith('POL-')) ?? 'POL-HOME-2026-000001';
      // the longest string the schema allows (does the column hold it?), a known value, or a fresh one
      if (schema.maxLength !== undefined && r.chance(0.15)) return r.pick(['x', 'é', '\u{1f600}']).repeat(schema.maxLength / (r.chance(0.5) ? 1 : 2));
      return pool.length && r.chance(0.6) ? r.pick(pool) : `s${r.hex(6)}`;
    case 'integer':
      return r.int(schema.maximum !== undefined ? Math.min(schema.maximum, 100) + 1 : 100) + (schema.minimum ?? 0);
    case 'number':
      return r.int(20_000) + (schema.minimum ?? 0);
    case 'boolean':
      return r.chance(0.5);
    case 'null':
      return null;
    case 'array':
      return Array.from({ length: r.int(3) + (schema.minItems ?? 0) }, () => valueFor(r, schema.items, pool, forms, depth + 1));
    case 'object':
    case undefined: {
      if (!schema.properties && schema.additionalProperties !== false && forms.length && r.chance(0.7)) return valueFor(r, r.pick(forms), pool, forms, depth + 1);
      const out: Record<string, unknown> = {};
      const required: string[] = schema.required ?? [];
      for (const [k, s] of Object.entries<Schema>(schema.properties ?? {})) if (required.includes(k) || r.chance(0.6)) out[k] = valueFor(r, s, pool, forms, depth + 1);
      return out;
    }
    default:
      return nastyValue(r, pool);
  }
}

/** The same value with one thing wrong: a field removed, added, or replaced by a nasty value (at any depth). */
function mutate(r: Rng, v: unknown, pool: string[]): unknown {
  if (v === null || typeof v !== 'object' || r.chance(0.15)) return nastyValue(r, pool);
  const copy: any = Array.isArray(v) ? [...v] : { ...(v as object) };
  const keys = Object.keys(copy);
  const op = r.int(4);
  if (op === 0 && keys.length) delete copy[r.pick(keys)];
  else if (op === 1) copy[r.chance(0.5) ? nastyString(r) : `extra${r.int(5)}`] = nastyValue(r, pool);
  else if (keys.length) {
    const k = r.pick(keys);
    copy[k] = op === 2 ? nastyValue(r, pool) : mutate(r, copy[k], pool);
  } else copy[nastyString(r)] = nastyValue(r, pool);
  return copy;
}

// ------------------------------------------------------------------------------------------------ requests

/** Percent-encodes text for a URL; a lone surrogate (no UTF-8 form) as its invalid 3-byte CESU-8 sequence. */
const encode = (s: string) =>
  s.replace(/[\ud800-\udbff][\udc00-\udfff]|[\s\S]/g, (c) => {
    const u = c.charCodeAt(0);
    if (c.length === 2 || u < 0xd800 || u > 0xdfff) return encodeURIComponent(c);
    return [0xe0 | (u >> 12), 0x80 | ((u >> 6) & 0x3f), 0x80 | (u & 0x3f)].map((b) => `%${b.toString(16).toUpperCase()}`).join('');
  });

function pathSegment(r: Rng, pool: string[]): string {
  switch (r.int(10)) {
    case 0: case 1: case 2: case 3:
      return pool.length ? encode(r.pick(pool)) : uuidOf(r);
    case 4:
      return uuidOf(r);
    case 5:
      return r.pick(['%00', 'a%00b', '%ED%A0%80', '%C0%80', '%ff', '%zz', '%', '%2F..%2F', '..', '%2e%2e', 'x'.repeat(101), 'x'.repeat(5000), '%F0%9F%98%80', '%E2%80%AE', '%20', '+', '%25', ';', ',', '~']);
    default:
      return encode(nastyString(r)).slice(0, 3000) || 'x';
  }
}

function queryString(r: Rng, route: RouteInfo, pool: string[], forms: Schema[]): string {
  const pairs: string[] = [];
  const mode = r.int(10);
  if (mode < 2) return '';
  if (route.query && mode < 7) {
    const q = (mode < 5 ? valueFor(r, route.query, pool, forms) : mutate(r, valueFor(r, route.query, pool, forms), pool)) as Record<string, unknown>;
    for (const [k, v] of Object.entries(q ?? {})) {
      const vs = Array.isArray(v) ? v : [v];
      for (const x of vs.slice(0, 50)) pairs.push(`${encode(k).slice(0, 500)}=${encode(typeof x === 'string' ? x.slice(0, 2000) : JSON.stringify(x)?.slice(0, 2000) ?? '').slice(0, 2000)}`);
    }
  } else {
    const n = r.int(4) + 1;
    for (let i = 0; i < n; i++) {
      const k = r.chance(0.5) ? r.pick(['limit', 'offset', 'version', 'status', 'key', 'businessKey', 'name', 'from', 'to', 'sort', 'order', 'type', 'format', 'chainId', 'processInstanceId']) : encode(nastyString(r));
      pairs.push(`${k.slice(0, 500)}=${r.chance(0.3) ? r.pick(['%00', '%ED%A0%80', '%zz', '-1', '1e99', 'NaN', '', '999999999999999999999']) : encode(nastyString(r)).slice(0, 2000)}`);
    }
  }
  return pairs.length ? `?${pairs.join('&')}` : '';
}

interface Payload {
  contentType?: string;
  body: Buffer;
}

const json = (v: unknown): Payload => ({ contentType: 'application/json', body: Buffer.from(JSON.stringify(v) ?? 'null') });

function multipart(r: Rng, processFiles: { name: string; content: string }[]): Payload {
  const boundary = `----fuzz${r.hex(8)}`;
  const parts: Buffer[] = [];
  const n = r.int(4);
  for (let i = 0; i < n; i++) {
    const file = r.pick(processFiles);
    const filename = r.chance(0.5) ? file.name : r.pick([nastyString(r), 'a\u0000.bpmn', '../../x.bpmn', 'C:\\x\\y.dmn', '', 'forms/\ud800.schema.json', 'x.schema.json', `forms/${'a'.repeat(300)}.schema.json`]);
    let content: Buffer = Buffer.from(file.content);
    if (r.chance(0.5)) {
      const at = r.int(content.length);
      content = Buffer.concat([content.subarray(0, at), r.pick([Buffer.from([0]), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from(nastyString(r)), Buffer.from('<<<')]), content.subarray(at + r.int(50))]);
    }
    const asField = r.chance(0.2);
    const head = asField
      ? `Content-Disposition: form-data; name="${nastyString(r).replace(/["\r\n]/g, '')}"\r\n\r\n`
      : `Content-Disposition: form-data; name="file"; filename="${filename.replace(/["\r\n]/g, '')}"\r\nContent-Type: ${r.pick(['application/octet-stream', 'application/xml', 'text/plain'])}\r\n\r\n`;
    parts.push(Buffer.from(`--${boundary}\r\n${head}`), content, Buffer.from('\r\n'));
  }
  if (r.chance(0.8)) parts.push(Buffer.from(`--${boundary}--\r\n`));
  const broken = r.int(6);
  const contentType =
    broken === 0 ? 'multipart/form-data'
    : broken === 1 ? 'multipart/form-data; boundary='
    : broken === 2 ? `multipart/form-data; boundary=${r.hex(4)}`
    : broken === 3 ? `multipart/mixed; boundary=${boundary}`
    : `multipart/form-data; boundary=${boundary}`;
  return { contentType, body: Buffer.concat(parts) };
}

function payload(r: Rng, route: RouteInfo, pool: string[], forms: Schema[], processFiles: { name: string; content: string }[]): Payload | null {
  const hasBody = !['GET', 'HEAD', 'DELETE', 'OPTIONS'].includes(route.method);
  if (!hasBody && r.chance(0.85)) return null;
  const k = r.int(20);
  if (k < 8) return json(mutate(r, valueFor(r, route.body ?? { type: 'object' }, pool, forms), pool));
  if (k < 10) return json(valueFor(r, route.body ?? { type: 'object' }, pool, forms));
  if (k < 11) return json(nastyValue(r, pool));
  if (k < 14) {
    const texts = [
      '', '{', '}', '{"a":}', '{"a":1,}', "{'a':1}", 'nul', 'null', 'true', '"x"', '[]', '1e400', '-', '{"a":1}{"b":2}', '\u0000', '{"a":"\u0000"}',
      '{"__proto__":{"admin":true}}', '{"constructor":{"prototype":{"admin":true}}}', '{"variables":{"__proto__":{"x":1}}}',
      '{"a":1,"a":2}', '{"businessKey":"\\ud800"}', '{"variables":{"\\u0000":1}}', '{"variables":{"x":"\\udfff"}}', '{"name":"\\u0000"}',
      '['.repeat(100_000) + ']'.repeat(100_000), '{"a":'.repeat(50_000) + '1' + '}'.repeat(50_000), '{"a":'.repeat(20_000) + '{"__proto__":1}' + '}'.repeat(20_000),
      '{"variables":' + '{"x":'.repeat(5000) + '1' + '}'.repeat(5000) + '}', '{"x":"' + 'y'.repeat(1_100_000) + '"}',
    ];
    return { contentType: r.pick(['application/json', 'application/json; charset=utf-8', 'application/JSON', 'application/json; charset=latin1']), body: Buffer.from(r.pick(texts)) };
  }
  if (k < 15) return { contentType: 'application/json', body: Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, ...r.pick([[0xed, 0xa0, 0x80], [0xff, 0xfe], [0xc0, 0x80], [0]]), 0x22, 0x7d]) };
  if (k < 17) return multipart(r, processFiles);
  if (k < 18) return { contentType: r.pick(['application/xml', 'text/xml', 'application/bpmn+xml']), body: Buffer.from(r.chance(0.5) ? r.pick(processFiles).content.replace(/id="[^"]*"/, `id="${nastyString(r).replace(/"/g, '')}"`) : nastyString(r)) };
  return {
    contentType: r.pick([undefined, '', 'text/plain', 'application/x-www-form-urlencoded', 'application/octet-stream', 'image/png', 'application/json;', ';', '*/*', 'application/xml; charset=utf-16', 'multipart/form-data; boundary="x']),
    body: Buffer.from(r.chance(0.5) ? JSON.stringify(valueFor(r, route.body, pool, forms)) ?? '' : nastyString(r)),
  };
}

interface Raw {
  status: number | 'no response' | 'timeout';
  text: string;
}

/** Sends one request over a fresh connection (Connection: close) and reads the whole answer. */
function send(port: number, method: string, url: string, headers: Record<string, string>, body: Buffer | null, onConnect?: () => void, timeoutMs = 30_000): Promise<Raw> {
  return new Promise((resolve) => {
    const sock = connect(port, '127.0.0.1', onConnect);
    const chunks: Buffer[] = [];
    let done = false;
    const finish = (raw: Raw) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(raw);
    };
    const timer = setTimeout(() => finish({ status: 'timeout', text: '' }), timeoutMs);
    sock.on('data', (d) => chunks.push(d));
    sock.on('error', () => {
      onConnect?.();
      finish(parse(Buffer.concat(chunks)));
    });
    sock.on('close', () => finish(parse(Buffer.concat(chunks))));
    let head = `${method} ${url} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n`;
    for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`;
    if (body) head += `Content-Length: ${body.length}\r\n`;
    sock.write(Buffer.concat([Buffer.from(head + '\r\n', 'latin1'), body ?? Buffer.alloc(0)]));
  });
}

function parse(buf: Buffer): Raw {
  const sep = buf.indexOf('\r\n\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(buf.subarray(0, 20).toString('latin1'));
  if (!m || sep < 0) return { status: 'no response', text: buf.toString('utf8').slice(0, 2000) };
  const head = buf.subarray(0, sep).toString('latin1');
  let body = buf.subarray(sep + 4);
  if (/\r\ntransfer-encoding:\s*chunked/i.test(head)) {
    const parts: Buffer[] = [];
    let at = 0;
    for (;;) {
      const eol = body.indexOf('\r\n', at);
      if (eol < 0) break;
      const size = parseInt(body.subarray(at, eol).toString('latin1'), 16);
      if (!size) break;
      parts.push(body.subarray(eol + 2, eol + 2 + size));
      at = eol + 2 + size + 2;
    }
    body = Buffer.concat(parts);
  }
  return { status: Number(m[1]), text: body.toString('utf8') };
}

// ------------------------------------------------------------------------------------------------ the run

/** Strings worth reusing: ids, keys and names from the answers (capped; our own users' names never). */
function harvest(text: string, pool: string[], exclude: Set<string>, r: Rng) {
  if (!text.startsWith('{') && !text.startsWith('[')) return;
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return;
  }
  const stack: [string, unknown][] = [['', v]];
  let seen = 0;
  while (stack.length && seen++ < 5000) {
    const [k, x] = stack.pop()!;
    if (typeof x === 'string') {
      if (x.length && x.length <= 120 && /(id|Id|key|Key|name|No|Groups|Users|assignee|\d)$/.test(k) && !exclude.has(x) && !pool.includes(x)) {
        if (pool.length < 400) pool.push(x);
        else pool[r.int(pool.length)] = x;
      }
    } else if (Array.isArray(x)) x.forEach((y) => stack.push([k, y]));
    else if (x && typeof x === 'object') for (const [kk, y] of Object.entries(x)) stack.push([kk, y]);
  }
}

async function freshDatabase(url: string | undefined): Promise<{ url: string; drop(): Promise<void> }> {
  if (url && dialectOf(url) === 'postgres') {
    const name = `insureflow_fuzz_${randomBytes(5).toString('hex')}`;
    const admin = knexFactory({ client: 'pg', connection: url, pool: { min: 0, max: 1 } });
    await admin.raw(`create database "${name}"`);
    const u = new URL(url);
    u.pathname = `/${name}`;
    return {
      url: u.toString(),
      async drop() {
        await admin.raw(`drop database if exists "${name}" with (force)`);
        await admin.destroy();
      },
    };
  }
  const dir = mkdtempSync(join(tmpdir(), 'insureflow-fuzz-'));
  return { url: join(dir, 'fuzz.sqlite'), drop: async () => rmSync(dir, { recursive: true, force: true }) };
}

function readTree(dir: string, base = dir): { name: string; content: string }[] {
  const out: { name: string; content: string }[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...readTree(p, base));
    else out.push({ name: p.slice(base.length + 1), content: readFileSync(p, 'utf8') });
  }
  return out;
}

export async function runFuzz(opts: FuzzOptions = {}): Promise<FuzzReport> {
  const requests = opts.requests ?? 10_000;
  const r = prng(opts.seed ?? 1);
  const log = opts.log ?? (() => {});
  const db = await freshDatabase(opts.databaseUrl);
  const processesDir = join(repoRoot, 'processes');
  const adminToken = `fuzz-admin-${randomBytes(12).toString('hex')}`;
  let server: RunningServer | null = null;
  try {
    server = await serve({
      port: 0,
      host: '127.0.0.1',
      databaseUrl: db.url,
      processesDir,
      processesDirExplicit: true,
      adminToken,
      logLevel: opts.logLevel ?? 'silent',
      jobPollMs: 1000,
      handlerModules: [],
    });
    const port = (server.app.server.address() as { port: number }).port;
    const { engine } = server;
    const tokens: string[] = [adminToken];
    const names = new Set<string>(['admin']);
    const people: [string, ('admin' | 'analyst' | 'ops' | 'auditor')[], string[], boolean][] = [
      ['fuzz-analyst', ['analyst'], [], false],
      ['fuzz-cs', ['ops'], ['customer-service'], false],
      ['fuzz-adjuster', ['ops'], ['adjusters', 'claims-supervisors'], false],
      ['fuzz-surveyor', ['ops'], ['surveyors'], false],
      ['fuzz-sales', ['ops'], ['sales', 'underwriters'], false],
      ['fuzz-auditor', ['auditor'], [], false],
      ['fuzz-disabled', ['admin'], [], true],
    ];
    for (const [name, roles, groups, disabled] of people) {
      const { token } = await engine.users.add({ name, roles, groups });
      if (disabled) await engine.users.update(name, { disabled: true });
      tokens.push(token);
      names.add(name);
    }
    const demo = await seedDemo(engine.db);
    const pool: string[] = [...demo.policies.map((p) => p.policyNo), ...demo.customers.map((c) => c.id), 'claims', 'sales', 'product-development', 'claim-documents-received', 'sales-premium-paid'];
    const forms = readTree(join(processesDir, 'forms')).concat(readTree(join(processesDir, 'messages'))).map((f) => JSON.parse(f.content) as Schema);
    const processFiles = readTree(processesDir);

    const routes = routesWithSchemas(server.app);
    log(`${routes.length} routes: ${routes.map((x) => `${x.method} ${x.path}`).join(', ')}`);
    const counts: Record<string, number> = {};
    const failures: FuzzFailure[] = [];

    const one = async (onConnect?: () => void): Promise<{ req: FuzzRequest; res: Raw }> => {
      const route = r.pick(routes);
      // one request in four is well formed (the admin, known ids, a body that fits the schema and the start form
      // of the process named in the path): the state moves on, and the malformed ones meet real instances and tasks
      const valid = r.chance(0.25) && pool.length > 0;
      const segments: string[] = [];
      let url = route.path.replace(/:[^/]+|\*/g, (m) => {
        if (valid) return encode(segments[segments.push(r.pick(pool)) - 1]);
        return m === '*' ? Array.from({ length: r.int(3) + 1 }, () => pathSegment(r, pool)).join('/') : pathSegment(r, pool);
      });
      const startForms = forms.filter((f) => segments.some((seg) => typeof f.$id === 'string' && f.$id.endsWith(`/${seg}.start`)));
      if (!valid) url += queryString(r, route, pool, forms);
      const headers: Record<string, string> = {};
      const who = valid ? 0 : r.int(20);
      if (who < 15) headers.Authorization = `Bearer ${who < 6 ? adminToken : r.pick(tokens)}`;
      else if (who < 19) headers.Authorization = r.pick(['Bearer', 'Bearer ', `Bearer ${uuidOf(r)}`, `bearer ${r.pick(tokens)}`, `Basic ${Buffer.from('admin:admin').toString('base64')}`, `Bearer ${r.pick(tokens)} x`, `Bearer ${'a'.repeat(10_000)}`, `Bearer ifw_${r.hex(40)}`, `Bearer \u00ff\u00e9`]);
      const p = valid
        ? ['GET', 'HEAD', 'DELETE'].includes(route.method) ? null : json(valueFor(r, route.body ?? { type: 'object' }, pool, startForms.length ? startForms : forms))
        : payload(r, route, pool, forms, processFiles);
      if (p?.contentType !== undefined) headers['Content-Type'] = p.contentType;
      if (r.chance(0.02)) headers.Accept = r.pick(['application/xml', 'text/html', '*/*;q=x', '']);
      const res = await send(port, route.method, url, headers, p ? p.body : null, onConnect);
      return { req: { method: route.method, url, headers, body: p ? p.body.toString('utf8') : '' }, res };
    };

    for (let i = 0; i < requests; i++) {
      const { req, res } = await one();
      counts[res.status] = (counts[res.status] ?? 0) + 1;
      if (typeof res.status === 'number' && res.status < 500) harvest(res.text, pool, names, r);
      if (typeof res.status !== 'number' || res.status >= 500) failures.push({ request: req, status: res.status, response: res.text.slice(0, 2000) });
      if ((i + 1) % 1000 === 0) log(`${i + 1} requests; ${failures.length} failures`);
    }

    // shutdown while requests are arriving (connected, not yet answered): an answer, or 503, or a closed connection
    const shutdown: Record<string, number> = {};
    const connected: Promise<void>[] = [];
    const arriving: Promise<{ req: FuzzRequest; res: Raw }>[] = [];
    for (let i = 0; i < 20; i++) {
      let onConnect!: () => void;
      connected.push(new Promise<void>((resolve) => (onConnect = resolve)));
      arriving.push(one(onConnect));
    }
    await Promise.all(connected);
    const closing = server.close();
    server = null;
    const late = await Promise.all(arriving);
    await closing;
    for (const { req, res } of late) {
      shutdown[res.status] = (shutdown[res.status] ?? 0) + 1;
      if (typeof res.status === 'number' && res.status >= 500 && res.status !== 503) failures.push({ request: req, status: res.status, response: res.text.slice(0, 2000) });
    }
    return { routes: routes.map((x) => `${x.method} ${x.path}`), counts, shutdown, failures };
  } finally {
    if (server) await server.close().catch(() => {});
    await db.drop();
  }
}

function printable(s: string, max = 600): string {
  const t = s.length > max ? `${s.slice(0, max)}... (${s.length} chars)` : s;
  return JSON.stringify(t);
}

async function main() {
  const { values } = parseArgs({ options: { requests: { type: 'string' }, seed: { type: 'string' }, 'log-level': { type: 'string' } } });
  const report = await runFuzz({
    requests: values.requests ? Number(values.requests) : undefined,
    seed: values.seed ? Number(values.seed) : undefined,
    databaseUrl: process.env.DATABASE_URL,
    logLevel: (values['log-level'] as Config['logLevel']) ?? undefined,
    log: (l) => console.log(l),
  });
  console.log(`\ndatabase: ${process.env.DATABASE_URL && dialectOf(process.env.DATABASE_URL) === 'postgres' ? 'postgres' : 'sqlite'}; routes: ${report.routes.length}`);
  console.log('responses per status:', JSON.stringify(report.counts));
  console.log('during shutdown:', JSON.stringify(report.shutdown));
  for (const f of report.failures) {
    console.log(`\n${f.status} ${f.request.method} ${printable(f.request.url, 300)}\n  headers: ${JSON.stringify(f.request.headers).slice(0, 300)}\n  body: ${printable(f.request.body)}\n  response: ${printable(f.response)}`);
  }
  console.log(`\n${report.failures.length} responses >= 500 (or without an answer)`);
  process.exit(report.failures.length ? 1 : 0);
}

if (process.argv[1] && /fuzz\.ts$/.test(process.argv[1])) main().catch((err) => {
  console.error(err);
  process.exit(2);
});
