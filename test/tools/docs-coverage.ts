/**
 * Writes the "BPMN coverage" section of README.md from the support table (src/definitions/support.ts), between
 * the markers COVERAGE_BEGIN / COVERAGE_END. `npm run docs:coverage`; `--check` exits 1 when the README is stale
 * (test/support-table.test.ts runs the same comparison).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { withCoverage } from '../../src/definitions/support.ts';

const readme = fileURLToPath(new URL('../../README.md', import.meta.url));
const text = readFileSync(readme, 'utf8');
const next = withCoverage(text);
if (process.argv.includes('--check')) {
  if (next !== text) {
    console.error('README.md: the BPMN coverage section is stale; run npm run docs:coverage');
    process.exit(1);
  }
} else if (next !== text) {
  writeFileSync(readme, next);
  console.log('README.md: BPMN coverage section written');
}
