/**
 * Bytes that are not UTF-8 are refused, not repaired: a JSON body with `\xff` or an encoded lone surrogate
 * (`\xed\xa0\x80`) was decoded to U+FFFD and stored (201); a URL with `%ED%A0%80` in its query was answered 200
 * and in its path got Fastify's own error shape (FST_ERR_BAD_URL). Given the real app on a socket, when such
 * requests come, then each is a 400 in the API's error shape and nothing is started.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { buildApp } from '../src/http/app.ts';
import { testEngine } from './helpers.ts';

const BPMN = `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="Defs_Bytes" targetNamespace="http://insureflow.test">
  <bpmn:process id="bytes-test" isExecutable="true">
    <bpmn:startEvent id="Start" />
    <bpmn:sequenceFlow id="F1" sourceRef="Start" targetRef="Task" />
    <bpmn:userTask id="Task" name="Look" />
    <bpmn:sequenceFlow id="F2" sourceRef="Task" targetRef="End" />
    <bpmn:endEvent id="End" />
  </bpmn:process>
</bpmn:definitions>`;

/** Sends raw bytes over the socket (fetch would re-encode them) and returns status and parsed body. */
function send(port: number, method: string, path: string, token: string, body?: Buffer): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json', 'content-length': body.length } : {}) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8') || 'null') }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

test('a body, a query or a path whose bytes are not UTF-8 is a 400 in the API error shape; nothing is started', async () => {
  const t = await testEngine();
  const app = await buildApp({ engine: t.engine });
  try {
    await t.engine.deploy([{ name: 'bytes.bpmn', content: BPMN }]);
    const { token } = await t.engine.users.add({ name: 'root', roles: ['admin'], groups: [] });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const port = (app.server.address() as AddressInfo).port;
    const json = (before: string, bytes: number[], after: string) => Buffer.concat([Buffer.from(before), Buffer.from(bytes), Buffer.from(after)]);

    for (const bytes of [[0xff, 0xfe], [0xed, 0xa0, 0x80], [0xc3]]) {
      const res = await send(port, 'POST', '/api/process-definitions/bytes-test/start', token, json('{"businessKey":"B-1","variables":{"note":"Burst ', bytes, ' pipe"}}'));
      assert.is(res.status, 400, JSON.stringify(res.body));
      assert.is(res.body.code, 'VALIDATION_FAILED');
      assert.match(res.body.message, /not valid UTF-8/);
    }
    const query = await send(port, 'GET', '/api/process-instances?businessKey=%ED%A0%80', token);
    assert.is(query.status, 400);
    assert.is(query.body.code, 'BAD_REQUEST');
    assert.match(query.body.message, /not valid UTF-8/);
    for (const path of ['/api/process-instances/%ED%A0%80', '/api/users/%FF']) {
      const res = await send(port, 'GET', path, token);
      assert.is(res.status, 400, path);
      assert.is(res.body.code, 'BAD_REQUEST', `${path}: ${JSON.stringify(res.body)}`);
      assert.is(res.body.statusCode, 400);
    }
    assert.is((await t.engine.listInstances({} as never)).items.length, 0, 'nothing was started');

    const ok = await send(port, 'POST', '/api/process-definitions/bytes-test/start', token, Buffer.from('{"businessKey":"B-2","variables":{"note":"Rohrbruch – Küche ✓ 𝄞"}}'));
    assert.is(ok.status, 201, 'well-formed UTF-8, astral characters included, is accepted');
    const q = await send(port, 'GET', `/api/process-instances?businessKey=${encodeURIComponent('B-2')}`, token);
    assert.is(q.body.items.length, 1);
  } finally {
    await app.close();
    await t.close();
  }
});

test.run();
