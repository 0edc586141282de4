/**
 * Deployment and the deployed artefacts.
 *
 * A deployment (start-up, POST /api/deployments, CLI, library) is one atomic, idempotent operation:
 * 1. every resource is classified (by file name, else by content) and parsed: all problems at once;
 * 2. in ONE storage transaction: the stored versions are read, each resource is planned (duplicate filtering per
 *    resource: unchanged content is not a new version whatever else the bundle holds), every new process version
 *    is validated and its decision/form/called-process bindings resolved; any problem throws and nothing is
 *    written; otherwise the deployment, its resources, the new versions, the timer start jobs and the
 *    deployment.made history event are written together;
 * 3. only after the commit are the in-memory caches filled, from what was committed, idempotently (compiled
 *    definitions by immutable id, decision versions by (key, version)).
 * A start-up deployment (source 'startup' with a name: the processes folder) compares each file with what the
 * start-ups of that folder deployed last (Camunda's deploy-changed-only per deployment name): an unchanged file is
 * not deployed again, so a restart never rolls back a version deployed since by an analyst.
 *
 * Run time: business rule tasks evaluate the decision version their binding names (latest / deployment /
 * version / versionTag), looked up through the transition's unit of work; user tasks get the form version their
 * binding names. Definitions, decisions and forms are read through the DeploymentStore port.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { ValidateFunction } from 'ajv';
import { InsureflowError } from '../errors.ts';
import type { DefinitionMeta, EngineContext } from './context.ts';
import { compileDefinition, type ActivityInfo, type CachedDefinition, type ResolvedBinding, type ResolvedBindings, type ResourceBinding } from './definitions.ts';
import { resolveValue } from './expressions.ts';
import { compileSchema, fieldErrors } from './forms.ts';
import { compileFormJs, formReference, FormJsInvalidError, isFormJs, matchesFormFile } from './form-js.ts';
import { eventSchemaProblem } from './event-variables.ts';
import { cycleRepeats, timerDueAt } from './iso.ts';
import type { DecisionCall, DecisionEvaluator, DecisionOutcome, Variables } from './runtime.ts';
import type { Catalog, DeploymentStore, DeploymentTx, ProcessDefinition, ResourceKind, StoredDefinition, VersionMeta } from './deployment-store.ts';
import { parseBpmn, BpmnInvalidError, BPMN_NS, type ParsedBpmn } from '../definitions/parse.ts';
import { validateBpmn } from '../definitions/validate.ts';
import { refusedElementProblems } from '../definitions/support.ts';
import { structureProblems } from '../definitions/limits.ts';
import { calledProcessesInFile } from '../definitions/io-mappings.ts';
import { resolveCalledProcesses } from './call-activities.ts';
import { parseDmn, DmnInvalidError, DecisionVersions, evaluateVersion, type DecisionTable, type DecisionVersion } from '../decisions/dmn.ts';
import { SYSTEM, type Actor } from './actor.ts';
import { externalTopicsOf } from '../definitions/bindings.ts';
import { checkDefaultsDeployer, defaultsChanged, isAuthorizationsResource, parseDefaults, writeDefaults, type DefaultsItem, type DefaultsOutcome } from './authorization-defaults.ts';

export interface Resource {
  /** file name, relative to the deployment's root (e.g. `decisions/claims.dmn`, `forms/intake/triage.schema.json`) */
  name: string;
  content: string;
}

export interface DeployResult {
  /** null when nothing was recorded (everything unchanged) */
  deploymentId: string | null;
  /** true when at least one new version was created */
  created: boolean;
  definitions: { id: string; key: string; version: number; name: string | null; created: boolean }[];
  forms: { formKey: string; version: number; created: boolean }[];
  decisions: { decisionKey: string; version: number; created: boolean }[];
  /** the authorizations.json the deployment held: whether it replaced the default grants (./authorization-defaults.ts) */
  authorizations?: DefaultsOutcome;
  /** findings that do not block the deployment (parser warnings, bpmnlint rules...): empty when there are none */
  warnings: DeploymentWarning[];
}

/**
 * A finding about a deployed resource that does not block the deployment: the resource, the element (its id) when
 * there is one, the sentence, who found it (`parser`: the XML reader; `bpmnlint`: a lint rule, named in `rule`).
 */
export interface DeploymentWarning {
  resource: string;
  element?: string;
  message: string;
  source: 'parser' | 'bpmnlint' | (string & {});
  /** the lint rule (`label-required`, `camunda-compat/history-time-to-live`) when source is bpmnlint */
  rule?: string;
}

/**
 * The lint port: findings about one BPMN resource, given its name and its parsed tree. Called after a deployment
 * committed, for each BPMN resource it held (a start-up: only the files that made a new version, so a restart
 * with unchanged content lints nothing). A throw is logged and ignored: lint never blocks nor fails a deployment.
 * Implemented over bpmnlint by src/definitions/lint.ts (bpmnLinter); the engine lints nothing without one.
 */
export type DeploymentLinter = (resource: { name: string; content: string; parsed: ParsedBpmn }) => Promise<DeploymentWarning[]>;

export interface DeployOptions {
  actor?: Actor;
  /** startup | api | cli | library (default library) */
  source?: string;
  /** the deployment's name; for source 'startup' the processes folder, which start-ups are compared by */
  name?: string;
}

