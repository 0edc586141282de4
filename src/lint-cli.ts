/**
 * `insureflow lint <file|dir>...`: what a deployment of these files would say, without deploying them. Per file:
 * the refusals our deploy gives (the same checks: the files are deployed, as one deployment like `insureflow
 * deploy`, into a throw-away in-memory SQLite database with the server's handlers, so nothing is written anywhere)
 * and the warnings (parser warnings; bpmnlint's recommended rules and bpmnlint-plugin-camunda-compat for the
 * Camunda version each diagram was drawn for, src/definitions/lint.ts). A lint finding about an element that a
 * refusal already names is not repeated. Needs no database; INSUREFLOW_HANDLERS and the limits are read as the
 * server reads them.
 *
 * Exit code: 0 when nothing would be refused (warnings or not), 1 when the deployment would be refused, 2 on a
 * usage error (no path, a path that does not exist, no deployable file).
 */
import { stat, readFile } from 'node:fs/promises';
import { basename, relative, resolve, sep } from 'node:path';
import { createEngine, readProcessDir } from './server.ts';
import { InsureflowError } from './errors.ts';
import { SYSTEM } from './engine/actor.ts';
import { resourceKind, type DeploymentProblem, type DeploymentWarning, type Resource } from './engine/deployment.ts';
import { parseBpmn } from './definitions/parse.ts';
import { bpmnLinter, lintTarget, withoutRefused } from './definitions/lint.ts';

export const LINT_USAGE = '  lint <file|dir>...                      what deploying these files would refuse and warn about, without deploying (exit 0 warnings only, 1 refused, 2 usage)';

interface Io {
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown };
}

/** Reads the files and folders like `insureflow deploy`; null (after saying why on stderr) on a usage error. */
async function readResources(paths: string[], io: Io): Promise<Resource[] | null> {
  const resources: Resource[] = [];
  for (const p of paths) {
    const st = await stat(p).catch(() => null);
    if (!st) {
      io.stderr.write(`insureflow: ${p}: no such file or directory\n`);
      return null;
    }
    if (st.isDirectory()) resources.push(...(await readProcessDir(p)));
    else resources.push({ name: relative(process.cwd(), resolve(p)).split(sep).join('/') || basename(p), content: await readFile(p, 'utf8') });
  }
  if (!resources.length) {
    io.stderr.write(`insureflow: ${paths.join(', ')}: no .bpmn, .dmn, .form or .schema.json file to lint\n`);
    return null;
  }
  return resources;
}

/** How a diagram was linted: `linted for Camunda 7.22 (bpmnlint:recommended + camunda-compat/camunda-platform-7-22)`. */
async function targetLine(r: Resource): Promise<string | null> {
  if (resourceKind(r.name, r.content) !== 'bpmn') return null;
  try {
    const t = lintTarget(await parseBpmn(r.content));
    if (!t.platform) return 'linted as plain BPMN (bpmnlint:recommended)';
    return `linted for Camunda ${t.version} (bpmnlint:recommended${t.compatConfig ? ` + camunda-compat/${t.compatConfig}` : '; camunda-compat has no rules for this version'})`;
  } catch {
    return null;
  }
}

/** Lint findings of the BPMN files that parse (used when the deployment is refused: its result has none). */
async function lintAll(resources: Resource[]): Promise<DeploymentWarning[]> {
  const out: DeploymentWarning[] = [];
  for (const r of resources) {
    if (resourceKind(r.name, r.content) !== 'bpmn') continue;
    const parsed = await parseBpmn(r.content).catch(() => null);
    if (parsed) out.push(...(await bpmnLinter({ name: r.name, content: r.content, parsed })));
  }
  return out;
}

/**
 * Runs `insureflow lint`; returns the exit code (see the module comment). Output: per file its refusals
 * (`error`) and warnings (`warning`), or `ok`; then a total line.
 */
export async function lintCommand(paths: string[], config: Omit<Parameters<typeof createEngine>[0], 'databaseUrl'>, io: Io): Promise<number> {
  if (paths.some((p) => p === '-h' || p === '--help')) {
    io.stdout.write(`usage:\n${LINT_USAGE}\n`);
    return 0;
  }
  const option = paths.find((p) => p.startsWith('-'));
  if (option) {
    io.stderr.write(`insureflow: lint has no option ${option}\nusage:\n${LINT_USAGE}\n`);
    return 2;
  }
  if (!paths.length) {
    io.stderr.write(`insureflow: lint needs one or more files or folders\nusage:\n${LINT_USAGE}\n`);
    return 2;
  }
  const resources = await readResources(paths, io);
  if (!resources) return 2;

  let problems: DeploymentProblem[] = [];
  let warnings: DeploymentWarning[] = [];
  // the server's engine (handlers, limits, lint port) over a database that lives as long as this command
  const { engine, db } = await createEngine({ ...config, databaseUrl: ':memory:' });
  try {
    const res = await engine.deploy(resources, { source: 'cli', name: 'insureflow lint', actor: SYSTEM });
    warnings = res.warnings;
  } catch (err) {
    if (!(err instanceof InsureflowError) || err.code !== 'BPMN_INVALID' || !Array.isArray(err.details)) throw err;
    problems = err.details as DeploymentProblem[];
    warnings = withoutRefused(await lintAll(resources), problems);
  } finally {
    await db.destroy();
  }

  const names = [...resources.map((r) => r.name), ...[...problems, ...warnings].map((x) => x.resource).filter((n) => !resources.some((r) => r.name === n))];
  for (const name of [...new Set(names)]) {
    const errs = problems.filter((p) => p.resource === name);
    const warns = warnings.filter((w) => w.resource === name);
    const r = resources.find((x) => x.name === name);
    const target = r ? await targetLine(r) : null;
    const state = errs.length ? `would be refused: ${errs.length} error(s)` : 'deploys';
    io.stdout.write(`${name}  ${state}${warns.length ? `, ${warns.length} warning(s)` : ''}${target ? `; ${target}` : ''}\n`);
    for (const p of errs) io.stdout.write(`  error    ${p.element ? p.element + ': ' : ''}${p.message}\n`);
    for (const w of warns) io.stdout.write(`  warning  ${w.element ? w.element + ': ' : ''}${w.message} (${w.source}${w.rule ? ' ' + w.rule : ''})\n`);
  }
  io.stdout.write(`${resources.length} file(s): ${problems.length} error(s), ${warnings.length} warning(s)${problems.length ? '; the deployment would be refused' : ''}\n`);
  return problems.length ? 1 : 0;
}
