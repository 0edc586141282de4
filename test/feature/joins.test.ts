/**
 * Feature: converging gateways (issue 9, section 6). A parallel join waits for a token on every incoming flow,
 * also when a branch passes an exclusive split and merge (paed01/bpmn-engine#200); a converging inclusive
 * gateway waits for every token that can still arrive (BPMN 2.0 13.3.4). Engine without HTTP, ManualClock, stub
 * handlers, on the suite's database; every step after the start recovers the engine from the database.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { fixture, testEngine, ops, type TestEngine } from '../helpers.ts';
import { Given, When, Then, And } from './gwt.ts';

const resources = (...names: string[]) => names.map((n) => ({ name: n.replace(/^feature\//, ''), content: fixture(n) }));
const anyone = ops('ivy', 'investigators', 'surveyors', 'adjusters');

interface Ctx {
  t: TestEngine;
  calls: Record<string, number>;
}

function counting(ctx: Ctx, ...names: string[]) {
  for (const name of names) {
    ctx.t.engine.registerHandler(name, () => {
      ctx.calls[name] = (ctx.calls[name] ?? 0) + 1;
      return { [`${name}Done`]: true };
    });
  }
}

async function openTask(t: TestEngine, id: string, activityId: string) {
  const task = (await t.engine.getInstance(id)).openTasks.find((x) => x.activityId === activityId);
  assert.ok(task, `${activityId} is open`);
  return task!;
}

const completedCount = async (t: TestEngine, id: string, activityId: string) =>
  (await t.engine.history(id)).filter((h) => h.type === 'activity.completed' && h.activityId === activityId).length;

// ------------------------------------------------------------------------------------------------ parallel join

const parallel = suite<Ctx>('parallel join behind exclusive splits and merges');
parallel.before(async (ctx) => {
  ctx.t = await testEngine();
  ctx.calls = {};
  counting(ctx, 'checkCoverage', 'settle', 'register', 'openFile');
  await ctx.t.engine.deploy(resources('feature/join-after-exclusive.bpmn', 'feature/join-in-subprocess.bpmn'));
});
parallel.before.each((ctx) => {
  ctx.calls = {};
});
parallel.after(async (ctx) => ctx.t.close());

parallel('both exclusive branches wait: the join waits for each, settles once when the last arrives', async (ctx) => {
  const { t } = ctx;
  const inst = await Given('a claim that needs an investigation and a survey', () =>
    t.engine.startInstance('join-after-exclusive', { variables: { fraudScore: 80, needsSurvey: true } }));
  await Then('the coverage check ran, nothing after the join did', () => {
    assert.is(inst.status, 'active');
    assert.is(ctx.calls.checkCoverage, 1);
    assert.is(ctx.calls.settle, undefined);
    assert.equal(inst.openTasks.map((x) => x.activityId).sort(), ['Task_Investigate', 'Task_Survey']);
  });
  await When('the investigation is done', async () => t.engine.completeTask((await openTask(t, inst.id, 'Task_Investigate')).id, {}, anyone));
  await Then('the join still waits for the survey branch', async () => {
    const now = await t.engine.getInstance(inst.id);
    assert.is(now.status, 'active');
    assert.is(ctx.calls.settle, undefined);
    assert.is(await completedCount(t, inst.id, 'Join'), 0);
  });
  await When('the survey finds a large loss', async () => t.engine.completeTask((await openTask(t, inst.id, 'Task_Survey')).id, { surveyAmount: 25000 }, anyone));
  await Then('the review inside the sub-process is offered, the join still waits', async () => {
    await openTask(t, inst.id, 'Task_Review');
    assert.is(ctx.calls.settle, undefined);
  });
  await When('the review is done', async () => t.engine.completeTask((await openTask(t, inst.id, 'Task_Review')).id, {}, anyone));
  await Then('the join passes once, settle runs once, the instance completes', async () => {
    const done = await t.engine.getInstance(inst.id);
    assert.is(done.status, 'completed');
    assert.is(ctx.calls.settle, 1);
    assert.is(await completedCount(t, inst.id, 'Join'), 1);
  });
});

parallel('every combination of the two exclusive splits settles exactly once, after the last wait', async (ctx) => {
  const { t } = ctx;
  for (const fraudScore of [10, 90]) {
    for (const needsSurvey of [false, true]) {
      for (const surveyAmount of needsSurvey ? [500, 50000] : [0]) {
        ctx.calls = {};
        const label = `fraudScore ${fraudScore}, survey ${needsSurvey}, amount ${surveyAmount}`;
        const inst = await Given(label, () => t.engine.startInstance('join-after-exclusive', { variables: { fraudScore, needsSurvey } }));
        for (let guard = 0; guard < 5; guard++) {
          const now = await t.engine.getInstance(inst.id);
          if (now.status !== 'active') break;
          await Then(`${label}: not settled while ${now.openTasks.map((x) => x.activityId)} wait`, () => {
            assert.ok(now.openTasks.length > 0, 'an active instance has something to do (never stuck)');
            assert.is(ctx.calls.settle, undefined);
          });
          const task = now.openTasks[now.openTasks.length - 1];
          await t.engine.completeTask(task.id, task.activityId === 'Task_Survey' ? { surveyAmount } : {}, anyone);
        }
        await Then(`${label}: completed, settled once, joined once`, async () => {
          assert.is((await t.engine.getInstance(inst.id)).status, 'completed');
          assert.is(ctx.calls.settle, 1);
          assert.is(await completedCount(t, inst.id, 'Join'), 1);
        });
      }
    }
  }
});

parallel('inside a sub-process: the join waits for a message behind an exclusive split', async (ctx) => {
  const { t } = ctx;
  const inst = await Given('an intake with documents missing', () =>
    t.engine.startInstance('join-in-subprocess', { businessKey: 'CLM-JOIN-1', variables: { documentsMissing: true } }));
  await Then('registration ran, the file is not opened', () => {
    assert.is(inst.status, 'active');
    assert.is(ctx.calls.register, 1);
    assert.is(ctx.calls.openFile, undefined);
  });
  await When('the documents arrive', () => t.engine.correlateMessage({ name: 'documents-received', businessKey: 'CLM-JOIN-1' }));
  await Then('the file is opened once and the instance completes', async () => {
    assert.is((await t.engine.getInstance(inst.id)).status, 'completed');
    assert.is(ctx.calls.openFile, 1);
  });
  await And('with the documents there it completes at once', async () => {
    ctx.calls = {};
    const direct = await t.engine.startInstance('join-in-subprocess', { variables: { documentsMissing: false } });
    assert.is(direct.status, 'completed');
    assert.equal(ctx.calls, { register: 1, openFile: 1 });
  });
});

// ------------------------------------------------------------------------------------------------ inclusive join

const inclusive = suite<Ctx>('converging inclusive gateway');
inclusive.before(async (ctx) => {
  ctx.t = await testEngine();
  ctx.calls = {};
  counting(ctx, 'medicalCheck', 'basicCheck', 'decide');
  await ctx.t.engine.deploy(resources('feature/inclusive-join.bpmn'));
});
inclusive.before.each((ctx) => {
  ctx.calls = {};
});
inclusive.after(async (ctx) => ctx.t.close());

inclusive('is accepted at deploy', async ({ t }) => {
  const def = await t.engine.getDefinition('inclusive-checks');
  assert.is(def.key, 'inclusive-checks');
});

inclusive('two started checks that wait: the decision runs once, after both', async (ctx) => {
  const { t } = ctx;
  const inst = await Given('a theft of 8,000 (police report and survey)', () =>
    t.engine.startInstance('inclusive-checks', { variables: { theft: true, amount: 8000, injury: false } }));
  await Then('both checks are offered, nothing decided', () => {
    assert.equal(inst.openTasks.map((x) => x.activityId).sort(), ['Task_Police', 'Task_Survey']);
    assert.is(ctx.calls.decide, undefined);
    assert.is(ctx.calls.basicCheck, undefined, 'the default flow is not taken when a condition holds');
  });
  await When('the police report arrives', async () => t.engine.completeTask((await openTask(t, inst.id, 'Task_Police')).id, {}, anyone));
  await Then('the join waits for the survey', async () => {
    assert.is((await t.engine.getInstance(inst.id)).status, 'active');
    assert.is(ctx.calls.decide, undefined);
  });
  await When('the survey finds a large loss, so a review follows behind an exclusive split', async () =>
    t.engine.completeTask((await openTask(t, inst.id, 'Task_Survey')).id, { surveyAmount: 12000 }, anyone));
  await Then('the join waits for the review too', async () => {
    await openTask(t, inst.id, 'Task_Review');
    assert.is(ctx.calls.decide, undefined);
  });
  await When('the review is done', async () => t.engine.completeTask((await openTask(t, inst.id, 'Task_Review')).id, {}, anyone));
  await Then('the decision runs once and the instance completes', async () => {
    assert.is((await t.engine.getInstance(inst.id)).status, 'completed');
    assert.is(ctx.calls.decide, 1);
    assert.is(await completedCount(t, inst.id, 'Join'), 1);
  });
});

inclusive('every combination of checks decides exactly once, after the last started check', async (ctx) => {
  const { t } = ctx;
  for (const theft of [false, true]) {
    for (const amount of [1000, 8000]) {
      for (const injury of [false, true]) {
        ctx.calls = {};
        const label = `theft ${theft}, amount ${amount}, injury ${injury}`;
        const inst = await Given(label, () => t.engine.startInstance('inclusive-checks', { variables: { theft, amount, injury } }));
        const started = [theft && 'Task_Police', amount > 5000 && 'Task_Survey'].filter(Boolean);
        await Then(`${label}: the started checks are offered`, () => assert.equal(inst.openTasks.map((x) => x.activityId).sort(), started));
        for (const task of inst.openTasks) {
          await Then(`${label}: not decided while ${task.activityId} waits`, () => assert.is(ctx.calls.decide, undefined));
          await t.engine.completeTask(task.id, { surveyAmount: 100 }, anyone);
        }
        await Then(`${label}: completed, decided once, the service checks ran as chosen`, async () => {
          assert.is((await t.engine.getInstance(inst.id)).status, 'completed');
          assert.is(ctx.calls.decide, 1);
          assert.is(ctx.calls.medicalCheck, injury ? 1 : undefined);
          assert.is(ctx.calls.basicCheck, !theft && amount <= 5000 && !injury ? 1 : undefined);
        });
      }
    }
  }
});

parallel.run();
inclusive.run();
