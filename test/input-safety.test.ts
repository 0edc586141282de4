/**
 * Input that cannot hurt (issue 10, section 2): every string accepted over HTTP is valid Unicode without NUL (a
 * lone surrogate or U+0000 anywhere in the body, its keys, the query or the path is a 400 naming the field), the
 * engine refuses the same for embedders, and random Unicode (fast-check) sent through start, complete and messages
 * over a real socket leaves every history chain verifiable. Plus the resource faults: a malformed multipart body
 * is a 400, a full SQLite database a 507 STORAGE_FULL, a new database file is 0600 in a 0700 folder, and a
 * read-only database or data folder stops `insureflow serve` with a clear message (no stack).
 */
import { suite, test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { spawn } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../src/http/app.ts';
import { openDb, migrate } from '../src/persistence/db.ts';
import { InsureflowError } from '../src/errors.ts';
import { findTextProblem } from '../src/engine/text-values.ts';
import { canonicalJson } from '../src/persistence/canonical-json.ts';
import { onPostgres, testEngine, admin, ops, type TestEngine, refusal } from './helpers.ts';
import { freePort, repoRoot } from './support/server.ts';
import { Given, When, Then, And } from './feature/gwt.ts';

const BPMN = `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="Defs_Unicode" targetNamespace="http://insureflow.test">
  <bpmn:message id="Msg_Note" name="unicode-note" />
  <bpmn:process id="unicode-test" isExecutable="true">
    <bpmn:startEvent id="Start" />
    <bpmn:sequenceFlow id="F1" sourceRef="Start" targetRef="Task_Review" />
    <bpmn:userTask id="Task_Review" name="Review" camunda:candidateGroups="adjusters" />
    <bpmn:sequenceFlow id="F2" sourceRef="Task_Review" targetRef="Catch_Note" />
    <bpmn:intermediateCatchEvent id="Catch_Note"><bpmn:messageEventDefinition messageRef="Msg_Note" /></bpmn:intermediateCatchEvent>
    <bpmn:sequenceFlow id="F3" sourceRef="Catch_Note" targetRef="End" />
    <bpmn:endEvent id="End" />
  </bpmn:process>
</bpmn:definitions>`;
// the message may set `note` and `data`, whatever their values
const NOTE_SCHEMA = JSON.stringify({ type: 'object', properties: { note: {}, data: {} } });

interface Ctx {
  t: TestEngine;
  app: FastifyInstance;
  base: string;
  tok: Record<string, string>;
}

async function start(ctx: Ctx) {
  ctx.t = await testEngine();
  await ctx.t.engine.deploy([
    { name: 'unicode.bpmn', content: BPMN },
    { name: 'messages/unicode-note.schema.json', content: NOTE_SCHEMA },
  ]);
  ctx.app = await buildApp({ engine: ctx.t.engine });
  await ctx.app.listen({ port: 0, host: '127.0.0.1' });
  ctx.base = `http://127.0.0.1:${(ctx.app.server.address() as AddressInfo).port}`;
  ctx.tok = {};
  for (const [name, roles, groups] of [['root', ['admin'], []], ['olga', ['ops'], ['adjusters']]] as const) {
    ctx.tok[name] = (await ctx.t.engine.users.add({ name, roles: [...roles], groups: [...groups] })).token;
  }
}

async function stop(ctx: Ctx) {
  await ctx.app.close();
  await ctx.t.close();
}

/** A request over the socket; a string body is sent as is (JSON text with \\ud800 escapes stays ASCII). */
async function call(ctx: Ctx, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
  const h: Record<string, string> = { authorization: `Bearer ${ctx.tok.root}`, ...headers };
  if (body !== undefined && !h['content-type']) h['content-type'] = 'application/json';
  const res = await fetch(`${ctx.base}${path}`, { method, headers: h, body: body === undefined ? undefined : typeof body === 'string' || body instanceof Blob ? body : JSON.stringify(body) });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: res.status, body: parsed };
}

