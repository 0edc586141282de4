/**
 * The shipped forms and message schemas (processes/forms, processes/messages) follow the authoring rules that keep
 * refusals precise: a conditional (`if`) names the fields it tests in its own `required` (JSON Schema's `properties`
 * alone also matches when the field is absent, so a misspelled deciding field was reported with the conditional
 * fields it would require and a "(root) must match then schema" line: second newcomer round of issue 12), and
 * every amount of money has at most two decimals and an upper bound.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { processesDir } from './insurance.ts';

const files = ['forms', 'messages'].flatMap((dir) => readdirSync(join(processesDir, dir)).filter((f) => f.endsWith('.json')).map((f) => join(dir, f)));
const schemaOf = (file: string) => JSON.parse(readFileSync(join(processesDir, file), 'utf8'));

/** Every subschema of a schema, with its path. */
function walk(node: unknown, path: string, visit: (s: Record<string, any>, path: string) => void): void {
  if (!node || typeof node !== 'object') return;
  if (Array.isArray(node)) return node.forEach((n, i) => walk(n, `${path}[${i}]`, visit));
  visit(node as Record<string, any>, path);
  for (const [k, v] of Object.entries(node)) walk(v, `${path}/${k}`, visit);
}

test('every conditional of a shipped form names the fields it tests in its own required', () => {
  assert.ok(files.length > 30, `the shipped forms were found (${files.length})`);
  const loose: string[] = [];
  for (const file of files) {
    walk(schemaOf(file), '', (s, path) => {
      const cond = s.if;
      if (!cond || typeof cond !== 'object' || !cond.properties) return;
      const tested = Object.keys(cond.properties);
      const required: string[] = cond.required ?? [];
      const missing = tested.filter((f) => !required.includes(f));
      if (missing.length) loose.push(`${file}${path}/if: ${missing.join(', ')}`);
    });
  }
  assert.equal(loose, []);
});

test('every amount of money in a shipped form or message has at most two decimals and an upper bound', () => {
  const money = /(amount|premium|suminsured|deductible|payout|paid|compensation|estimate)/i;
  const loose: string[] = [];
  for (const file of files) {
    walk(schemaOf(file), '', (s, path) => {
      for (const [name, p] of Object.entries<any>(s.properties ?? {})) {
        const types = Array.isArray(p?.type) ? p.type : [p?.type];
        if (!types.includes('number') || !money.test(name)) continue;
        const decimals = p.multipleOf === 0.01 || p.format === 'money';
        const bounded = typeof p.maximum === 'number' || typeof p.exclusiveMaximum === 'number';
        if (!decimals || !bounded) loose.push(`${file}${path}/${name}${decimals ? '' : ' (decimals)'}${bounded ? '' : ' (maximum)'}`);
      }
    });
  }
  assert.equal(loose, []);
});

test.run();
