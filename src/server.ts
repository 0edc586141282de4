/** Starts the service: migrate, register handlers, bootstrap the admin, deploy processes/, serve, schedule. */
import { readdir, readFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import pino from 'pino';
import type { FastifyInstance } from 'fastify';
import type { Knex } from 'knex';
import { checkListenAddress, type Config } from './config.ts';
import { openDb, migrate } from './persistence/db.ts';
import { InsureflowEngine, type Resource } from './engine/service.ts';
import { Scheduler } from './engine/scheduler.ts';
import { buildApp } from './http/app.ts';
import { registerInsuranceDomain, domainRoutes, type InsuranceDomain } from './processes/index.ts';
import { DigestSchedule } from './audit/digest.ts';

/** Every .bpmn, .dmn and .schema.json below dir, with names relative to it. */
export async function readProcessDir(dir: string): Promise<Resource[]> {
  const out: Resource[] = [];
  async function walk(d: string) {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (/\.(bpmn|dmn)$|\.schema\.json$/i.test(e.name)) out.push({ name: relative(dir, p), content: await readFile(p, 'utf8') });
    }
  }
  await walk(dir);
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

export async function createEngine(config: Pick<Config, 'databaseUrl' | 'handlerModules'>, logger?: pino.Logger): Promise<{ engine: InsureflowEngine; db: Knex; domain: InsuranceDomain }> {
  const db = await openDb({ url: config.databaseUrl });
  await migrate(db);
  const engine = new InsureflowEngine({ db, logger });
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
  const resources = await readProcessDir(config.processesDir).catch((err) => {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  });
  if (resources.length) {
    const res = await engine.deploy(resources, { source: 'startup', name: config.processesDir });
    logger.info({ definitions: res.definitions.map((d) => `${d.key}:v${d.version}${d.created ? ' (new)' : ''}`) }, 'processes deployed');
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