function assertRefused(res: { status: number; body: any }, where: string, field: string) {
  assert.is(res.status, 400, JSON.stringify(res.body));
  assert.is(res.body.code, 'VALIDATION_FAILED');
  assert.equal(res.body.details.map((d: any) => [d.in, d.field]), [[where, field]], JSON.stringify(res.body));
}

// ------------------------------------------------------------------------------------------- over HTTP

const http = suite<Ctx>('every string over HTTP is valid Unicode without NUL');
http.before(start);
http.after(stop);

http('a lone surrogate or NUL in the body, in an object key, in the query or in the path is a 400 naming the field', async (ctx) => {
  const startUrl = '/api/process-definitions/unicode-test/start';
  await Then('a lone surrogate as the business key (the issue\'s attack) is refused', async () => {
    assertRefused(await call(ctx, 'POST', startUrl, '{"businessKey":"\\ud800"}'), 'body', 'businessKey');
  });
  await And('a lone low surrogate deep in the variables, and a NUL, name their path', async () => {
    assertRefused(await call(ctx, 'POST', startUrl, { variables: { a: [{ b: 'x\udc00' }] } }), 'body', 'variables.a.0.b');
    assertRefused(await call(ctx, 'POST', startUrl, { variables: { note: 'a\u0000b' } }), 'body', 'variables.note');
  });
  await And('a bad object key is named, printable', async () => {
    assertRefused(await call(ctx, 'POST', startUrl, '{"variables":{"\\u0000":1}}'), 'body', 'variables.\\u0000');
    assertRefused(await call(ctx, 'POST', startUrl, '{"variables":{"k\\ud83d":1}}'), 'body', 'variables.k\\ud83d');
  });
  await And('a number that does not fit a double and nesting deeper than 100 levels are refused too', async () => {
    const inf = await call(ctx, 'POST', startUrl, '{"variables":{"n":1e400}}');
    assertRefused(inf, 'body', 'variables.n');
    assert.match(inf.body.message, /finite/);
    let deep: unknown = 1;
    for (let i = 0; i < 101; i++) deep = [deep];
    const res = await call(ctx, 'POST', startUrl, { variables: { deep } });
    assert.is(res.status, 400);
    assert.match(res.body.message, /nested deeper than 100/);
  });
  await And('in the query and in the path (percent-encoded NUL)', async () => {
    assertRefused(await call(ctx, 'GET', '/api/process-instances?businessKey=a%00'), 'querystring', 'businessKey');
    assertRefused(await call(ctx, 'GET', '/api/process-instances/a%00b'), 'params', 'id');
    assertRefused(await call(ctx, 'GET', '/api/forms/x/%00'), 'params', '*');
  });
  await And('in the token: Node refuses a NUL in a header on the socket; an in-process caller (inject) gets the 400', async () => {
    const raw = await new Promise<string>((resolve) => {
      const sock = connect(Number(new URL(ctx.base).port), '127.0.0.1', () => sock.end(`GET /api/tasks HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer a\u0000b\r\nConnection: close\r\n\r\n`, 'latin1'));
      let out = '';
      sock.on('data', (d) => (out += d));
      sock.on('close', () => resolve(out));
    });
    assert.match(raw, /^HTTP\/1\.1 400 /);
    for (const authorization of ['Bearer a\u0000b', 'Bearer \ud800']) {
      const res = await ctx.app.inject({ method: 'GET', url: '/api/tasks', headers: { authorization } });
      assertRefused({ status: res.statusCode, body: res.json() }, 'headers', 'authorization');
    }
  });
  await And('in the other operations that take text: complete, messages, signals, users', async () => {
    assertRefused(await call(ctx, 'POST', '/api/tasks/x/complete', { variables: { v: '\ud800' } }), 'body', 'variables.v');
    assertRefused(await call(ctx, 'POST', '/api/messages', { name: 'unicode-note\u0000' }), 'body', 'name');
    assertRefused(await call(ctx, 'POST', '/api/signals', { name: 's', variables: { ['\udfff']: 1 } }), 'body', 'variables.\\udfff');
    assertRefused(await call(ctx, 'POST', '/api/users', { name: 'eve\u0000', roles: ['ops'] }), 'body', 'name');
  });
  await Then('nothing was started, and well-formed text (astral characters, RTL, U+FFFF) is accepted as it is', async () => {
    assert.is((await ctx.t.engine.listInstances({ key: 'unicode-test' } as any)).total, 0);
    const key = '\u{1F600} \u202e\u0644 \uffff é';
    const ok = await call(ctx, 'POST', startUrl, { businessKey: key, variables: { [key]: [key] } });
    assert.is(ok.status, 201, JSON.stringify(ok.body));
    assert.is(ok.body.businessKey, key);
    assert.equal(ok.body.variables[key], [key]);
    const verify = await call(ctx, 'GET', `/api/process-instances/${ok.body.id}/history/verify`);
    assert.is(verify.body.consistent, true, JSON.stringify(verify.body));
  });
});

