/**
 * Deployment and the deployed artefacts: validating and versioning BPMN, DMN and form schemas, scheduling
 * timer start events, loading decision tables, looking up definitions (with the caches of compiled versions
 * and of their key/version), and form schemas with their compiled validators.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { ValidateFunction } from 'ajv';
import { InsureflowError } from '../errors.ts';
import type { DefinitionMeta, EngineContext } from './context.ts';
import { compileDefinition, type CachedDefinition } from './definitions.ts';
import { resolveValue } from './expressions.ts';
import { compileSchema, fieldErrors } from './forms.ts';
import { cycleRepeats, timerDueAt } from './iso.ts';
import { parseBpmn, BpmnInvalidError, type ParsedBpmn } from '../definitions/parse.ts';
import { validateBpmn } from '../definitions/validate.ts';
import { parseDmn, DmnInvalidError, type DecisionTable } from '../decisions/dmn.ts';
import { appendHistory } from '../persistence/history.ts';
import { toDefinition, type DefinitionRow, type Trx, type ProcessDefinition } from '../persistence/store.ts';
import { SYSTEM, type Actor } from '../persistence/users.ts';

export interface Resource {
  name: string;
  content: string;
}

export interface DeployResult {
  deploymentId: string | null;
  created: boolean;
  definitions: { id: string; key: string; version: number; name: string | null; created: boolean }[];
  forms: { formKey: string; version: number; created: boolean }[];
  decisions: { decisionKey: string; version: number; created: boolean }[];
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

export async function loadDecisions(ctx: EngineContext): Promise<void> {
  const rows = await ctx.db('decision_definitions as d')
    .whereRaw('d.version = (select max(version) from decision_definitions x where x.decision_key = d.decision_key)')
    .select('d.*');
  const seen = new Set<string>();
  for (const r of rows) {
    const tables = await parseDmn(r.xml, r.resource_name);
    for (const t of tables) if (t.id === r.decision_key && !seen.has(t.id)) {
      ctx.decisions.add([t]);
      seen.add(t.id);
    }
  }
  ctx.run.decisionsLoaded = true;
}

export async function deploy(ctx: EngineContext, resources: Resource[], opts: { actor?: Actor; source?: string; name?: string } = {}): Promise<DeployResult> {
  const actor = opts.actor ?? SYSTEM;
  if (!ctx.run.decisionsLoaded) await loadDecisions(ctx);
  if (!resources.length) throw new InsureflowError('VALIDATION_FAILED', 'a deployment needs at least one resource');
  const problems: { resource: string; element: string | null; message: string }[] = [];
  const bpmn: { name: string; content: string; parsed: ParsedBpmn }[] = [];
  const dmn: { name: string; content: string; tables: DecisionTable[] }[] = [];
  const forms: { name: string; formKey: string; content: string; schema: unknown }[] = [];

  for (const r of resources) {
    const lower = r.name.toLowerCase();
    if (lower.endsWith('.schema.json')) {
      const formKey = r.name.replace(/^.*[\\/]/, '').slice(0, -'.schema.json'.length);
      try {
        const schema = JSON.parse(r.content);
        compileSchema(schema);
        forms.push({ name: r.name, formKey, content: JSON.stringify(schema), schema });
      } catch (err) {
        problems.push({ resource: r.name, element: null, message: `form schema "${formKey}" is not a valid JSON Schema: ${(err as Error).message}` });
      }
    } else if (lower.endsWith('.dmn') || /<definitions[^>]+dmn/i.test(r.content.slice(0, 2000)) && !lower.endsWith('.bpmn')) {
      try {
        dmn.push({ name: r.name, content: r.content, tables: await parseDmn(r.content, r.name) });
      } catch (err) {
        if (err instanceof DmnInvalidError) for (const p of err.problems) problems.push({ resource: r.name, ...p });
        else problems.push({ resource: r.name, element: null, message: (err as Error).message });
      }
    } else if (lower.endsWith('.bpmn') || lower.endsWith('.xml') || lower.endsWith('.bpmn20.xml')) {
      try {
        bpmn.push({ name: r.name, content: r.content, parsed: await parseBpmn(r.content) });
      } catch (err) {
        if (err instanceof BpmnInvalidError) for (const p of err.problems) problems.push({ resource: r.name, ...p });
        else problems.push({ resource: r.name, element: null, message: (err as Error).message });
      }
    } else {
      problems.push({ resource: r.name, element: null, message: 'unknown resource type: expected .bpmn, .dmn or .schema.json' });
    }
  }

  const knownForms = new Set<string>([...forms.map((f) => f.formKey), ...(await ctx.db('form_schemas').distinct('form_key')).map((r: any) => r.form_key)]);
  const knownDecisions = new Set<string>([...ctx.decisions.ids(), ...dmn.flatMap((d) => d.tables.map((t) => t.id))]);
  const handlers = new Set(ctx.handlers.keys());
  const keysInBundle = new Map<string, string>();
  for (const b of bpmn) {
    for (const p of validateBpmn(b.parsed, { handlers, forms: knownForms, decisions: knownDecisions })) problems.push({ resource: b.name, ...p });
    const executable = b.parsed.processes.filter((p) => p.isExecutable);
    if (executable.length > 1) {
      problems.push({ resource: b.name, element: executable[1].id, message: `a BPMN file deploys one executable process; "${b.name}" has ${executable.length} (${executable.map((p) => p.id).join(', ')}). Mark the other pools isExecutable="false" or split the file.` });
    }
    for (const p of executable) {
      if (keysInBundle.has(p.id)) problems.push({ resource: b.name, element: p.id, message: `process "${p.id}" is defined in both ${keysInBundle.get(p.id)} and ${b.name}` });
      keysInBundle.set(p.id, b.name);
    }
  }
  if (problems.length) {
    const first = problems[0];
    throw new InsureflowError('BPMN_INVALID', `the deployment cannot run: ${problems.length} problem(s); first: ${first.element ? first.element + ': ' : ''}${first.message}`, problems);
  }

  const now = ctx.clock.now();
  const deploymentId = randomUUID();
  const result: DeployResult = { deploymentId: null, created: false, definitions: [], forms: [], decisions: [] };
  const compiled: CachedDefinition[] = [];

  await ctx.db.transaction(async (trx) => {
    const ensureDeployment = async () => {
      if (result.deploymentId) return;
      result.deploymentId = deploymentId;
      await trx('deployments').insert({ id: deploymentId, name: opts.name ?? resources.map((r) => r.name).join(', ').slice(0, 200), source: opts.source ?? 'library', deployed_by: actor.name, deployed_at: now });
      for (const r of resources) {
        const kind = r.name.toLowerCase().endsWith('.schema.json') ? 'form' : dmn.some((d) => d.name === r.name) ? 'dmn' : 'bpmn';
        await trx('resources').insert({ deployment_id: deploymentId, name: r.name, kind, content: r.content, checksum: sha256(r.content) });
      }
    };
    /** version N+1 of a resource key only when its content changed (duplicate filtering) */
    const nextVersion = async (table: string, keyColumn: string, key: string, checksum: string) => {
      const latest = await trx(table).where({ [keyColumn]: key }).orderBy('version', 'desc').first('version', 'checksum');
      if (latest && latest.checksum === checksum) return { version: Number(latest.version), created: false };
      await ensureDeployment();
      return { version: latest ? Number(latest.version) + 1 : 1, created: true };
    };
    for (const f of forms) {
      const checksum = sha256(f.content);
      const v = await nextVersion('form_schemas', 'form_key', f.formKey, checksum);
      if (v.created) await trx('form_schemas').insert({ form_key: f.formKey, version: v.version, schema: f.content, checksum, deployment_id: deploymentId, created_at: now });
      result.forms.push({ formKey: f.formKey, ...v });
    }
    for (const d of dmn) {
      const checksum = sha256(d.content);
      for (const t of d.tables) {
        const v = await nextVersion('decision_definitions', 'decision_key', t.id, checksum);
        if (v.created) await trx('decision_definitions').insert({ decision_key: t.id, version: v.version, resource_name: d.name, xml: d.content, checksum, deployment_id: deploymentId, created_at: now });
        result.decisions.push({ decisionKey: t.id, ...v });
      }
    }
    for (const b of bpmn) {
      const checksum = sha256(b.content);
      for (const p of b.parsed.processes.filter((x) => x.isExecutable)) {
        const latest: DefinitionRow | undefined = await trx('process_definitions').where({ key: p.id }).orderBy('version', 'desc').first();
        if (latest && latest.checksum === checksum) {
          result.definitions.push({ id: latest.id, key: latest.key, version: Number(latest.version), name: latest.name, created: false });
          continue;
        }
        await ensureDeployment();
        const version = latest ? Number(latest.version) + 1 : 1;
        const id = `${p.id}:${version}:${checksum.slice(0, 8)}`;
        await trx('process_definitions').insert({ id, key: p.id, version, name: p.name, deployment_id: deploymentId, resource_name: b.name, xml: b.content, checksum, created_at: now });
        result.definitions.push({ id, key: p.id, version, name: p.name, created: true });
        compiled.push(compileDefinition(b.parsed, { id, key: p.id, version, name: p.name }));
      }
    }
    if (result.deploymentId) {
      result.created = true;
      await appendHistory(trx, 'deployments', [
        {
          processInstanceId: null,
          processKey: null,
          processVersion: null,
          businessKey: null,
          at: now,
          type: 'deployment.made',
          activityId: null,
          activityType: null,
          actor: actor.name,
          data: { deploymentId, source: opts.source ?? 'library', resources: resources.map((r) => ({ name: r.name, checksum: sha256(r.content) })), definitions: result.definitions.filter((d) => d.created), forms: result.forms.filter((f) => f.created), decisions: result.decisions.filter((d) => d.created) },
        },
      ]);
    }
  });
  for (const c of compiled) ctx.definitions.put(c);
  if (compiled.some((c) => c.timerStarts.length)) await scheduleTimerStarts(ctx, compiled);
  // the decisions loaded at start-up are redeployed on every start: an unchanged or newer table replaces them
  for (const d of dmn) ctx.decisions.add(d.tables, { replace: true });
  return result;
}

