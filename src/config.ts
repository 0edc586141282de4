/**
 * Configuration from the environment, checked against a JSON Schema at start-up and frozen; plus the
 * start-up check of that configuration against the machine (can the server listen on HOST:PORT).
 */
import { createServer } from 'node:net';
import { Ajv } from 'ajv';
import { InsureflowError } from './errors.ts';
import { parseDatabaseUrl } from './persistence/dialect.ts';
import { LIMIT_ENV, resolveLimits, type EngineLimits } from './engine/limits.ts';

export interface Config {
  port: number;
  host: string;
  /** validated: a SQLite path, `sqlite:<path>` or `postgres(ql)://...` (src/persistence/dialect.ts) */
  databaseUrl: string;
  processesDir: string;
  /** true when INSUREFLOW_PROCESSES_DIR was set (non-empty): a missing or empty folder is then an error, not a warning */
  processesDirExplicit: boolean;
  adminToken: string | null;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** scheduler poll interval (ms) */
  jobPollMs: number;
  /** extra handler modules (paths); each exports `register(engine)` */
  handlerModules: string[];
  /** the limits set by INSUREFLOW_MIN_TIMER_CYCLE_MS ... (src/engine/limits.ts LIMIT_ENV); the rest keep their defaults */
  limits?: Partial<EngineLimits>;
}

const schema = {
  type: 'object',
  additionalProperties: true,
  properties: {
    PORT: { type: 'string', pattern: '^[0-9]{1,5}$' },
    HOST: { type: 'string', minLength: 1 },
    DATABASE_URL: { type: 'string', minLength: 1 },
    INSUREFLOW_PROCESSES_DIR: { type: 'string', minLength: 1 },
    INSUREFLOW_ADMIN_TOKEN: { type: 'string', minLength: 16 },
    INSUREFLOW_JOB_POLL_MS: { type: 'string', pattern: '^[0-9]+$' },
    INSUREFLOW_HANDLERS: { type: 'string', minLength: 1 },
    LOG_LEVEL: { enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] },
    ...Object.fromEntries(Object.values(LIMIT_ENV).map((name) => [name, { type: 'string', pattern: '^[0-9]{1,9}$' }])),
  },
} as const;

const validate = new Ajv({ allErrors: true }).compile(schema);

/**
 * Reads and checks the configuration; opens, creates and binds nothing.
 * Empty variables count as unset.
 * @throws InsureflowError CONFIG_INVALID naming every invalid variable, an out-of-range PORT, or a
 *   DATABASE_URL of an unknown form (the message lists the accepted forms).
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Readonly<Config> {
  const relevant: Record<string, string> = {};
  for (const key of Object.keys(schema.properties)) {
    const v = env[key];
    if (v !== undefined && v !== '') relevant[key] = v;
  }
  if (!validate(relevant)) {
    const msgs = (validate.errors ?? []).map((e) => `${e.instancePath.slice(1) || '(env)'} ${e.message}`);
    throw new InsureflowError('CONFIG_INVALID', `invalid configuration: ${msgs.join('; ')}`, validate.errors);
  }
  const port = Number(relevant.PORT ?? 3000);
  if (port < 1 || port > 65535) throw new InsureflowError('CONFIG_INVALID', `invalid configuration: PORT must be 1-65535, got ${port}`);
  const databaseUrl = relevant.DATABASE_URL ?? './data/insureflow.sqlite';
  try {
    parseDatabaseUrl(databaseUrl);
  } catch (err) {
    throw new InsureflowError('CONFIG_INVALID', `invalid configuration: ${(err as Error).message}`);
  }
  const limits: Partial<EngineLimits> = {};
  for (const [key, name] of Object.entries(LIMIT_ENV) as [keyof typeof LIMIT_ENV, string][]) {
    if (relevant[name] === undefined) continue;
    limits[key] = Number(relevant[name]);
    if (limits[key] === 0 && key !== 'minTimerCycleMs') throw new InsureflowError('CONFIG_INVALID', `invalid configuration: ${name} must be at least 1`);
  }
  resolveLimits(limits);
  return Object.freeze({
    port,
    host: relevant.HOST ?? '0.0.0.0',
    databaseUrl,
    processesDir: relevant.INSUREFLOW_PROCESSES_DIR ?? 'processes',
    processesDirExplicit: relevant.INSUREFLOW_PROCESSES_DIR !== undefined,
    adminToken: relevant.INSUREFLOW_ADMIN_TOKEN ?? null,
    logLevel: (relevant.LOG_LEVEL ?? 'info') as Config['logLevel'],
    jobPollMs: Number(relevant.INSUREFLOW_JOB_POLL_MS ?? 1000),
    handlerModules: (relevant.INSUREFLOW_HANDLERS ?? '').split(',').map((x) => x.trim()).filter(Boolean),
    limits: Object.freeze(limits),
  });
}

/**
 * Start-up check that the server will be able to listen on HOST:PORT, made before anything is opened or
 * written: binds a probe socket and releases it at once.
 * @throws InsureflowError CONFIG_INVALID naming the port and host: in use by another process (EADDRINUSE),
 *   not permitted (EACCES), HOST not an address of this machine (EADDRNOTAVAIL) or not resolvable (ENOTFOUND).
 */
export async function checkListenAddress(config: Pick<Config, 'host' | 'port'>): Promise<void> {
  const { host, port } = config;
  await new Promise<void>((resolve, reject) => {
    const probe = createServer();
    probe.once('error', (err: NodeJS.ErrnoException) => {
      const where = `port ${port} on host ${host}`;
      const why =
        err.code === 'EADDRINUSE' ? `${where} is already in use by another process; stop it or choose another PORT`
        : err.code === 'EACCES' ? `not permitted to listen on ${where}; choose a PORT above 1023 or grant the permission`
        : err.code === 'EADDRNOTAVAIL' ? `cannot listen on ${where}: HOST is not an address of this machine`
        : err.code === 'ENOTFOUND' || err.code === 'EAI_AGAIN' ? `cannot listen on ${where}: HOST does not resolve`
        : `cannot listen on ${where}: ${err.message}`;
      reject(new InsureflowError('CONFIG_INVALID', why, { code: err.code, host, port }));
    });
    probe.listen({ port, host, exclusive: true }, () => probe.close(() => resolve()));
  });
}
