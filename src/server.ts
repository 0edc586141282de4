/** Starts the service: migrate, register handlers, bootstrap the admin, deploy processes/, serve, schedule. */
import { readdir, readFile, realpath } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import pino from 'pino';
import type { FastifyInstance } from 'fastify';
import type { Knex } from 'knex';
import { checkListenAddress, type Config } from './config.ts';
import { openDb, migrate } from './persistence/db.ts';
import { InsureflowEngine, type Resource } from './persistence/knex-engine.ts';
import type { DeploymentWarning } from './engine/deployment.ts';
import { Scheduler } from './engine/scheduler.ts';
import { buildApp } from './http/app.ts';
import { registerInsuranceDomain, domainRoutes, type InsuranceDomain } from './processes/index.ts';
import { DigestSchedule } from './audit/digest.ts';
import { InsureflowError } from './errors.ts';
import { decodeResource } from './definitions/encoding.ts';
import { bpmnLinter } from './definitions/lint.ts';

/** Every .bpmn, .dmn, .form (Camunda form) and .schema.json below dir, and its authorizations.json files, with names relative to it. */
export async function readProcessDir(dir: string): Promise<Resource[]> {
  const out: Resource[] = [];
  async function walk(d: string) {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (/\.(bpmn|dmn|form)$|\.schema\.json$|^authorizations\.json$/i.test(e.name)) out.push({ name: relative(dir, p).split(sep).join('/'), content: decodeResource(await readFile(p), relative(dir, p).split(sep).join('/')) });
    }
  }
  await walk(dir);
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

/**
 * The start-up deployment's resources: every deployable file of INSUREFLOW_PROCESSES_DIR, and the deployment's
 * name (the folder's real path: start-ups are compared with the previous start-up of the same name). A missing
 * or empty folder gives a warning, or throws CONFIG_INVALID when the folder was configured explicitly.
 */
export async function startupResources(config: Pick<Config, 'processesDir'> & { processesDirExplicit?: boolean }): Promise<{ name: string; resources: Resource[]; warning: string | null }> {
  // the deployment is named after the folder's real absolute path: `processes`, `./processes/` and
  // `/srv/app/processes` are one folder, compared with the same previous start-up
  const name = (await realpath(config.processesDir).catch(() => resolve(config.processesDir))).slice(-200);
  const resources = await readProcessDir(config.processesDir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT' || err.code === 'ENOTDIR') return null;
    throw err;
  });
  if (resources && resources.length) return { name, resources, warning: null };
  const what = resources === null ? 'does not exist' : 'holds no .bpmn, .dmn, .form or .schema.json file';
  if (config.processesDirExplicit) throw new InsureflowError('CONFIG_INVALID', `INSUREFLOW_PROCESSES_DIR "${config.processesDir}" (${resolve(config.processesDir)}) ${what}`);
  return { name, resources: [], warning: `the processes folder "${config.processesDir}" (${resolve(config.processesDir)}) ${what}: nothing is deployed at start-up (set INSUREFLOW_PROCESSES_DIR to choose a folder)` };
}

/** A deploy warning on one line: `claims.bpmn: Task_1: Element is missing label/name (bpmnlint label-required)`. */
export function formatWarning(w: DeploymentWarning): string {
  return `${w.resource}: ${w.element ? w.element + ': ' : ''}${w.message} (${w.source}${w.rule ? ' ' + w.rule : ''})`;
}

export async function createEngine(config: Pick<Config, 'databaseUrl' | 'handlerModules' | 'limits'>, logger?: pino.Logger): Promise<{ engine: InsureflowEngine; db: Knex; domain: InsuranceDomain }> {
  const db = await openDb({ url: config.databaseUrl });
  await migrate(db);
  // deployments are linted (bpmnlint, analyst feedback as `warnings`; src/definitions/lint.ts)
  const engine = new InsureflowEngine({ db, logger, limits: config.limits, lint: bpmnLinter });
  const domain = registerInsuranceDomain(engine);
  for (const mod of config.handlerModules) {
    // an embedding team's own handlers: a module exporting register(engine)
    const m = await import(pathToFileURL(resolve(mod)).href);
    if (typeof m.register !== 'function') throw new Error(`INSUREFLOW_HANDLERS: ${mod} does not export register(engine)`);
    await m.register(engine);
  }
  return { engine, db, domain };
}

