/** The insureflow command line: serve, migrate, deploy, user management. Reads the same env as the server. */
import { stat } from 'node:fs/promises';
import { basename, relative, resolve, sep } from 'node:path';
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { loadConfig } from './config.ts';
import { openDb, migrate } from './persistence/db.ts';
import { createEngine, formatWarning, readProcessDir, serve } from './server.ts';
import { InsureflowError } from './errors.ts';
import { decodeResource } from './definitions/encoding.ts';
import { ROLES, SYSTEM, type Role } from './persistence/users.ts';
import { AUTHORIZATION_USAGE } from './authorization-cli.ts';

const usage = `usage: insureflow <command>

  serve                                   migrate, deploy $INSUREFLOW_PROCESSES_DIR and serve HTTP
  migrate                                 apply database migrations
  deploy <file|dir>...                    deploy exactly these BPMN, DMN, form schema and .form files, atomically
  lint <file|dir>...                      what deploying them would refuse and warn about (bpmnlint), without deploying
  user add <name> --roles r1,r2 [--groups g1,g2]   create a user and print its token once
  user list                               list users
  user disable <name> | user enable <name> | user remove <name>
  demo seed                               demo customers, policies and a launched product
  audit export|verify|replay|digest       auditors' tools (insureflow audit --help)
\${AUTHORIZATION_USAGE}

environment: PORT, HOST, DATABASE_URL, INSUREFLOW_PROCESSES_DIR, INSUREFLOW_ADMIN_TOKEN, LOG_LEVEL`;

function fail(message: string, code = 2): never {
  process.stderr.write(`insureflow: ${message}\n`);
  process.exit(code);
}

const list = (v: string | undefined) => (v ? v.split(',').map((s) => s.trim()).filter(Boolean) : []);

