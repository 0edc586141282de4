/** Configuration from the environment, checked against a JSON Schema at start-up and frozen. */
import { Ajv } from 'ajv';
import { InsureflowError } from './errors.ts';

export interface Config {
  port: number;
  host: string;
  databaseUrl: string;
  processesDir: string;
  adminToken: string | null;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** scheduler poll interval (ms) */
  jobPollMs: number;
  /** extra handler modules (paths); each exports `register(engine)` */
  handlerModules: string[];
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
  },
} as const;

const validate = new Ajv({ allErrors: true }).compile(schema);

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
  return Object.freeze({
    port,
    host: relevant.HOST ?? '0.0.0.0',
    databaseUrl: relevant.DATABASE_URL ?? './data/insureflow.sqlite',
    processesDir: relevant.INSUREFLOW_PROCESSES_DIR ?? 'processes',
    adminToken: relevant.INSUREFLOW_ADMIN_TOKEN ?? null,
    logLevel: (relevant.LOG_LEVEL ?? 'info') as Config['logLevel'],
    jobPollMs: Number(relevant.INSUREFLOW_JOB_POLL_MS ?? 1000),
    handlerModules: (relevant.INSUREFLOW_HANDLERS ?? '').split(',').map((x) => x.trim()).filter(Boolean),
  });
}