http('multipart: no boundary or a malformed body is a 400; NUL or a lone surrogate in a file name or content is a 400 naming the part', async (ctx) => {
  const boundary = '----safety';
  const part = (filename: string, content: string) => `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${filename}"\r\nContent-Type: application/octet-stream\r\n\r\n${content}\r\n`;
  const mp = `multipart/form-data; boundary=${boundary}`;
  const deploy = (body: string | Blob, type: string) => call(ctx, 'POST', '/api/deployments', body, { 'content-type': type });
  const noBoundary = await deploy(part('a.bpmn', BPMN) + `--${boundary}--\r\n`, 'multipart/form-data');
  assert.is(noBoundary.status, 400, JSON.stringify(noBoundary.body));
  assert.is(noBoundary.body.code, 'BAD_REQUEST');
  assert.match(noBoundary.body.message, /multipart/i);
  const truncated = await deploy(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.bpmn"\r\n\r\n<bpmn:defini`, mp);
  assert.is(truncated.status, 400, JSON.stringify(truncated.body));
  const badHeader = await deploy(`--${boundary}\r\nno header here\r\n\r\nx\r\n--${boundary}--\r\n`, mp);
  assert.ok(badHeader.status === 400, JSON.stringify(badHeader));
  const nulName = await deploy(part('a\u0000.bpmn', BPMN) + `--${boundary}--\r\n`, mp);
  assert.is(nulName.status, 400, JSON.stringify(nulName.body));
  assert.is(nulName.body.details[0].field, 'file name');
  const nulContent = await deploy(part('b.bpmn', BPMN.replace('Review', 'Re\u0000view')) + `--${boundary}--\r\n`, mp);
  assert.is(nulContent.status, 400, JSON.stringify(nulContent.body));
  assert.is(nulContent.body.details[0].field, 'file "b.bpmn"');
  const nulXml = await deploy(BPMN.replace('Review', 'Re\u0000view'), 'application/xml');
  assert.is(nulXml.status, 400, JSON.stringify(nulXml.body));
  // an invalid UTF-8 sequence in a file (a surrogate's CESU-8 bytes) decodes to U+FFFD: well-formed text, deployed
  const [head, tail] = part('c.bpmn', BPMN.replace('unicode-test', 'unicode-cesu').replace('name="Review"', 'name="Re@@view"')).split('@@');
  const cesu = new Blob([head, new Uint8Array([0xed, 0xa0, 0x80]), tail, `--${boundary}--\r\n`]);
  const replaced = await deploy(cesu, mp);
  assert.is(replaced.status, 201, JSON.stringify(replaced.body));
  const xml = await call(ctx, 'GET', '/api/process-definitions/unicode-cesu/xml');
  assert.ok(xml.body.includes('Re\ufffd\ufffd\ufffdview'), xml.body);
});

// ------------------------------------------------------------------------------------------- random Unicode

const random = suite<Ctx>('random Unicode through start, complete and messages (fast-check, real socket)');
random.before(start);
random.after(stop);

/** strings of every kind: valid astral text, arbitrary code points with NUL, and arbitrary UTF-16 (lone surrogates) */
const anyText = (maxLength: number) =>
  fc.oneof(
    fc.fullUnicodeString({ maxLength }),
    fc.string({ unit: 'binary', maxLength }),
    fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)), maxLength }),
    fc.constantFrom('\ud800', 'a\u0000', '\udfff\ud800', '\u{1F600}', ''),
  );
