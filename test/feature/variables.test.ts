/**
 * Feature: variables and mappings (issue 9, section 5). Input mappings are local variables of their activity,
 * seen by its handler and expressions; outputs decide what reaches the enclosing scope; handlers see only process
 * variables and their locals. Camunda 8 (`zeebe:ioMapping`) and Camunda 7 (`camunda:inputOutput`), on the suite's
 * database (SQLite, or PostgreSQL with DATABASE_URL), without HTTP, with a ManualClock and stub handlers.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { fixture, testEngine, ops, type TestEngine } from '../helpers.ts';
import { InsureflowEngine } from '../../src/persistence/knex-engine.ts';
import type { HandlerContext, Variables } from '../../src/engine/runtime.ts';
import { InsureflowError } from '../../src/errors.ts';
import { Given, When, Then, And } from './gwt.ts';

const resources = (...names: string[]) => names.map((n) => ({ name: n.replace(/^.*\//, ''), content: fixture(n) }));
const underwriter = ops('uma', 'underwriters');
const INTERNALS = ['fields', 'content', 'properties'];

interface Ctx {
  t: TestEngine;
  seen: Map<string, Variables[]>;
}

const record = (ctx: Ctx, name: string, out: (v: Readonly<Variables>) => Variables) => ({ variables }: HandlerContext) => {
  ctx.seen.set(name, [...(ctx.seen.get(name) ?? []), { ...variables }]);
  return out(variables);
};

function handlers(ctx: Ctx, engine: InsureflowEngine): InsureflowEngine {
  return engine
    .registerHandler('scoreRisk', record(ctx, 'scoreRisk', () => ({ score: 7, scoringModel: 'v2' })))
    .registerHandler('enrich', record(ctx, 'enrich', () => ({ status: 'enriched', region: 'north' })))
    .registerHandler('add', record(ctx, 'add', (v) => ({ total: Number(v.total) + 150, addedBy: 'add' })))
    .registerHandler('quote', record(ctx, 'quote', () => ({ price: 420, internalRate: 0.3 })));
}

const io = suite<Ctx>('variables: input and output mappings');
io.before(async (ctx) => {
  ctx.t = await testEngine();
  ctx.seen = new Map();
  handlers(ctx, ctx.t.engine);
  await ctx.t.engine.deploy(resources('feature/variables/io-zeebe-service.bpmn', 'feature/variables/io-zeebe-propagation.bpmn', 'feature/variables/io-camunda.bpmn'));
});
io.after(async (ctx) => ctx.t.close());
io.before.each((ctx) => ctx.seen.clear());

io('Camunda 8: inputs are the job\'s local variables, only mapped outputs reach the process (case 15)', async (ctx) => {
  const { t } = ctx;
  const inst = await When('an instance starts with a claim of 1200', () => t.engine.startInstance('io-zeebe-service', { variables: { claim: { amount: 1200, peril: 'water' } } }));
  await Then('the handler saw the inputs, each seeing the ones before it, and no engine internals', () => {
    const [seen] = ctx.seen.get('scoreRisk') ?? [];
    assert.ok(seen, 'the handler ran');
    assert.is(seen.amount, 1200);
    assert.is(seen.doubled, 2400);
    assert.equal(seen.claim, { amount: 1200, peril: 'water' });
    for (const k of INTERNALS) assert.not.ok(k in seen, `the handler does not see "${k}"`);
  });
  await And('the process has the mapped outputs (a nested target too) and nothing else of the job', () => {
    assert.is(inst.variables.riskScore, 7);
    assert.equal(inst.variables.assessment, { high: true });
    for (const k of ['score', 'scoringModel', 'amount', 'doubled', ...INTERNALS]) assert.not.ok(k in inst.variables, `"${k}" stays out of the process`);
    assert.equal(inst.openTasks.map((x) => x.activityId), ['Task_Review']);
  });
  await And('the history records only process-level changes', async () => {
    const changes = (await t.engine.history(inst.id)).filter((h) => h.type === 'variables.changed').flatMap((h) => Object.keys((h.data as any).changes));
    assert.ok(changes.includes('riskScore'));
    assert.not.ok(changes.includes('amount'));
  });
});

io('Camunda 8: propagation updates a local of the same name; a sub-process\'s inputs are seen inside it, its outputs leave', async (ctx) => {
  const { t } = ctx;
  const inst = await When('an instance runs enrich (status is an input of it) and the assessment sub-process', () => t.engine.startInstance('io-zeebe-propagation', { variables: { status: 'new' } }));
  await Then('the job\'s status went to the task\'s local, not to the process; its other results did', () => {
    assert.is(inst.variables.status, 'new', 'the process keeps its status');
    assert.is(inst.variables.region, 'north');
  });
  await And('the task inside the sub-process saw the sub-process\'s inputs, computed from the variables before it', () => {
    const [add] = ctx.seen.get('add') ?? [];
    assert.is(add.total, 0);
    assert.is(add.team, 'north-team');
  });
  const task = await And('the gateway inside saw the updated local total (150 > 100): the check task is open with its assignee, group and due date from locals', () => {
    assert.equal(inst.openTasks.map((x) => x.activityId), ['Task_Check']);
    const tk = inst.openTasks[0];
    assert.is(tk.assignee, 'lead-north-team');
    assert.equal(tk.candidateGroups, ['north-team']);
    assert.is(tk.dueAt, new Date(t.clock.now() + 2 * 86_400_000).toISOString());
    assert.not.ok('total' in inst.variables, 'the sub-process local total is not a process variable');
    assert.is(inst.variables.addedBy, 'add', 'a result no scope holds reaches the process');
    return tk;
  });
  await When('the check is completed with approved = true by an engine started afresh (the locals come from the database)', async () => {
    const fresh = handlers(ctx, new InsureflowEngine({ db: t.tdb.db, clock: t.clock }));
    await fresh.completeTask(task.id, { approved: true, note: 'fine' }, ops('lead-north-team'));
  });
  await Then('the task\'s output and the sub-process\'s output reach the process; locals and unmapped form data do not', async () => {
    const now = await t.engine.getInstance(inst.id);
    assert.is(now.status, 'completed');
    assert.is(now.variables.checkApproved, true);
    assert.is(now.variables.assessedTotal, 150);
    for (const k of ['total', 'team', 'reviewer', 'due', 'approved', 'note']) assert.not.ok(k in now.variables, `"${k}" stays local`);
  });
});

io('Camunda 7: text, ${...}, list, map and empty input parameters; output parameters decide what the process gets', async (ctx) => {
  const { t } = ctx;
  const inst = await When('an instance starts with a policy', () => t.engine.startInstance('io-camunda', { variables: { policy: { sumInsured: 250000 }, extraPeril: 'storm' } }));
  await Then('the handler saw every input parameter', () => {
    const [seen] = ctx.seen.get('quote') ?? [];
    assert.is(seen.channel, 'broker');
    assert.is(seen.sum, 250000);
    assert.equal(seen.perils, ['fire', 'storm']);
    assert.equal(seen.limits, { fire: 250000, theft: '5000' });
    assert.ok('none' in seen && seen.none === null);
    for (const k of INTERNALS) assert.not.ok(k in seen);
  });
  await And('the process got the output parameters only, evaluated over the task\'s locals and result', () => {
    assert.is(inst.variables.premium, 420);
    assert.is(inst.variables.quotedBy, 'broker');
    for (const k of ['price', 'internalRate', 'channel', 'sum', 'perils', 'limits']) assert.not.ok(k in inst.variables, `"${k}" stays out`);
  });
  const task = await And('the user task\'s candidate group comes from its own input parameter', () => {
    const tk = inst.openTasks[0];
    assert.equal(tk.candidateGroups, ['underwriters']);
    return tk;
  });
  await When('the task is completed with answer = yes', () => t.engine.completeTask(task.id, { answer: 'yes' }, underwriter));
  await Then('accepted is set from the output parameter; the form field itself stays local', async () => {
    const now = await t.engine.getInstance(inst.id);
    assert.is(now.status, 'completed');
    assert.is(now.variables.accepted, true);
    assert.not.ok('answer' in now.variables);
  });
});

io('mappings the engine cannot run are refused at deploy, each with its element and what to write instead', async ({ t }) => {
  const err = await When('a diagram with a script input, a bad variable name, a nameless output and a template is deployed', async () => {
    try {
      await t.engine.deploy(resources('feature/variables/io-refused.bpmn'));
    } catch (e) {
      return e as InsureflowError;
    }
    throw new Error('expected the deployment to be refused');
  });
  await Then('it is refused naming each element', () => {
    assert.is(err.code, 'BPMN_INVALID');
    const problems = err.details as { element: string | null; message: string }[];
    const about = (id: string, re: RegExp) => assert.ok(problems.some((p) => p.element === id && re.test(p.message)), `${id}: ${re} in ${JSON.stringify(problems)}`);
    about('Task_Script', /script.*never run code/);
    about('Task_Names', /"2fast", which is not a variable name/);
    about('Task_Names', /without a variable name/);
    about('Task_Names', /template/);
  });
  await And('nothing was stored', async () => {
    assert.not.ok((await t.engine.listDefinitions()).some((d) => d.key === 'io-refused'));
  });
});

io.run();
