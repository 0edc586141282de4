/**
 * Resource files are decoded by their XML declaration's encoding (src/definitions/encoding.ts): a Latin-1 or
 * windows-1252 BPMN file deployed over HTTP (multipart or raw body, real socket) or from a processes folder keeps
 * its accented names; an encoding we cannot decode is 422 RESOURCE_ENCODING_UNSUPPORTED naming the resource.
 * SQLite and PostgreSQL (DATABASE_URL).
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { testEngine, type TestEngine } from './helpers.ts';
import { buildApp } from '../src/http/app.ts';
import { readProcessDir } from '../src/server.ts';

interface Ctx {
  t: TestEngine;
  app: FastifyInstance;
  base: string;
  token: string;
}
const enc = suite<Ctx>('resource encoding');

const bpmn = (encoding: string, key: string, taskName: string) => `<?xml version="1.0" encoding="${encoding}"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="Defs_${key}" targetNamespace="http://insureflow.test">
  <bpmn:process id="${key}" name="${taskName} Prozess" isExecutable="true">
    <bpmn:startEvent id="S" />
    <bpmn:sequenceFlow id="F1" sourceRef="S" targetRef="Task_Check" />
    <bpmn:userTask id="Task_Check" name="${taskName}" />
    <bpmn:sequenceFlow id="F2" sourceRef="Task_Check" targetRef="E" />
    <bpmn:endEvent id="E" />
  </bpmn:process>
</bpmn:definitions>`;

enc.before(async (ctx) => {
  ctx.t = await testEngine();
  ctx.app = await buildApp({ engine: ctx.t.engine });
  await ctx.app.listen({ port: 0, host: '127.0.0.1' });
  const addr = ctx.app.server.address() as { port: number };
  ctx.base = `http://127.0.0.1:${addr.port}`;
  ctx.token = (await ctx.t.engine.users.add({ name: 'ana', roles: ['admin'], groups: [] })).token;
});
enc.after(async (ctx) => {
  await ctx.app.close();
  await ctx.t.close();
});

async function openTaskName(ctx: Ctx, key: string): Promise<string | null> {
  const started = await ctx.t.engine.startInstance(key, {});
  const detail = await ctx.t.engine.getInstance(started.id);
  return detail.openTasks[0]?.name ?? null;
}

async function upload(ctx: Ctx, file: string, bytes: Buffer): Promise<Response> {
  const form = new FormData();
  form.append('file', new Blob([new Uint8Array(bytes)], { type: 'application/octet-stream' }), file);
  return fetch(`${ctx.base}/api/deployments`, { method: 'POST', body: form, headers: { authorization: `Bearer ${ctx.token}` } });
}

enc('a Latin-1 file uploaded as multipart deploys with its accented names read right', async (ctx) => {
  const bytes = Buffer.from(bpmn('ISO-8859-1', 'latin', 'Schadenprüfung'), 'latin1');
  assert.is(bytes.includes(Buffer.from([0xfc])), true, 'ü is one Latin-1 byte');
  const res = await upload(ctx, 'latin.bpmn', bytes);
  const body = await res.json();
  assert.is(res.status, 201, JSON.stringify(body));
  assert.equal(body.definitions.map((d: any) => [d.key, d.name]), [['latin', 'Schadenprüfung Prozess']]);
  assert.is(await openTaskName(ctx, 'latin'), 'Schadenprüfung');
  const xml = await fetch(`${ctx.base}/api/process-definitions/latin/xml`, { headers: { authorization: `Bearer ${ctx.token}` } });
  assert.match(await xml.text(), /name="Schadenprüfung"/);
});

enc('a windows-1252 file sent as the raw body keeps its € and ü', async (ctx) => {
  const text = bpmn('windows-1252', 'cp', 'Schadenprüfung über 500 €');
  // windows-1252: € is 0x80, the Latin-1 letters are their own code points
  const cp = Buffer.from(Array.from(text, (ch) => (ch === '€' ? 0x80 : ch.charCodeAt(0))));
  const res = await fetch(`${ctx.base}/api/deployments`, { method: 'POST', body: new Uint8Array(cp), headers: { authorization: `Bearer ${ctx.token}`, 'content-type': 'application/xml' } });
  assert.is(res.status, 201, await res.clone().text());
  assert.is(await openTaskName(ctx, 'cp'), 'Schadenprüfung über 500 €');
});

enc('an encoding we cannot decode is 422 RESOURCE_ENCODING_UNSUPPORTED naming the file; UTF-8 stays as it was', async (ctx) => {
  const res = await upload(ctx, 'ebcdic.bpmn', Buffer.from(bpmn('IBM037', 'ebcdic', 'Prüfung'), 'latin1'));
  const body = await res.json();
  assert.is(res.status, 422);
  assert.is(body.code, 'RESOURCE_ENCODING_UNSUPPORTED');
  assert.match(body.message, /ebcdic\.bpmn declares the encoding "ibm037"/);
  const utf8 = await upload(ctx, 'utf8.bpmn', Buffer.from(bpmn('UTF-8', 'utf8', 'Schadenprüfung'), 'utf8'));
  assert.is(utf8.status, 201);
  assert.is(await openTaskName(ctx, 'utf8'), 'Schadenprüfung');
});

enc('a Latin-1 file in a processes folder is read by its declaration', async (ctx) => {
  const dir = mkdtempSync(join(tmpdir(), 'insureflow-enc-'));
  try {
    writeFileSync(join(dir, 'folder.bpmn'), Buffer.from(bpmn('ISO-8859-1', 'folder', 'Schadenprüfung'), 'latin1'));
    const resources = await readProcessDir(dir);
    assert.equal(resources.map((r) => r.name), ['folder.bpmn']);
    assert.match(resources[0].content, /name="Schadenprüfung"/);
    const r = await ctx.t.engine.deploy(resources);
    assert.equal(r.definitions.map((d) => d.name), ['Schadenprüfung Prozess']);
    assert.is(await openTaskName(ctx, 'folder'), 'Schadenprüfung');
    writeFileSync(join(dir, 'bad.bpmn'), Buffer.from(bpmn('KOI8-R', 'bad', 'x'), 'latin1'));
    const err = await readProcessDir(dir).then(() => null, (e: any) => e);
    assert.is(err?.code, 'RESOURCE_ENCODING_UNSUPPORTED');
    assert.match(err.message, /bad\.bpmn declares the encoding "koi8-r"/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

enc.run();