const anyValue = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small', withCrossShrink: true }, anyText(30), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.integer(), fc.boolean(), fc.constant(null), fc.array(tie('value'), { maxLength: 3 }), fc.dictionary(anyText(10), tie('value'), { maxKeys: 3 })),
})).value;
const variables = fc.dictionary(anyText(20), anyValue, { maxKeys: 4 });

random('every answer is 201/200 or a 400 naming a bad field; afterwards every touched chain and the whole audit verify', async (ctx) => {
  const touched = new Set<string>();
  let accepted = 0;
  let refused = 0;
  let runs = 0;
  const expect = (res: { status: number; body: any }, input: unknown, root: string, okStatus: number[]) => {
    const problem = findTextProblem(input, root);
    if (problem) {
      assert.is(res.status, 400, `${JSON.stringify(input)} -> ${JSON.stringify(res.body)}`);
      assert.is(res.body.code, 'VALIDATION_FAILED');
      assert.is(res.body.details[0].field, problem.field, JSON.stringify(res.body));
      refused++;
    } else {
      assert.ok(okStatus.includes(res.status) || (res.status === 400 && res.body.details?.[0]?.keyword !== 'text'), `${JSON.stringify(input)} -> ${res.status} ${JSON.stringify(res.body)}`);
      if (okStatus.includes(res.status)) accepted++;
    }
  };
  await fc.assert(
    fc.asyncProperty(anyText(190).filter((s) => [...s].length <= 190), variables, variables, fc.option(anyValue, { nil: undefined }), async (text, startVars, formVars, note) => {
      // business keys are unique among active instances: a run number in front
      const businessKey = `${++runs}:${text}`;
      const started = await call(ctx, 'POST', '/api/process-definitions/unicode-test/start', JSON.stringify({ businessKey, variables: startVars }));
      expect(started, { businessKey, variables: startVars }, '', [201]);
      if (started.status !== 201) return;
      const id = started.body.id as string;
      touched.add(id);
      const task = started.body.openTasks[0].id as string;
      const completed = await call(ctx, 'POST', `/api/tasks/${task}/complete`, JSON.stringify({ variables: formVars }), { authorization: `Bearer ${ctx.tok.olga}` });
      expect(completed, { variables: formVars }, '', [200]);
      if (completed.status !== 200) return;
      const message = { name: 'unicode-note', processInstanceId: id, variables: note === undefined ? {} : { note, data: { [businessKey]: businessKey } } };
      const sent = await call(ctx, 'POST', '/api/messages', JSON.stringify(message));
      expect(sent, message, '', [200]);
    }),
    { numRuns: 120, seed: 20261130, endOnFailure: true },
  );
  assert.ok(accepted > 20 && refused > 20, `both kinds were tried: ${accepted} accepted, ${refused} refused`);
  for (const id of touched) {
    const v = await call(ctx, 'GET', `/api/process-instances/${id}/history/verify`);
    assert.is(v.body.consistent, true, `${id}: ${JSON.stringify(v.body)}`);
  }
  const all = await call(ctx, 'GET', '/api/history/verify');
  assert.is(all.status, 200, JSON.stringify(all.body));
  assert.is(all.body.consistent, true, JSON.stringify(all.body));
  assert.ok(all.body.chains >= touched.size, JSON.stringify(all.body));
});

// ------------------------------------------------------------------------------------------- the engine

const engine = suite<{ t: TestEngine }>('the engine refuses the same text to embedders');
engine.before(async (ctx) => {
  ctx.t = await testEngine();
  await ctx.t.engine.deploy([
    { name: 'unicode.bpmn', content: BPMN },
    { name: 'messages/unicode-note.schema.json', content: NOTE_SCHEMA },
  ]);
});
engine.after(async (ctx) => ctx.t.close());

