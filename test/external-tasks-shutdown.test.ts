/**
 * A graceful shutdown does not wait for long polls: given a worker's fetchAndLock held with the longest
 * asyncResponseTimeout (30 minutes), when the app closes, then the poll is answered 200 with no task and the
 * close completes (before the fix the close waited for the whole timeout). The guard below only turns a hang
 * into a failure; nothing is measured.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { basic, call, fetchBody, setup, teardown, type Ctx } from './support/external-tasks-http.ts';

test('closing the app answers held long polls at once with no task', async () => {
  const ctx = {} as Ctx;
  await setup(ctx);
  try {
    const held = call(ctx, basic('wanda', ctx.tokens.wanda), 'POST', '/engine-rest/external-task/fetchAndLock', { ...fetchBody('w-s', 'http.pay', 'r-none'), asyncResponseTimeout: 1_800_000 });
    // let the request reach the route (if it came only after the close began, it gets 503: accepted below)
    const connections = () => new Promise<number>((r) => ctx.app.server.getConnections((_e, n) => r(n)));
    for (let i = 0; i < 500 && (await connections()) === 0; i++) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 200));
    let guard: NodeJS.Timeout | undefined;
    const hung = new Promise<never>((_, reject) => {
      guard = setTimeout(() => reject(new Error('app.close() still waits for the long poll after 60 s')), 60_000);
    });
    try {
      await Promise.race([ctx.app.close(), hung]);
      const res = await Promise.race([held, hung]);
      if (res.status !== 503) {
        assert.is(res.status, 200, res.text);
        assert.equal(res.body, []);
      }
    } finally {
      clearTimeout(guard);
    }
  } finally {
    await teardown(ctx);
  }
});

test.run();
