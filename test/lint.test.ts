/**
 * The engine's import boundary (.eslint.config.js) bites: code placed at src/engine/x.ts that imports a database
 * driver, the web framework or another layer of src/ is refused; engine-internal and allowed imports are not.
 * Uses the real ESLint Node API with the project's own config file.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const eslint = new ESLint({ cwd: root, overrideConfigFile: join(root, '.eslint.config.js') });

/** The rule ids of the errors ESLint reports for `code` placed at `file` (relative to the repository). */
async function errorsAt(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: join(root, file) });
  const fatal = result.messages.filter((m) => m.fatal);
  assert.equal(fatal.map((m) => m.message), [], 'the snippet parses');
  return result.messages.filter((m) => m.severity === 2).map((m) => String(m.ruleId));
}

test('Given src/engine/x.ts importing knex (a value or only a type), then lint refuses it', async () => {
  assert.equal(await errorsAt('src/engine/x.ts', "import knex from 'knex';\nexport const db = knex;\n"), ['no-restricted-imports']);
  assert.equal(await errorsAt('src/engine/x.ts', "import type { Knex } from 'knex';\nexport type Db = Knex;\n"), ['no-restricted-imports']);
  assert.equal(await errorsAt('src/engine/x.ts', "import type { Knex } from 'knex/types/index.js';\nexport type Db = Knex;\n"), ['no-restricted-imports']);
});

test('Given src/engine/x.ts importing ../persistence/db.ts, then lint refuses it (also type-only and re-exports)', async () => {
  assert.equal(await errorsAt('src/engine/x.ts', "import { openDb } from '../persistence/db.ts';\nexport const open = openDb;\n"), ['no-restricted-imports']);
  assert.equal(await errorsAt('src/engine/x.ts', "import type { DbOptions } from '../persistence/db.ts';\nexport type O = DbOptions;\n"), ['no-restricted-imports']);
  assert.equal(await errorsAt('src/engine/x.ts', "export { openDb } from '../persistence/db.ts';\n"), ['no-restricted-imports']);
  assert.equal(await errorsAt('src/engine/sub/y.ts', "import { openDb } from '../../persistence/db.ts';\nexport const open = openDb;\n"), ['no-restricted-imports']);
});

test('Other forbidden dependencies: fastify, pg, sqlite3, @fastify/*, http, audit, processes, dynamic import', async () => {
  const refused = [
    "import Fastify from 'fastify';",
    "import pg from 'pg';",
    "import sqlite3 from 'sqlite3';",
    "import multipart from '@fastify/multipart';",
    "import { buildApp } from '../http/app.ts';",
    "import { verifyAll } from '../audit/verify.ts';",
    "import { registerInsuranceDomain } from '../processes/index.ts';",
    "export * from '../audit/chain.ts';",
  ];
  for (const code of refused) assert.equal(await errorsAt('src/engine/x.ts', code), ['no-restricted-imports'], code);
  assert.equal(await errorsAt('src/engine/x.ts', "export const load = () => import('knex');"), ['no-restricted-syntax']);
  assert.equal(await errorsAt('src/engine/x.ts', "export const load = () => import('../persistence/db.ts');"), ['no-restricted-syntax']);
  assert.equal(await errorsAt('src/engine/x.ts', "export type Open = typeof import('../persistence/db.ts').openDb;"), ['no-restricted-syntax']);
});

test('Given allowed imports in src/engine/x.ts, then lint reports nothing', async () => {
  const allowed = [
    "import { ManualClock } from './clock.ts';",
    "import { parseBpmn } from '../definitions/parse.ts';",
    "import { InsureflowError } from '../errors.ts';",
    "import { Engine } from 'bpmn-engine';",
    "import { createHash } from 'node:crypto';",
    "import type { ValidateFunction } from 'ajv';",
    "import pgx from 'pgx'; import knexify from 'knexify';", // only the exact packages are forbidden
  ];
  for (const code of allowed) assert.equal(await errorsAt('src/engine/x.ts', `${code}\n`), [], code);
});

test('Given the same knex import outside src/engine, then lint reports nothing', async () => {
  assert.equal(await errorsAt('src/persistence/x.ts', "import knex from 'knex';\nexport const db = knex;\n"), []);
});

test.run();