engine('startInstance, completeTask, correlateMessage, broadcastSignal and retryIncident refuse a lone surrogate or NUL with VALIDATION_FAILED naming the field; the chains stay verifiable', async ({ t }) => {
  const e = t.engine;
  const field = (err: InsureflowError) => (err.details as { field: string }[])[0].field;
  await When('an embedder starts an instance with a lone surrogate as business key', async () => {
    const err = await refusal(e.startInstance('unicode-test', { businessKey: '\ud800' }, admin));
    await Then('it is refused, naming businessKey, and nothing was started', async () => {
      assert.is(err.code, 'VALIDATION_FAILED');
      assert.is(field(err), 'businessKey');
      assert.is((await e.listInstances({ key: 'unicode-test' } as any)).total, 0);
    });
  });
  const inst = await Given('an instance waiting in its user task', () => e.startInstance('unicode-test', { businessKey: 'B-1', variables: { n: 1 } }, admin));
  await Then('completing its task with a NUL in a nested variable, or with NaN, is refused', async () => {
    const task = inst.openTasks[0].id;
    assert.is(field(await refusal(e.completeTask(task, { form: { remark: 'x\u0000' } }, ops('olga', 'adjusters')))), 'variables.form.remark');
    assert.is(field(await refusal(e.completeTask(task, { n: Number.NaN }, ops('olga', 'adjusters')))), 'variables.n');
    assert.is(field(await refusal(e.completeTask(task, { big: 1n } as any, ops('olga', 'adjusters')))), 'variables.big');
    await e.completeTask(task, { ok: '\u{1F600}' }, ops('olga', 'adjusters'));
  });
  await And('messages and signals with bad names or variables are refused', async () => {
    assert.is(field(await refusal(e.correlateMessage({ name: 'unicode-note', processInstanceId: inst.id, variables: { note: '\udc00' } }, admin))), 'variables.note');
    assert.is(field(await refusal(e.correlateMessage({ name: 'unicode-\u0000', businessKey: 'B-1' }, admin))), 'name');
    assert.is(field(await refusal(e.broadcastSignal({ name: '\ud800' }, admin))), 'name');
    assert.is(field(await refusal(e.retryIncident('no-such-incident', { ['\u0000']: 1 }, admin))), 'variables.\\u0000');
  });
  await Then('the instance still waits for its message and its chain verifies', async () => {
    const got = await e.getInstance(inst.id);
    assert.is(got.status, 'active');
    assert.equal(got.activeActivities, ['Catch_Note']);
    assert.is((await e.verifyInstanceHistory(inst.id)).consistent, true);
  });
});

engine('a handler returning a lone surrogate fails like any technical failure (an incident naming the field); the chain verifies', async ({ t }) => {
  const e = t.engine;
  e.registerHandler('badText', () => ({ label: 'ok', nested: { v: 'x\ud800' } }), { retries: 1 });
  await e.deploy([{ name: 'handler.bpmn', content: BPMN.replace('unicode-test', 'unicode-handler').replace('<bpmn:userTask id="Task_Review" name="Review" camunda:candidateGroups="adjusters" />', '<bpmn:serviceTask id="Task_Review" camunda:type="external" camunda:topic="badText" />') }]);
  const inst = await When('an instance runs the handler', () => e.startInstance('unicode-handler', { businessKey: 'H-1' }, admin));
  await Then('the instance is in incident at the task, the message names the field, nothing of the result was stored', async () => {
    const got = await e.getInstance(inst.id);
    assert.is(got.status, 'incident', JSON.stringify(got));
    assert.match(String(got.incidents[0].errorMessage), /result\.nested\.v contains a lone surrogate/);
    assert.is(got.variables.label, undefined);
    assert.is((await e.verifyInstanceHistory(inst.id)).consistent, true);
  });
});