/** First start with no users: create `admin` with INSUREFLOW_ADMIN_TOKEN or a random token printed once. */
export async function bootstrapAdmin(engine: InsureflowEngine, token: string | null): Promise<string | null> {
  if ((await engine.users.count()) > 0) return null;
  const res = await engine.users.add({ name: 'admin', roles: ['admin'], groups: [], token: token ?? undefined });
  return res.token;
}

export interface RunningServer {
  app: FastifyInstance;
  engine: InsureflowEngine;
  scheduler: Scheduler;
  close(): Promise<void>;
}

export async function serve(config: Readonly<Config>): Promise<RunningServer> {
  // a port in use fails here, before the database is created, migrated or written (CONFIG_INVALID)
  await checkListenAddress(config);
  const logger = pino({ level: config.logLevel });
  // the processes folder is read before anything is written: an explicitly configured folder that is missing or
  // empty stops the start (CONFIG_INVALID)
  const processes = await startupResources(config);
  const { engine, db, domain } = await createEngine(config, logger);
  const scheduler = new Scheduler(engine, config.jobPollMs);
  try {
    await scheduler.register();
  } catch (err) {
    await db.destroy();
    throw err;
  }
  const token = await bootstrapAdmin(engine, config.adminToken);
  if (token) {
    process.stdout.write(`\n  insureflow: created user "admin". Its API token (shown once):\n\n    ${config.adminToken ? '(the INSUREFLOW_ADMIN_TOKEN you set)' : token}\n\n`);
  }
  if (processes.resources.length) {
    // one atomic deployment named after the folder: only files changed since the last start-up are deployed
    const res = await engine.deploy(processes.resources, { source: 'startup', name: processes.name });
    logger.info(
      {
        deploymentId: res.deploymentId,
        definitions: res.definitions.map((d) => `${d.key}:v${d.version}${d.created ? ' (new)' : ''}`),
        decisions: res.decisions.map((d) => `${d.decisionKey}:v${d.version}${d.created ? ' (new)' : ''}`),
        forms: res.forms.filter((f) => f.created).map((f) => `${f.formKey}:v${f.version} (new)`),
        ...(res.authorizations?.created ? { authorizations: `${res.authorizations.resource}: ${res.authorizations.grants} default grants, ${res.authorizations.sensitiveVariables} sensitive variables` } : {}),
        ...(res.warnings.length ? { warnings: res.warnings.map(formatWarning) } : {}),
      },
      res.created ? 'processes deployed' : 'processes unchanged since the last start-up',
    );
  } else {
    logger.warn({ processesDir: config.processesDir }, processes.warning ?? 'nothing to deploy');
  }
  const app = await buildApp({ engine, logger: logger as any, plugins: [domainRoutes] });
  await app.listen({ port: config.port, host: config.host });
  scheduler.start();
  // payouts ordered by committed transitions go to the bank after the commit; the sweep resends unconfirmed ones
  let relaying: Promise<unknown> = Promise.resolve();
  const relayTimer = setInterval(() => {
    relaying = domain.relay.sendPending().catch((err) => logger.error({ err }, 'payment relay sweep failed'));
  }, config.jobPollMs);
  relayTimer.unref();
  // the daily digest of all history chains (and one at shutdown): deleting a whole chain becomes detectable
  const digests = new DigestSchedule(db, engine.clock, logger).start();

  let closing: Promise<void> | null = null;
  const close = () =>
    (closing ??= (async () => {
      await app.close(); // stop accepting, let in-flight requests finish
      await scheduler.stop();
      clearInterval(relayTimer);
      await relaying;
      await engine.drain(10_000);
      await digests.stop();
      await db.destroy();
    })());
  return { app, engine, scheduler, close };
}
