/**
 * ESLint (flat config): the architecture rules that the type checker cannot express. Today one: the engine
 * (src/engine/**) knows no database, web framework or application layer. It reaches persistence only through
 * the ports it defines itself, so it can be embedded, replayed and tested without them. Checked by
 * `npm run lint` (which lints src/engine only: nothing else has rules, and parsing the rest only costs time);
 * test/lint.test.ts proves the rule refuses what it must.
 */
import tsParser from '@typescript-eslint/parser';

/** Packages the engine may not import (also their subpaths, e.g. knex/types). */
const FORBIDDEN_PACKAGES = ['knex', 'fastify', 'pg', 'sqlite3'];
/** Layers of src/ the engine may not import, by relative path (../persistence/db.ts, ../../http/app.ts...). */
const FORBIDDEN_LAYERS = ['persistence', 'http', 'audit', 'processes'];

const packageRegex = `^(${FORBIDDEN_PACKAGES.join('|')})(/.*)?$|^@fastify/`;
const layerRegex = `^(\\.\\.?/)+(.*/)?(${FORBIDDEN_LAYERS.join('|')})(/.*)?$`;
const message =
  'src/engine/** is the embeddable engine: it may not depend on knex, fastify, pg, sqlite3, @fastify/* nor on ' +
  'src/persistence, src/http, src/audit or src/processes. Define a port (an interface) in src/engine and implement it there.';

export default [
  {
    files: ['**/*.ts', '**/*.mts'],
    languageOptions: { parser: tsParser, ecmaVersion: 'latest', sourceType: 'module' },
    linterOptions: { reportUnusedDisableDirectives: 'off' },
  },
  {
    files: ['src/engine/**/*.ts', 'src/engine/**/*.mts', 'src/engine/**/*.js', 'src/engine/**/*.mjs'],
    rules: {
      // static imports and re-exports, `import type` included
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { regex: packageRegex, message },
            { regex: layerRegex, message },
          ],
        },
      ],
      // import('knex') as an expression or as a type (`typeof import('../persistence/db.ts')`)
      'no-restricted-syntax': [
        'error',
        ...['ImportExpression > Literal.source', 'TSImportType Literal'].flatMap((node) => [
          { selector: `${node}[value=/${packageRegex.replace(/\//g, '\\/')}/]`, message },
          { selector: `${node}[value=/${layerRegex.replace(/\//g, '\\/')}/]`, message },
        ]),
      ],
    },
  },
];