engine('canonical JSON is defined for every accepted value: well-formed UTF-8 that parses back to the value, and stable', () => {
  fc.assert(
    fc.property(variables, (v) => {
      if (findTextProblem(v)) return;
      // every string and key as a text column stores it (UTF-8), e.g. a business key on SQLite
      const texts: string[] = [];
      JSON.stringify(v, (k, x) => (texts.push(k), typeof x === 'string' && texts.push(x), x));
      for (const t of texts) assert.is(Buffer.from(t, 'utf8').toString('utf8'), t);
      const text = canonicalJson(v);
      assert.is(Buffer.from(text, 'utf8').toString('utf8'), text, 'survives UTF-8 (storage) unchanged');
      assert.equal(JSON.parse(text), JSON.parse(JSON.stringify(v)));
      assert.is(canonicalJson(JSON.parse(text)), text, 'a stored and re-read value hashes the same');
    }),
    { numRuns: 500, seed: 20261130 },
  );
});

// ------------------------------------------------------------------------------------------- resource faults

const storage = suite<Ctx>('a full database is a 507 STORAGE_FULL (SQLite max_page_count)');
storage.before(start);
storage.after(stop);

(onPostgres ? storage.skip : storage)('a start that needs a new page of a full SQLite file answers 507 STORAGE_FULL, stores nothing, and works again once there is room', async (ctx) => {
  const db = ctx.t.engine.db;
  const startUrl = '/api/process-definitions/unicode-test/start';
  const before = await Given('a SQLite database limited to the pages it has now', async () => {
    // one connection (the pool holds one): the limit applies to every statement of the app
    const [{ page_count }] = await db.raw('PRAGMA page_count');
    await db.raw(`PRAGMA max_page_count = ${page_count}`);
    return (await ctx.t.engine.listInstances({ key: 'unicode-test' } as any)).total;
  });
  const full = await When('an instance is started with variables that need more pages', () => call(ctx, 'POST', startUrl, { businessKey: 'FULL-1', variables: { blob: 'x'.repeat(200_000) } }));
  await Then('the answer is 507 STORAGE_FULL and nothing was stored', async () => {
    assert.is(full.status, 507, JSON.stringify(full.body));
    assert.is(full.body.code, 'STORAGE_FULL');
    assert.match(full.body.message, /out of space/);
    assert.is((await ctx.t.engine.listInstances({ key: 'unicode-test' } as any)).total, before);
  });
  await And('once the limit is lifted the same start succeeds and the audit verifies', async () => {
    await db.raw('PRAGMA max_page_count = 1073741823');
    const ok = await call(ctx, 'POST', startUrl, { businessKey: 'FULL-1', variables: { blob: 'x'.repeat(200_000) } });
    assert.is(ok.status, 201, JSON.stringify(ok.body));
    const all = await call(ctx, 'GET', '/api/history/verify');
    assert.is(all.body.consistent, true, JSON.stringify(all.body));
  });
});

(onPostgres ? test.skip : test)('a new SQLite database file is created 0600 in a folder created 0700', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'insureflow-mode-'));
  const file = join(dir, 'data', 'nested', 'db.sqlite');
  const db = await openDb({ url: file });
  try {
    await migrate(db);
  } finally {
    await db.destroy();
  }
  assert.is(statSync(file).mode & 0o777, 0o600);
  assert.is(statSync(join(dir, 'data')).mode & 0o777, 0o700);
  assert.is(statSync(join(dir, 'data', 'nested')).mode & 0o777, 0o700);
  for (const journal of ['-wal', '-shm']) {
    try {
      assert.is(statSync(file + journal).mode & 0o077, 0, `${journal} is private too`);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
});

// ------------------------------------------------------------------------------------------- read-only start-up

/**
 * Runs `insureflow serve` with DATABASE_URL until it exits. As root, permissions do not stop writes: the server then
 * runs as `nobody` (uid 65534), for whom they do.
 */
