/**
 * The HTTP fuzzer (test/tools/fuzz.ts, `npm run fuzz`) in CI: 500 seeded malformed requests over every route of
 * the real server (shipped processes, one user per role) on this suite's database; not one answer >= 500 (503
 * only while shutting down), and every request answered.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runFuzz } from './tools/fuzz.ts';
import { TEST_DB_URL } from './helpers.ts';

test('500 malformed requests over every route: no answer >= 500, none unanswered', async () => {
  const report = await runFuzz({ requests: 500, seed: 20261130, databaseUrl: TEST_DB_URL || undefined });
  for (const route of ['POST /api/deployments', 'POST /api/process-definitions/:key/start', 'POST /api/tasks/:id/complete', 'POST /api/messages', 'GET /api/forms/*', 'GET /health']) {
    assert.ok(report.routes.includes(route), `the route table was read: ${route}`);
  }
  const answered = Object.entries(report.counts).filter(([status]) => /^\d+$/.test(status)).reduce((n, [, c]) => n + c, 0);
  assert.is(answered, 500, JSON.stringify(report.counts));
  assert.ok((report.counts['400'] ?? 0) > 50 && (report.counts['200'] ?? 0) > 50, `malformed and valid requests both reached the routes: ${JSON.stringify(report.counts)}`);
  const shown = report.failures.slice(0, 5).map((f) => `${f.status} ${f.request.method} ${f.request.url.slice(0, 200)} body=${f.request.body.slice(0, 300)} -> ${f.response.slice(0, 300)}`);
  assert.is(report.failures.length, 0, shown.join('\n'));
});

test.run();