export async function main(argv: string[]): Promise<void> {
  if (argv[0] === 'audit') {
    // the audit commands parse their own options (--from, --to, --format, --instance, --all...)
    loadConfig();
    const { auditCommand } = await import('./audit/cli.ts');
    process.exitCode = await auditCommand(argv.slice(1));
    return;
  }
  if (argv[0] === 'lint') {
    // no database: the files are checked in a throw-away in-memory one (src/lint-cli.ts)
    const { lintCommand } = await import('./lint-cli.ts');
    process.exitCode = await lintCommand(argv.slice(1), loadConfig(), { stdout: process.stdout, stderr: process.stderr });
    return;
  }
  if (argv[0] === 'grant' || argv[0] === 'revoke' || argv[0] === 'grants') {
    // authorizations: as an admin named cli:<operating-system user> (src/authorization-cli.ts)
    const config = loadConfig();
    const db = await openDb({ url: config.databaseUrl });
    try {
      await migrate(db);
      const { authorizationCommand } = await import('./authorization-cli.ts');
      process.exitCode = await authorizationCommand(argv, { db, stdout: process.stdout, stderr: process.stderr });
    } finally {
      await db.destroy();
    }
    return;
  }
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { roles: { type: 'string' }, groups: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  const [cmd, sub, arg] = positionals;
  if (values.help || !cmd) {
    process.stdout.write(usage + '\n');
    return;
  }
  const config = loadConfig();
  switch (cmd) {
    case 'serve': {
      // SIGTERM/SIGINT: close the server (stop accepting, drain, close the database) and exit 0. Handlers go in
      // before start-up, so a signal during migration or deployment stops the server once it is up instead of
      // killing it half-way. A repeated signal is ignored on purpose: Ctrl-C under `npm start` delivers SIGINT
      // twice (from the terminal and forwarded by npm). The package.json start script execs node, so the
      // signal a supervisor sends to npm reaches this process rather than stopping at an intermediate `sh`.
      let running: Awaited<ReturnType<typeof serve>> | null = null;
      let signal: NodeJS.Signals | null = null;
      const shutdown = () => {
        running!.app.log.info({ signal }, 'shutting down');
        running!.close().then(
          () => process.exit(0),
          (err) => {
            running!.app.log.error({ err }, 'shutdown failed');
            process.exit(1);
          },
        );
      };
      const onSignal = (sig: NodeJS.Signals) => {
        if (signal) return;
        signal = sig;
        setTimeout(() => {
          process.stderr.write(`insureflow: ${sig}: shutdown did not finish within 20 s, exiting\n`);
          process.exit(1);
        }, 20_000).unref();
        if (running) shutdown();
      };
      process.on('SIGTERM', onSignal);
      process.on('SIGINT', onSignal);
      // a rejection nothing handled is a bug, logged loudly; the server keeps serving (each transition commits or
      // rolls back as a whole, so no half-done state is left behind) instead of dropping every request in flight
      process.on('unhandledRejection', (err) => {
        if (running) running.app.log.error({ err }, 'BUG: a promise was rejected and nothing handled it; the server keeps serving');
        else process.stderr.write(`insureflow: BUG: unhandled rejection during start-up: ${(err as Error)?.stack ?? String(err)}\n`);
      });
      running = await serve(config);
      if (signal) shutdown();
      return;
    }
    case 'migrate': {
      const db = await openDb({ url: config.databaseUrl });
      const log = await migrate(db);
      process.stdout.write(log.length ? `applied: ${log.join(', ')}\n` : 'database is up to date\n');
      await db.destroy();
      return;
    }
    case 'deploy': {
      // exactly the files named (a folder: every .bpmn, .dmn, .form and .schema.json in it, named relative to it), in one
      // atomic deployment; prints every version created or found unchanged; a refused deployment exits 1 with the
      // API's reasons (nothing is stored)
      const paths = positionals.slice(1);
      if (!paths.length) fail('deploy needs one or more files or folders');
      const resources: { name: string; content: string }[] = [];
      for (const p of paths) {
        const st = await stat(p).catch(() => fail(`${p}: no such file or directory`));
        if (st.isDirectory()) resources.push(...(await readProcessDir(p)));
        else resources.push({ name: relative(process.cwd(), resolve(p)).split(sep).join('/') || basename(p), content: decodeResource(await readFile(p), basename(p)) });
      }
      if (!resources.length) fail(`${paths.join(', ')}: no .bpmn, .dmn, .form or .schema.json file to deploy`);
      const { engine, db } = await createEngine(config);
      try {
        const res = await engine.deploy(resources, { source: 'cli', name: paths.join(', ').slice(0, 200), actor: SYSTEM }).catch((err) => {
          if (!(err instanceof InsureflowError)) throw err;
          // the same reasons as the API's 422: every problem with its resource and element
          const problems = Array.isArray(err.details) ? (err.details as { resource?: string; element?: string | null; message?: string }[]) : [];
          process.stderr.write(`insureflow: ${err.code}: ${err.message}\n${problems.map((p) => `  - ${p.resource ? p.resource + ': ' : ''}${p.element ? p.element + ': ' : ''}${p.message ?? JSON.stringify(p)}\n`).join('')}`);
          process.exitCode = 1;
          return null;
        });
        if (!res) return;
        const state = (created: boolean) => (created ? 'created' : 'unchanged');
        for (const d of res.definitions) process.stdout.write(`process  ${d.key} v${d.version} ${state(d.created)}  ${d.id}\n`);
        for (const d of res.decisions) process.stdout.write(`decision ${d.decisionKey} v${d.version} ${state(d.created)}\n`);
        for (const f of res.forms) process.stdout.write(`form     ${f.formKey} v${f.version} ${state(f.created)}\n`);
        const authz = res.authorizations;
        if (authz) process.stdout.write(`grants   ${authz.resource} ${authz.created ? 'replaced the default grants' : 'unchanged'} (${authz.grants} grants, ${authz.sensitiveVariables} sensitive variables)\n`);
        for (const w of res.warnings) process.stdout.write(`warning  ${formatWarning(w)}\n`);
        process.stdout.write(res.deploymentId ? `deployment ${res.deploymentId}\n` : 'nothing changed: no deployment recorded\n');
      } finally {
        await db.destroy();
      }
      return;
    }
    case 'user': {
      const db = await openDb({ url: config.databaseUrl });
      await migrate(db);
      const { UserStore } = await import('./persistence/users.ts');
      const users = new UserStore(db, Date.now);
      try {
        if (sub === 'add') {
          if (!arg) fail('user add needs a name');
          const roles = list(values.roles) as Role[];
          if (!roles.length) fail(`user add needs --roles (${ROLES.join(', ')})`);
          const { user, token } = await users.add({ name: arg, roles, groups: list(values.groups) });
          process.stdout.write(`created user ${user.name} (roles: ${user.roles.join(', ')}; groups: ${user.groups.join(', ') || '-'})\ntoken (shown once): ${token}\n`);
        } else if (sub === 'list') {
          for (const u of await users.list()) process.stdout.write(`${u.name}\t${u.roles.join(',')}\t${u.groups.join(',')}\t${u.disabled ? 'disabled' : 'active'}\n`);
        } else if (sub === 'disable' || sub === 'enable') {
          if (!arg) fail(`user ${sub} needs a name`);
          await users.update(arg, { disabled: sub === 'disable' });
          process.stdout.write(`user ${arg} ${sub}d\n`);
        } else if (sub === 'remove') {
          if (!arg) fail('user remove needs a name');
          await users.remove(arg);
          process.stdout.write(`user ${arg} removed (tokens revoked)\n`);
        } else fail(`unknown user command "${sub ?? ''}"\n${usage}`);
      } finally {
        await db.destroy();
      }
      return;
    }
    case 'demo': {
      if (sub !== 'seed') fail(`unknown demo command "${sub ?? ''}"; use: insureflow demo seed`);
      const db = await openDb({ url: config.databaseUrl });
      try {
        await migrate(db);
        const { seedDemo } = await import('./processes/demo.ts');
        const summary = await seedDemo(db);
        process.stdout.write(JSON.stringify(summary, null, 2) + '\n');
      } finally {
        await db.destroy();
      }
      return;
    }
    default:
      fail(`unknown command "${cmd}"\n${usage}`);
  }
}

const isMain = process.argv[1] && /cli\.ts$/.test(process.argv[1]);
if (isMain) {
  main(process.argv.slice(2)).catch((err) => {
    if (err instanceof InsureflowError) {
      const details = Array.isArray(err.details) ? '\n' + err.details.map((d: any) => `  - ${d.resource ? d.resource + ': ' : ''}${d.element ? d.element + ': ' : ''}${d.message ?? JSON.stringify(d)}`).join('\n') : '';
      fail(`${err.code}: ${err.message}${details}`, 1);
    }
    fail(err instanceof Error ? err.message : String(err), 1);
  });
}