/**
 * Timer start events: one 'timer-start' job per start event of the latest version; deploying a new
 * version replaces the jobs of the older ones (as in Camunda).
 */
export async function scheduleTimerStarts(ctx: EngineContext, defs: CachedDefinition[]): Promise<void> {
  const now = ctx.clock.now();
  await ctx.db.transaction(async (trx) => {
    for (const def of defs) {
      const older = (await trx('process_definitions').where({ key: def.key }).whereNot({ id: def.id }).select('id')).map((r: any) => r.id);
      if (older.length) await trx('jobs').where({ type: 'timer-start' }).whereIn('definition_id', older).delete();
      for (const activityId of def.timerStarts) {
        const spec = def.activities.get(activityId)?.timerSpec;
        if (!spec) continue;
        const value = String(resolveValue(spec.value, {}));
        const due = timerDueAt(spec.type, value, now);
        if (due === null) continue;
        const repeat = spec.type === 'timeCycle' ? cycleRepeats(value) : null;
        await trx('jobs').insert({ id: randomUUID(), type: 'timer-start', process_instance_id: null, definition_id: def.id, activity_id: activityId, execution_id: `${def.id}#${activityId}`, due_at: due, payload: JSON.stringify({ timerType: spec.type, value, repeat, fired: 0 }), attempts: 0, created_at: now });
      }
    }
  });
}