function serveAs(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const tsx = import.meta.resolve('tsx');
  const proc = spawn(process.execPath, ['--import', tsx, join(repoRoot, 'src', 'cli.ts'), 'serve'], {
    cwd: repoRoot,
    env: { ...process.env, HOST: '127.0.0.1', LOG_LEVEL: 'warn', ...env, ...(asRoot ? { HOME: tmpdir() } : {}) },
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(asRoot ? { uid: 65534, gid: 65534 } : {}),
  });
  let output = '';
  proc.stdout!.on('data', (d) => (output += d));
  proc.stderr!.on('data', (d) => (output += d));
  const timer = setTimeout(() => proc.kill('SIGKILL'), 60_000);
  return new Promise((resolve) => proc.once('close', (code) => (clearTimeout(timer), resolve({ code, output }))));
}

/** A folder `nobody` (or the test's own user) may enter but not write. */
function readOnlyDir(): string {
  const parent = mkdtempSync(join(tmpdir(), 'insureflow-ro-'));
  chmodSync(parent, 0o755);
  const dir = join(parent, 'data');
  mkdirSync(dir);
  chmodSync(dir, 0o555);
  return dir;
}

(onPostgres ? test.skip : test)('a read-only data folder or database file stops `insureflow serve` with CONFIG_INVALID naming the path and what to do, without a stack', async () => {
  const noStack = (out: string) => assert.not.match(out, /^\s+at /m, out);
  const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  await Then('a database file to be created in a read-only folder', async () => {
    const dir = readOnlyDir();
    const run = await serveAs({ DATABASE_URL: join(dir, 'insureflow.sqlite'), PORT: String(await freePort()) });
    assert.is(run.code, 1, run.output);
    assert.match(run.output, /CONFIG_INVALID/);
    assert.ok(run.output.includes(dir), run.output);
    assert.match(run.output, /not writable.*make it writable|make it writable/s);
    noStack(run.output);
  });
  await And('a database folder to be created under a read-only folder', async () => {
    const dir = readOnlyDir();
    const run = await serveAs({ DATABASE_URL: join(dir, 'sub', 'insureflow.sqlite'), PORT: String(await freePort()) });
    assert.is(run.code, 1, run.output);
    assert.match(run.output, /CONFIG_INVALID: cannot create the database folder/);
    assert.ok(run.output.includes(join(dir, 'sub')), run.output);
    noStack(run.output);
  });
  await And('an existing database file that is read-only, in a writable folder', async () => {
    const parent = mkdtempSync(join(tmpdir(), 'insureflow-ro-'));
    chmodSync(parent, 0o755);
    const dir = join(parent, 'data');
    mkdirSync(dir);
    const file = join(dir, 'insureflow.sqlite');
    const db = await openDb({ url: file });
    await migrate(db);
    await db.destroy();
    if (asRoot) chownSync(dir, 65534, 65534);
    chmodSync(file, 0o444);
    const run = await serveAs({ DATABASE_URL: file, PORT: String(await freePort()) });
    assert.is(run.code, 1, run.output);
    assert.match(run.output, /CONFIG_INVALID: the database file .* is not writable/);
    assert.ok(run.output.includes(file), run.output);
    noStack(run.output);
  });
  await And('an existing, writable database file in a read-only folder (SQLite cannot create its journal there)', async () => {
    const parent = mkdtempSync(join(tmpdir(), 'insureflow-ro-'));
    chmodSync(parent, 0o755);
    const dir = join(parent, 'data');
    mkdirSync(dir);
    const file = join(dir, 'insureflow.sqlite');
    const db = await openDb({ url: file });
    await migrate(db);
    await db.destroy();
    if (asRoot) chownSync(file, 65534, 65534);
    chmodSync(dir, 0o555);
    const run = await serveAs({ DATABASE_URL: file, PORT: String(await freePort()) });
    assert.is(run.code, 1, run.output);
    assert.match(run.output, /CONFIG_INVALID: the database folder .* is not writable .*journal files/);
    assert.ok(run.output.includes(dir), run.output);
    noStack(run.output);
  });
});

http.run();
random.run();
engine.run();
storage.run();
test.run();