/** One problem of a refused deployment: the resource, the element at fault (when there is one) and why. */
export interface DeploymentProblem {
  resource: string;
  element: string | null;
  message: string;
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const MAX_ATTEMPTS = 3;

// ---------------------------------------------------------------- storage and caches

const decisionCaches = new WeakMap<EngineContext, DecisionVersions>();

/** The DeploymentStore of an engine. */
export function deploymentStore(ctx: EngineContext): DeploymentStore {
  return ctx.deployments;
}

function decisionCache(ctx: EngineContext): DecisionVersions {
  let c = decisionCaches.get(ctx);
  if (!c) {
    c = new DecisionVersions();
    decisionCaches.set(ctx, c);
  }
  return c;
}

// ---------------------------------------------------------------- resources: kind and keys

/**
 * The kind of a resource: from its file name when it says (`.bpmn`, `.bpmn20.xml`, `.dmn`, `.dmn11.xml`,
 * `.schema.json`, `.json`), else from the content (the XML root `definitions` in the BPMN or DMN namespace, or a
 * JSON object). Null when neither tells.
 */
export function resourceKind(name: string, content: string): ResourceKind | null {
  const lower = name.toLowerCase();
  if (isAuthorizationsResource(lower)) return 'authz';
  if (lower.endsWith('.bpmn') || lower.endsWith('.bpmn20.xml')) return 'bpmn';
  if (lower.endsWith('.dmn') || lower.endsWith('.dmn11.xml')) return 'dmn';
  if (lower.endsWith('.form')) return 'form-js';
  if (lower.endsWith('.json')) return 'form';
  const text = content.replace(/^\uFEFF/, '').trimStart();
  if (text.startsWith('{')) return isFormJs(parseOrNull(text)) ? 'form-js' : 'form';
  // the root element: skip the XML declaration, comments and processing instructions
  const body = text.replace(/^(<\?[\s\S]*?\?>\s*|<!--[\s\S]*?-->\s*)*/, '');
  const root = /^<([\w.-]+:)?definitions\b([^>]*)>/.exec(body);
  if (!root) {
    // a document cut off inside its root tag (or malformed there) still names its namespace: let the parser of
    // that kind report where it breaks, instead of "unknown resource type"
    if (!/^<([\w.-]+:)?definitions\b/.test(body)) return null;
    if (body.includes(BPMN_NS)) return 'bpmn';
    if (/omg\.org\/spec\/DMN\//i.test(body)) return 'dmn';
    return null;
  }
  const prefix = root[1] ? root[1].slice(0, -1) : '';
  const ns = new RegExp(`\\bxmlns${prefix ? ':' + prefix : ''}\\s*=\\s*["']([^"']+)["']`).exec(root[2])?.[1] ?? '';
  if (ns === BPMN_NS) return 'bpmn';
  if (/omg\.org\/spec\/DMN\//i.test(ns)) return 'dmn';
  return null;
}

/** Why a resource has no kind, in the words a user can act on (an XML root that is not `definitions`, or none). */
function unknownResourceMessage(content: string): string {
  const advice = 'name it .bpmn, .dmn, .form or .schema.json, or send a BPMN or DMN document (XML) or a JSON Schema';
  const body = content.replace(/^\uFEFF/, '').trimStart().replace(/^(<\?[\s\S]*?\?>\s*|<!--[\s\S]*?-->\s*)*/, '');
  const root = /^<([\w.:-]+)/.exec(body)?.[1];
  if (root && !/(^|:)definitions$/.test(root)) return `unknown resource type: the XML root element is <${root}>, not the <definitions> of a BPMN or DMN document; ${advice}`;
  if (root) return `unknown resource type: <${root}> does not declare the BPMN (${BPMN_NS}) or DMN namespace; ${advice}`;
  if (body.startsWith('<')) return `unknown resource type: the XML has no root element that can be read (cut off or malformed); ${advice}`;
  return `unknown resource type: ${advice}`;
}

function parseOrNull(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/**
 * The form key of a form schema resource: its path after the last `forms/` folder (else its file name), without
 * `.schema.json` (or `.json`): `forms/intake/triage.schema.json` is `intake/triage`, `claims.start.schema.json`
 * is `claims.start`. Outside a `forms/` folder, the variable schema of a message or signal keeps its folder:
 * `messages/claim-documents-received.schema.json` is `messages/claim-documents-received` (./event-variables.ts).
 */
export function formKeyOf(name: string): string {
  const path = name.replace(/\\/g, '/');
  const folder = (f: string) => {
    const i = path.lastIndexOf(f);
    return i >= 0 && (i === 0 || path[i - 1] === '/') ? i : -1;
  };
  const i = folder('forms/');
  const e = Math.max(folder('messages/'), folder('signals/'));
  const rel = i >= 0 ? path.slice(i + 'forms/'.length) : e >= 0 ? path.slice(e) : path.slice(path.lastIndexOf('/') + 1);
  return rel.replace(/\.schema\.json$/i, '').replace(/\.json$/i, '');
}

// ---------------------------------------------------------------- deploy

interface FormItem {
  name: string;
  key: string;
  /** the schema as stored (normalized JSON: whitespace changes are not a new version) */
  content: string;
  versionTag: string | null;
  rawChecksum: string;
  /** a Camunda form (`.form`, form-js JSON; its key is its id): ./form-js.ts */
  formJs?: boolean;
}
interface DmnItem {
  name: string;
  content: string;
  tables: DecisionTable[];
  rawChecksum: string;
}
interface BpmnItem {
  name: string;
  content: string;
  parsed: ParsedBpmn;
  /** one per executable process (compiled with placeholder ids until versions are known) */
  processes: CachedDefinition[];
  rawChecksum: string;
}

interface Planned {
  key: string;
  version: number;
  created: boolean;
}

/**
 * Deploys resources atomically; see the module comment. Returns what was created or found unchanged.
 * @throws InsureflowError VALIDATION_FAILED (no resource), BPMN_INVALID (422) with every problem as
 *   DeploymentProblem[] in `details`; nothing is stored then.
 */
export async function deploy(ctx: EngineContext, resources: Resource[], opts: DeployOptions = {}): Promise<DeployResult> {
  const actor = opts.actor ?? SYSTEM;
  const source = opts.source ?? 'library';
  if (!resources.length) throw new InsureflowError('VALIDATION_FAILED', 'a deployment needs at least one resource');
  await loadDecisions(ctx);

  // ---- 1. classify and parse everything; every problem at once
  const problems: DeploymentProblem[] = [];
  const forms: FormItem[] = [];
  const dmn: DmnItem[] = [];
  const bpmn: BpmnItem[] = [];
  let authz: DefaultsItem | null = null;
  let authzResource: string | null = null;
  const names = new Set<string>();
  for (const r of resources) {
    if (names.has(r.name)) {
      problems.push({ resource: r.name, element: null, message: `the deployment holds two resources named "${r.name}"` });
      continue;
    }
    names.add(r.name);
    const kind = resourceKind(r.name, r.content);
    const rawChecksum = sha256(r.content);
    if (kind === 'form') {
      const key = formKeyOf(r.name);
      try {
        const schema = JSON.parse(r.content);
        if (isFormJs(schema)) throw new Error('this is a Camunda form (form-js JSON with "components"): name the file .form');
        compileSchema(schema);
        const eventProblem = eventSchemaProblem(key, schema);
        if (eventProblem) {
          problems.push({ resource: r.name, element: null, message: `variable schema "${key}": ${eventProblem}` });
          continue;
        }
        const tag = (schema as Record<string, unknown>).versionTag;
        forms.push({ name: r.name, key, content: JSON.stringify(schema), versionTag: typeof tag === 'string' && tag.trim() ? tag.trim() : null, rawChecksum });
      } catch (err) {
        problems.push({ resource: r.name, element: null, message: `form schema "${key}" is not a valid JSON Schema: ${(err as Error).message}` });
      }
    } else if (kind === 'form-js') {
      // a Camunda form: its key is its id; what the server could not validate is refused (./form-js.ts)
      let doc: unknown;
      try {
        doc = JSON.parse(r.content);
      } catch (err) {
        problems.push({ resource: r.name, element: null, message: `the Camunda form is not valid JSON: ${(err as Error).message}` });
        continue;
      }
      try {
        const form = compileFormJs(doc);
        forms.push({ name: r.name, key: form.id, content: JSON.stringify(doc), versionTag: form.versionTag, rawChecksum, formJs: true });
      } catch (err) {
        if (err instanceof FormJsInvalidError) for (const p of err.problems) problems.push({ resource: r.name, element: p.component, message: p.message });
        else throw err;
      }
    } else if (kind === 'dmn') {
      try {
        dmn.push({ name: r.name, content: r.content, tables: await parseDmn(r.content, r.name), rawChecksum });
      } catch (err) {
        if (err instanceof DmnInvalidError) for (const p of err.problems) problems.push({ resource: r.name, ...p });
        else problems.push({ resource: r.name, element: null, message: (err as Error).message });
      }
    } else if (kind === 'bpmn') {
      // size and nesting are read from the text first: a document beyond the limits is refused before bpmn-moddle
      // parses it (src/definitions/limits.ts; a 3,000-level nesting overflowed the stack in the serializer)
      const beyond = structureProblems(r.content, ctx.limits);
      if (beyond.length) {
        for (const p of beyond) problems.push({ resource: r.name, ...p });
        continue;
      }
      let parsedForErrors: Awaited<ReturnType<typeof parseBpmn>> | undefined;
      try {
        const parsed = await parseBpmn(r.content);
        parsedForErrors = parsed;
        const executable = parsed.processes.filter((p) => p.isExecutable);
        // every executable process (several pools of a collaboration: one definition each, by process id), and the
        // processes of the file their call activities call (each its own definition)
        const called = calledProcessesInFile(parsed.moddleContext?.rootElement?.rootElements ?? []).flatMap((id) => parsed.processes.filter((p) => p.id === id && !p.isExecutable));
        const processes = [...executable, ...called].map((p) => compileDefinition(parsed, { id: `${p.id}:new`, key: p.id, version: 0, name: p.name }));
        bpmn.push({ name: r.name, content: r.content, parsed, processes, rawChecksum });
      } catch (err) {
        if (err instanceof BpmnInvalidError) for (const p of err.problems) problems.push({ resource: r.name, ...p });
        else {
          // elements the support table refuses make bpmn-engine's compile throw: name them (src/definitions/support.ts)
          const refused = refusedElementProblems(parsedForErrors?.moddleContext?.elementsById);
          if (refused.length) for (const p of refused) problems.push({ resource: r.name, ...p });
          else problems.push({ resource: r.name, element: null, message: (err as Error).message });
        }
      }
    } else if (kind === 'authz') {
      if (authzResource) problems.push({ resource: r.name, element: null, message: `a deployment holds one authorizations file; ${authzResource} is another` });
      authzResource ??= r.name;
      const parsed = parseDefaults(r.name, r.content);
      for (const p of parsed.problems) problems.push({ resource: r.name, ...p });
      authz ??= parsed.item;
    } else {
      problems.push({ resource: r.name, element: null, message: unknownResourceMessage(r.content) });
    }
  }
  const seenDecisions = new Map<string, string>();
  for (const d of dmn) {
    for (const t of d.tables) {
      const other = seenDecisions.get(t.id);
      if (other) problems.push({ resource: d.name, element: t.id, message: `decision "${t.id}" is defined in both ${other} and ${d.name}` });
      seenDecisions.set(t.id, d.name);
    }
  }
  const seenForms = new Map<string, string>();
  for (const f of forms) {
    const other = seenForms.get(f.key);
    if (other) problems.push({ resource: f.name, element: null, message: `form "${f.key}" is defined in both ${other} and ${f.name}` });
    seenForms.set(f.key, f.name);
  }
  const keysInBundle = new Map<string, string>();
  for (const b of bpmn) {
    for (const p of b.processes.map((c) => ({ id: c.key }))) {
      if (keysInBundle.has(p.id)) problems.push({ resource: b.name, element: p.id, message: `process "${p.id}" is defined in both ${keysInBundle.get(p.id)} and ${b.name}` });
      keysInBundle.set(p.id, b.name);
    }
  }
  // only admins (and the engine itself) change who may do what
  checkDefaultsDeployer(actor, authzResource);
  if (problems.length) throw refused(problems);

  // ---- 2. plan, validate, resolve and write in one transaction (again when a concurrent deployment took a version)
  const store = deploymentStore(ctx);
  for (let attempt = 1; ; attempt++) {
    try {
      const outcome = await store.transaction((w) => planAndWrite(ctx, w, { forms, dmn, bpmn, authz }, { actor, source, name: opts.name, resources }));
      // ---- 3. caches, from what was committed
      for (const c of outcome.compiled) {
        ctx.definitions.put(c);
        ctx.metaCache.set(c.id, { id: c.id, key: c.key, version: c.version, name: c.name });
      }
      const cache = decisionCache(ctx);
      for (const v of outcome.decisionVersions) cache.put(v);
      // the XML reader's findings (a declared encoding, foreign namespaces: src/definitions/parse.ts), then lint's
      for (const b of bpmn) for (const w of b.parsed.warnings ?? []) outcome.result.warnings.push({ resource: b.name, ...(w.element ? { element: w.element } : {}), message: w.message, source: 'parser' });
      // topics no handler serves: external tasks (./external-tasks.ts)
      for (const b of bpmn) {
        for (const x of externalTopicsOf(b.parsed.moddleContext?.elementsById, ctx.handlers)) {
          outcome.result.warnings.push({ resource: b.name, element: x.element, message: `${x.element} is an external task of topic "${x.topic}": no in-process handler is registered under that name, so it waits for a worker that fetches the topic over POST /engine-rest/external-task/fetchAndLock`, source: 'engine' });
        }
      }
      await lintDeployed(ctx, bpmn, outcome.result, source);
      return outcome.result;
    } catch (err) {
      if (attempt < MAX_ATTEMPTS && store.isVersionConflict(err)) {
        ctx.logger.warn({ attempt }, 'a concurrent deployment took a version; planning the deployment again');
        continue;
      }
      throw err;
    }
  }
}

/**
 * Lint warnings of a committed deployment (see DeploymentLinter), appended to result.warnings: every BPMN resource
 * of the deployment, except at start-up, where only files that made a new version are linted.
 */
async function lintDeployed(ctx: EngineContext, bpmn: BpmnItem[], result: DeployResult, source: string): Promise<void> {
  const lint = ctx.lint;
  if (!lint) return;
  const created = new Set(result.definitions.filter((d) => d.created).map((d) => d.key));
  for (const b of bpmn) {
    if (source === 'startup' && !b.processes.some((c) => created.has(c.key))) continue;
    try {
      result.warnings.push(...(await lint({ name: b.name, content: b.content, parsed: b.parsed })));
    } catch (err) {
      ctx.logger.warn({ err, resource: b.name }, 'linting a deployed diagram failed; the deployment stands');
    }
  }
}

function refused(problems: DeploymentProblem[]): InsureflowError {
  const first = problems[0];
  return new InsureflowError(
    'BPMN_INVALID',
    `the deployment cannot run: ${problems.length} problem(s); first: ${first.resource}: ${first.element ? first.element + ': ' : ''}${first.message}`,
    problems,
  );
}

/** Versions of one key known to the plan, newest last. */
class VersionIndex {
  private readonly byKey = new Map<string, VersionMeta[]>();
  constructor(metas: VersionMeta[]) {
    for (const m of metas) this.add(m);
  }
  add(m: VersionMeta) {
    const list = this.byKey.get(m.key) ?? [];
    list.push(m);
    list.sort((a, b) => a.version - b.version);
    this.byKey.set(m.key, list);
  }
  keys(): Set<string> {
    return new Set(this.byKey.keys());
  }
  versions(key: string): VersionMeta[] {
    return this.byKey.get(key) ?? [];
  }
  latest(key: string, tag: string | null = null): VersionMeta | undefined {
    const list = this.versions(key).filter((m) => tag === null || m.versionTag === tag);
    return list[list.length - 1];
  }
  /** the newest version whose content has this checksum */
  withChecksum(key: string, checksum: string): VersionMeta | undefined {
    return [...this.versions(key)].reverse().find((m) => m.checksum === checksum);
  }
}

/**
 * Duplicate filtering of one resource key: unchanged (same content as the latest version) -> that version;
 * a start-up file unchanged since the last start-up -> the version holding that content (never a new one,
 * so a newer version deployed since stays the latest); otherwise version N+1.
 */
function planVersion(index: VersionIndex, key: string, checksum: string, sameAsLastStartup: boolean, versionTag: string | null): Planned {
  if (sameAsLastStartup) {
    const had = index.withChecksum(key, checksum);
    if (had) return { key, version: had.version, created: false };
  }
  const latest = index.latest(key);
  if (latest && latest.checksum === checksum) return { key, version: latest.version, created: false };
  const version = latest ? latest.version + 1 : 1;
  index.add({ key, version, checksum, versionTag });
  return { key, version, created: true };
}

interface WriteOutcome {
  result: DeployResult;
  compiled: CachedDefinition[];
  decisionVersions: DecisionVersion[];
}

async function planAndWrite(
  ctx: EngineContext,
  w: import('./deployment-store.ts').DeploymentWriter,
  bundle: { forms: FormItem[]; dmn: DmnItem[]; bpmn: BpmnItem[]; authz: DefaultsItem | null },
  opts: { actor: Actor; source: string; name?: string; resources: Resource[] },
): Promise<WriteOutcome> {
  const now = ctx.clock.now();
  const catalog: Catalog = await w.catalog();
  const baseline = opts.source === 'startup' && opts.name ? await w.startupBaseline(opts.name) : null;
  // a start-up file unchanged since the previous start-up from this folder creates nothing; with no previous
  // start-up under this name (first start, or the folder written another way), content already stored as some
  // version of its key creates nothing either: a start-up never rolls back what an analyst deployed since
  const sameAsLastStartup = (name: string, rawChecksum: string) => (baseline !== null && baseline.size > 0 ? baseline.get(name) === rawChecksum : opts.source === 'startup');

  const formIndex = new VersionIndex(catalog.forms);
  const decisionIndex = new VersionIndex(catalog.decisions);
  const processIndex = new VersionIndex(catalog.processes);
  const processIds = new Map(catalog.processes.map((p) => [`${p.key}\u0000${p.version}`, p.id]));
  // process keys a call activity may call: deployed ones and those of this deployment
  const processKeys = new Set([...catalog.processes.map((p) => p.key), ...bundle.bpmn.flatMap((b) => b.processes.map((c) => c.key))]);

  const result: DeployResult = { deploymentId: null, created: false, definitions: [], forms: [], decisions: [], warnings: [] };
  /** what this deployment holds, per key: the version the `deployment` binding resolves to */
  const bundleForms = new Map<string, number>();
  const bundleDecisions = new Map<string, number>();

  const formPlans = bundle.forms.map((f) => {
    const plan = planVersion(formIndex, f.key, sha256(f.content), sameAsLastStartup(f.name, f.rawChecksum), f.versionTag);
    bundleForms.set(f.key, plan.version);
    result.forms.push({ formKey: f.key, version: plan.version, created: plan.created });
    return { item: f, plan };
  });
  const decisionPlans = bundle.dmn.flatMap((d) =>
    d.tables.map((t) => {
      const plan = planVersion(decisionIndex, t.id, sha256(d.content), sameAsLastStartup(d.name, d.rawChecksum), t.versionTag ?? null);
      bundleDecisions.set(t.id, plan.version);
      result.decisions.push({ decisionKey: t.id, version: plan.version, created: plan.created });
      return { item: d, table: t, plan };
    }),
  );

  // bindings resolve against what is stored plus what this deployment adds
  const resolve = (kind: 'decision' | 'form', key: string, binding: ResourceBinding): { version: number; key?: string } | { error: string } => {
    // camunda-forms:deployment:<file>.form: the Camunda form of that file in this deployment (./form-js.ts)
    const ref = kind === 'form' ? formReference(key) : null;
    if (ref?.kind === 'deploymentFile') {
      const f = bundle.forms.find((x) => x.formJs && matchesFormFile(x.name, ref.file));
      if (f) return { version: bundleForms.get(f.key) as number, key: f.key };
      return { error: `this deployment holds no Camunda form file "${ref.file}"; deploy it together with the process` };
    }
    const index = kind === 'decision' ? decisionIndex : formIndex;
    const what = kind === 'decision' ? `decision "${key}"` : `form "${key}"`;
    switch (binding.type) {
      case 'deployment': {
        const v = (kind === 'decision' ? bundleDecisions : bundleForms).get(key);
        if (v !== undefined) return { version: v };
        return { error: `this deployment holds no ${kind === 'decision' ? `DMN file defining decision "${key}"` : `form schema "${key}"`}; deploy it together with the process, or use the binding "latest"` };
      }
      case 'version': {
        if (binding.version !== null && index.versions(key).some((m) => m.version === binding.version)) return { version: binding.version };
        const have = index.versions(key).map((m) => m.version);
        return { error: `version ${binding.version} of ${what} is not deployed (deployed versions: ${have.length ? have.join(', ') : 'none'})` };
      }
      case 'versionTag': {
        const m = index.latest(key, binding.versionTag);
        if (m) return { version: m.version };
        const tags = [...new Set(index.versions(key).map((x) => x.versionTag).filter(Boolean))];
        return { error: `no version of ${what} has the version tag "${binding.versionTag}" (tags: ${tags.length ? tags.join(', ') : 'none'})` };
      }
      default: {
        const m = index.latest(key);
        return m ? { version: m.version } : { error: `${what} is not deployed` };
      }
    }
  };

  const problems: DeploymentProblem[] = [];
  const handlers = new Set(ctx.handlers.keys());
  const newDefinitions: { item: BpmnItem; compiled: CachedDefinition; stored: StoredDefinition }[] = [];
  for (const b of bundle.bpmn) {
    const checksum = sha256(b.content);
    const sameAsBefore = sameAsLastStartup(b.name, b.rawChecksum);
    const created: CachedDefinition[] = [];
    for (const c of b.processes) {
      const plan = planVersion(processIndex, c.key, checksum, sameAsBefore, null);
      if (!plan.created) {
        const id = processIds.get(`${c.key}\u0000${plan.version}`) as string;
        result.definitions.push({ id, key: c.key, version: plan.version, name: c.name, created: false });
        continue;
      }
      const id = `${c.key}:${plan.version}:${checksum.slice(0, 8)}`;
      created.push({ ...c, id, version: plan.version });
      result.definitions.push({ id, key: c.key, version: plan.version, name: c.name, created: true });
    }
    if (!created.length) continue;
    // a new version: it must run, and every binding must resolve
    const found = validateBpmn(b.parsed, {
      minTimerCycleMs: ctx.limits.minTimerCycleMs,
      handlers,
      forms: formIndex.keys(),
      decisions: decisionIndex.keys(),
      processes: processKeys,
      processVersions: (key) => catalog.processes.filter((p) => p.key === key).map((p) => p.version).sort((x, y) => x - y),
      inDeployment: (key) => bundle.bpmn.some((x) => x.processes.some((c) => c.key === key)),
      checkBinding: (kind, key, binding) => {
        const r = resolve(kind, key, binding);
        return 'error' in r ? r.error : null;
      },
    });
    for (const p of found) problems.push({ resource: b.name, ...p });
    if (found.length) continue;
    for (const c of created) {
      const bindings = resolveBindings(c, resolve);
      const compiled: CachedDefinition = { ...c, bindings };
      newDefinitions.push({
        item: b,
        compiled,
        stored: { id: c.id, key: c.key, version: c.version, name: c.name, deploymentId: '', resourceName: b.name, xml: b.content, checksum, createdAt: now, bindings },
      });
    }
  }
  // call activities: their bindings resolve against the stored versions and those this deployment holds
  const deployed = new Map(result.definitions.map((d) => [d.key, d]));
  for (const d of newDefinitions) {
    const known = {
      versions: (key: string) => processIndex.versions(key).map((m) => m.version),
      idOf: (key: string, version: number) => processIds.get(`${key}\u0000${version}`) ?? result.definitions.find((x) => x.key === key && x.version === version)?.id ?? null,
      inDeployment: (key: string) => deployed.get(key)?.version ?? null,
    };
    for (const p of resolveCalledProcesses(d.compiled, known)) problems.push({ resource: d.item.name, ...p });
  }
  if (problems.length) throw refused(problems);

  const authzRaw = bundle.authz && opts.resources.find((r) => r.name === bundle.authz!.name);
  const authzChanged = bundle.authz !== null && (await defaultsChanged(ctx, w.tx, bundle.authz, sameAsLastStartup(bundle.authz.name, sha256(authzRaw?.content ?? ''))));
  if (bundle.authz) result.authorizations = { resource: bundle.authz.name, created: false, grants: bundle.authz.grants.length, sensitiveVariables: bundle.authz.sensitive.length };
  const anyCreated = formPlans.some((f) => f.plan.created) || decisionPlans.some((d) => d.plan.created) || newDefinitions.length > 0 || authzChanged;
  // a start-up records what it saw whenever a file differs from the last start-up, even when nothing is new
  // (so that the next start-up compares with it)
  const startupChanged = baseline !== null && opts.resources.some((r) => baseline.get(r.name) !== sha256(r.content));
  if (!anyCreated && !startupChanged) return { result, compiled: [], decisionVersions: [] };

  const deploymentId = randomUUID();
  result.deploymentId = deploymentId;
  result.created = anyCreated;
  const kindOf = (name: string): ResourceKind =>
    bundle.forms.some((f) => f.name === name && f.formJs) ? 'form-js' : bundle.forms.some((f) => f.name === name) ? 'form' : bundle.dmn.some((d) => d.name === name) ? 'dmn' : bundle.authz?.name === name ? 'authz' : 'bpmn';
  // the resources this deployment holds: for a start-up, the files that changed since the last one
  const held = opts.resources.filter((r) => baseline === null || baseline.get(r.name) !== sha256(r.content));
  await w.insertDeployment({
    id: deploymentId,
    name: (opts.name ?? opts.resources.map((r) => r.name).join(', ')).slice(0, 200),
    source: opts.source,
    deployedBy: opts.actor.name,
    deployedAt: now,
    resources: held.map((r) => ({ name: r.name, kind: kindOf(r.name), content: r.content, checksum: sha256(r.content) })),
  });
  for (const { item, plan } of formPlans) {
    if (!plan.created) continue;
    await w.insertForm({ key: item.key, version: plan.version, versionTag: item.versionTag, resourceName: item.name, schema: item.content, checksum: sha256(item.content), deploymentId, createdAt: now });
  }
  const decisionVersions: DecisionVersion[] = [];
  for (const { item, table, plan } of decisionPlans) {
    if (!plan.created) continue;
    await w.insertDecision({ key: table.id, version: plan.version, name: table.name || null, versionTag: table.versionTag ?? null, resourceName: item.name, xml: item.content, checksum: sha256(item.content), deploymentId, createdAt: now });
    decisionVersions.push({ key: table.id, version: plan.version, versionTag: table.versionTag ?? null, tables: item.tables });
  }
  for (const d of newDefinitions) {
    await w.insertDefinition({ ...d.stored, deploymentId });
    // timer start events: the jobs of the older versions of the key are replaced by the new version's (none
    // when it has no timer start event), as in Camunda
    await w.replaceTimerStarts(d.compiled.key, timerStartJobs(d.compiled, now));
  }
  if (authzChanged) result.authorizations = await writeDefaults(ctx, w.tx, bundle.authz!, deploymentId, opts.actor, now);
  await w.appendDeploymentEvent({
    at: now,
    actor: opts.actor.name,
    data: {
      deploymentId,
      source: opts.source,
      ...(opts.name ? { name: opts.name } : {}),
      resources: held.map((r) => ({ name: r.name, checksum: sha256(r.content) })),
      definitions: result.definitions.filter((d) => d.created),
      forms: result.forms.filter((f) => f.created),
      decisions: result.decisions.filter((d) => d.created),
      bindings: Object.fromEntries(newDefinitions.map((d) => [d.compiled.id, d.compiled.bindings])),
    },
  });
  return { result, compiled: newDefinitions.map((d) => d.compiled), decisionVersions };
}

/** The bindings of a new process version, resolved (validation has made sure each one resolves). */
function resolveBindings(def: CachedDefinition, resolve: (kind: 'decision' | 'form', key: string, b: ResourceBinding) => { version: number; key?: string } | { error: string }): ResolvedBindings {
  const out: ResolvedBindings = { decisions: {}, forms: {}, calledProcesses: {} };
  const entry = (key: string, b: ResourceBinding, version: number): ResolvedBinding => ({
    key,
    binding: b.type,
    version,
    ...(b.type === 'versionTag' && b.versionTag ? { versionTag: b.versionTag } : {}),
  });
  for (const info of def.activities.values() as Iterable<ActivityInfo>) {
    if (info.decision) {
      const r = resolve('decision', info.decision.decisionId, info.decision.binding);
      if ('version' in r) out.decisions[info.id] = entry(info.decision.decisionId, info.decision.binding, r.version);
    }
    if (info.form) {
      const r = resolve('form', info.form.key, info.form.binding);
      if ('version' in r) out.forms[info.id] = entry(r.key ?? info.form.key, info.form.binding, r.version);
    }
    if (info.calledElement?.processId) {
      // a call activity calls a process of the same file: deployed with (and versioned as) the caller
      out.calledProcesses[info.id] = { ...entry(info.calledElement.processId, info.calledElement.binding, def.version), definitionId: def.id };
    }
  }
  return out;
}

function timerStartJobs(def: CachedDefinition, now: number) {
  const jobs = [];
  for (const activityId of def.timerStarts) {
    const spec = def.activities.get(activityId)?.timerSpec;
    if (!spec) continue;
    const value = String(resolveValue(spec.value, {}));
    const due = timerDueAt(spec.type, value, now);
    if (due === null) continue;
    const repeat = spec.type === 'timeCycle' ? cycleRepeats(value) : null;
    jobs.push({ id: randomUUID(), definitionId: def.id, activityId, dueAt: due, payload: { timerType: spec.type, value, repeat, fired: 0 }, createdAt: now });
  }
  return jobs;
}

// ---------------------------------------------------------------- decisions at run time

/**
 * Attaches the engine's evaluator of deployed decision versions to ctx.decisions (idempotent). Nothing is read
 * up front: each evaluation looks up the version its binding names (through the transition's unit of work)
 * and parses that version once.
 */
export async function loadDecisions(ctx: EngineContext): Promise<void> {
  if (ctx.run.decisionsLoaded) return;
  ctx.decisions.useDeployed(decisionEvaluator(ctx));
  ctx.run.decisionsLoaded = true;
}

/** The decision version a call resolves to (at run time). @throws InsureflowError NOT_FOUND */
async function resolveDecisionVersion(store: DeploymentStore, call: DecisionCall, tx?: DeploymentTx): Promise<number> {
  const fixed = (call.binding === 'deployment' || call.binding === 'version') && call.version !== null ? call.version : null;
  if (fixed !== null) return fixed;
  const tag = call.binding === 'versionTag' ? call.versionTag : null;
  const v = await store.latestDecisionVersion(call.decisionKey, tag, tx);
  if (v === null) throw new InsureflowError('NOT_FOUND', `decision "${call.decisionKey}"${tag !== null ? ` with the version tag "${tag}"` : ''} is not deployed`);
  return v;
}

/** A deployed decision version, parsed once (cached by key and version). @throws InsureflowError NOT_FOUND */
export async function decisionVersion(ctx: EngineContext, key: string, version: number, tx?: DeploymentTx): Promise<DecisionVersion> {
  const cache = decisionCache(ctx);
  const have = cache.get(key, version);
  if (have) return have;
  const row = await deploymentStore(ctx).decision(key, version, tx);
  if (!row) throw new InsureflowError('NOT_FOUND', `version ${version} of decision "${key}" is not deployed`);
  return cache.put({ key, version, versionTag: row.versionTag, tables: await parseDmn(row.xml, row.resourceName) });
}

/** Evaluates the version a business rule task's binding names. */
export function decisionEvaluator(ctx: EngineContext): DecisionEvaluator {
  return {
    async evaluate(call: DecisionCall, variables: Variables): Promise<DecisionOutcome> {
      const tx = call.unitOfWork;
      const version = await resolveDecisionVersion(deploymentStore(ctx), call, tx);
      const v = await decisionVersion(ctx, call.decisionKey, version, tx);
      const r = evaluateVersion(v, variables);
      return { decisionKey: call.decisionKey, version, result: r.result, matchedRules: r.matchedRules, inputs: r.trace.inputs, outputs: r.trace.outputs };
    },
  };
}

// ---------------------------------------------------------------- definitions

export async function listDefinitions(ctx: EngineContext): Promise<ProcessDefinition[]> {
  return (await deploymentStore(ctx).latestDefinitions()).map(publicDefinition);
}

function publicDefinition(d: StoredDefinition): ProcessDefinition {
  return { id: d.id, key: d.key, version: d.version, name: d.name, deploymentId: d.deploymentId, resourceName: d.resourceName, createdAt: new Date(d.createdAt).toISOString() };
}

/** A version of a process (its newest when version is undefined), with its XML. @throws DEFINITION_NOT_FOUND */
export async function getDefinitionRow(ctx: EngineContext, key: string, version?: number): Promise<StoredDefinition> {
  const row = await deploymentStore(ctx).definitionByKey(key, version);
  if (!row) throw new InsureflowError('DEFINITION_NOT_FOUND', `process definition "${key}"${version !== undefined ? ` version ${version}` : ''} was not found`);
  return row;
}

/** A version of a process with the list of its versions and its resolved bindings. @throws DEFINITION_NOT_FOUND */
export async function getDefinition(ctx: EngineContext, key: string, version?: number): Promise<ProcessDefinition & { versions: number[]; bindings: ResolvedBindings }> {
  const row = await getDefinitionRow(ctx, key, version);
  const versions = await deploymentStore(ctx).definitionVersions(key);
  return { ...publicDefinition(row), versions, bindings: row.bindings };
}

/** The compiled version (cached by its immutable id), with its resolved bindings. @throws DEFINITION_NOT_FOUND */
export async function compiled(ctx: EngineContext, definitionId: string): Promise<CachedDefinition> {
  return ctx.definitions.get(await definitionMeta(ctx, definitionId), async () => {
    const d = await deploymentStore(ctx).definitionById(definitionId);
    if (!d) throw new InsureflowError('DEFINITION_NOT_FOUND', `process definition ${definitionId} was not found`);
    return { xml: d.xml, bindings: d.bindings };
  });
}

export async function definitionMeta(ctx: EngineContext, id: string): Promise<DefinitionMeta> {
  let m = ctx.metaCache.get(id);
  if (!m) {
    const r = await deploymentStore(ctx).definitionById(id);
    if (!r) throw new InsureflowError('DEFINITION_NOT_FOUND', `process definition ${id} was not found`);
    m = { id: r.id, key: r.key, version: r.version, name: r.name };
    ctx.metaCache.set(id, m);
  }
  return m;
}

// ---------------------------------------------------------------- forms

/** The newest version of a form (id and schema text), or null. `trx`: read inside that transaction. */
export async function latestForm(ctx: EngineContext, trx: DeploymentTx | undefined, formKey: string): Promise<{ id: number; schema: string } | null> {
  const f = await deploymentStore(ctx).latestForm(formKey, null, trx);
  return f ? { id: f.id, schema: f.schema } : null;
}

/**
 * The form version a user task is created with, as its binding says: `deployment` / `version` -> the version
 * resolved when the process version was deployed; `versionTag` -> the newest version with that tag; `latest`
 * (default) -> the newest version. Null when the form has no schema.
 */
export async function formForTask(ctx: EngineContext, trx: DeploymentTx | undefined, def: CachedDefinition, info: ActivityInfo, formKey: string): Promise<{ id: number; schema: string } | null> {
  const store = deploymentStore(ctx);
  const tx = trx;
  const binding = info.form?.key === formKey ? info.form.binding : null;
  const resolved = def.bindings.forms[info.id];
  let f = null;
  // camunda-forms:deployment:<file>.form resolved at deploy to the Camunda form's id and version
  const byFile = formReference(formKey).kind === 'deploymentFile';
  if (byFile) f = resolved ? await store.form(resolved.key, resolved.version, tx) : null;
  else if (binding && (binding.type === 'deployment' || binding.type === 'version') && resolved?.key === formKey) f = await store.form(formKey, resolved.version, tx);
  else if (binding?.type === 'versionTag' && binding.versionTag) f = await store.latestForm(formKey, binding.versionTag, tx);
  else f = await store.latestForm(formKey, null, tx);
  return f ? { id: f.id, schema: f.schema } : null;
}

/** A form schema version never changes: its compiled validator is kept by id. */
export async function formValidator(ctx: EngineContext, formId: number): Promise<ValidateFunction> {
  const cached = ctx.forms.cached(formId);
  if (cached) return cached;
  const row = await deploymentStore(ctx).formById(formId);
  if (!row) throw new InsureflowError('NOT_FOUND', `form schema ${formId} was not found`);
  return ctx.forms.get(formId, row.schema);
}

export function validateForm(ctx: EngineContext, formId: number, schemaText: string, data: unknown, what: string): void {
  checkForm(ctx, ctx.forms.get(formId, schemaText), data, what);
}

export function checkForm(_ctx: EngineContext, validate: ValidateFunction, data: unknown, what: string): void {
  if (!validate(data)) {
    const details = fieldErrors(validate.errors);
    throw new InsureflowError('VALIDATION_FAILED', `${what} is invalid: ${details.map((d) => `${d.field} ${d.message}`).join('; ')}`, details);
  }
}