export async function listDefinitions(ctx: EngineContext): Promise<ProcessDefinition[]> {
  const rows: DefinitionRow[] = await ctx.db('process_definitions as d')
    .whereRaw('d.version = (select max(version) from process_definitions x where x.key = d.key)')
    .orderBy('d.key')
    .select('d.*');
  return rows.map(toDefinition);
}

export async function getDefinitionRow(ctx: EngineContext, key: string, version?: number): Promise<DefinitionRow> {
  const q = ctx.db('process_definitions').where({ key });
  const row: DefinitionRow | undefined = version !== undefined ? await q.andWhere({ version }).first() : await q.orderBy('version', 'desc').first();
  if (!row) throw new InsureflowError('DEFINITION_NOT_FOUND', `process definition "${key}"${version !== undefined ? ` version ${version}` : ''} was not found`);
  return row;
}

export async function getDefinition(ctx: EngineContext, key: string, version?: number): Promise<ProcessDefinition & { versions: number[] }> {
  const row = await getDefinitionRow(ctx, key, version);
  const versions = (await ctx.db('process_definitions').where({ key }).orderBy('version').select('version')).map((r: any) => Number(r.version));
  return { ...toDefinition(row), versions };
}

export async function compiled(ctx: EngineContext, definitionId: string): Promise<CachedDefinition> {
  return ctx.definitions.get(await definitionMeta(ctx, definitionId), async () => {
    const r = await ctx.db('process_definitions').where({ id: definitionId }).first('xml');
    return r.xml;
  });
}

export async function definitionMeta(ctx: EngineContext, id: string): Promise<DefinitionMeta> {
  let m = ctx.metaCache.get(id);
  if (!m) {
    const r = await ctx.db('process_definitions').where({ id }).first('id', 'key', 'version', 'name');
    if (!r) throw new InsureflowError('DEFINITION_NOT_FOUND', `process definition ${id} was not found`);
    m = { id: r.id, key: r.key, version: Number(r.version), name: r.name };
    ctx.metaCache.set(id, m);
  }
  return m;
}

// ---------------------------------------------------------------- forms

export async function latestForm(ctx: EngineContext, trx: Trx, formKey: string): Promise<{ id: number; schema: string } | null> {
  const r = await trx('form_schemas').where({ form_key: formKey }).orderBy('version', 'desc').first('id', 'schema');
  return r ? { id: Number(r.id), schema: r.schema } : null;
}

/** A form schema version never changes: its compiled validator is kept by id. */
export async function formValidator(ctx: EngineContext, formId: number): Promise<ValidateFunction> {
  const cached = ctx.forms.cached(formId);
  if (cached) return cached;
  const row = await ctx.db('form_schemas').where({ id: formId }).first('schema');
  return ctx.forms.get(formId, row.schema);
}

export function validateForm(ctx: EngineContext, formId: number, schemaText: string, data: unknown, what: string): void {
  checkForm(ctx, ctx.forms.get(formId, schemaText), data, what);
}

export function checkForm(ctx: EngineContext, validate: ValidateFunction, data: unknown, what: string): void {
  if (!validate(data)) {
    const details = fieldErrors(validate.errors);
    throw new InsureflowError('VALIDATION_FAILED', `${what} is invalid: ${details.map((d) => `${d.field} ${d.message}`).join('; ')}`, details);
  }
}
