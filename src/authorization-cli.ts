/**
 * `insureflow grant | revoke | grants`: managing authorizations from the command line (src/engine/authorization.ts).
 * Whoever runs the CLI holds the database's credentials: it acts as an admin named `cli:<operating-system user>`,
 * so that its changes show in the operation log and on the "authorizations" history chain under that name.
 *
 *   insureflow grant (--group <g> | --user <u>) <permission>[,<permission>...] <resourceType>:<resourceId> [--description <text>]
 *   insureflow revoke <authorization id>
 *   insureflow grants [--group <g>] [--user <u>] [--resource <type>[:<id>]] [--source admin|defaults] [--json]
 */
import { userInfo } from 'node:os';
import { parseArgs } from 'node:util';
import type { Knex } from 'knex';
import { InsureflowError } from './errors.ts';
import { InsureflowEngine } from './persistence/knex-engine.ts';
import type { Actor } from './engine/actor.ts';
import type { Grant, Permission, ResourceType } from './engine/authorization.ts';
import type { GrantQuery } from './engine/ports.ts';

export const AUTHORIZATION_USAGE = `  grant (--group g | --user u) <permission>[,...] <type>:<id> [--description text]
                                          grant permissions (types: process-definition, message, signal, decision, topic; id * = all)
  revoke <authorization id>               revoke a grant
  grants [--group g] [--user u] [--resource type[:id]] [--source admin|defaults] [--json]
                                          list grants`;

interface Io {
  db: Knex;
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown };
  /** default: an admin named cli:<operating-system user> */
  actor?: Actor;
}

function cliActor(): Actor {
  let user = 'unknown';
  try {
    user = userInfo().username;
  } catch {
    /* no passwd entry */
  }
  return { name: `cli:${user}`, roles: ['admin'], groups: [] };
}

const principal = (g: Grant) => (g.group !== null ? `group:${g.group}` : `user:${g.user}`);
const line = (g: Grant) => `${g.id}\t${principal(g)}\t${g.resourceType}:${g.resourceId}\t${g.permissions.join(',')}\t${g.source}\n`;

/** Runs one of grant, revoke, grants; returns the exit code (0 done, 1 refused, 2 usage). */
export async function authorizationCommand(argv: string[], io: Io): Promise<number> {
  const [cmd, ...rest] = argv;
  let parsed;
  try {
    parsed = parseArgs({
      args: rest,
      allowPositionals: true,
      options: { group: { type: 'string' }, user: { type: 'string' }, description: { type: 'string' }, resource: { type: 'string' }, source: { type: 'string' }, json: { type: 'boolean' } },
    });
  } catch (err) {
    io.stderr.write(`insureflow ${cmd}: ${(err as Error).message}\n${AUTHORIZATION_USAGE}\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  const engine = new InsureflowEngine({ db: io.db });
  const actor = io.actor ?? cliActor();
  try {
    if (cmd === 'grant') {
      const [perms, resource] = positionals;
      const colon = resource?.indexOf(':') ?? -1;
      if (!perms || colon <= 0 || positionals.length !== 2) {
        io.stderr.write(`insureflow grant: give the permissions and the resource as <type>:<id>, e.g. insureflow grant --group customer-service start process-definition:claims\n${AUTHORIZATION_USAGE}\n`);
        return 2;
      }
      const g = await engine.grant(
        {
          ...(values.group !== undefined ? { group: values.group } : {}),
          ...(values.user !== undefined ? { user: values.user } : {}),
          resourceType: resource.slice(0, colon) as ResourceType,
          resourceId: resource.slice(colon + 1),
          permissions: perms.split(',').map((p) => p.trim()).filter(Boolean) as Permission[],
          ...(values.description !== undefined ? { description: values.description } : {}),
        },
        actor,
      );
      io.stdout.write(`granted ${g.permissions.join(', ')} on ${g.resourceType} "${g.resourceId}" to ${principal(g).replace(':', ' ')}: authorization ${g.id}\n`);
      return 0;
    }
    if (cmd === 'revoke') {
      if (positionals.length !== 1) {
        io.stderr.write(`insureflow revoke: give one authorization id (insureflow grants lists them)\n`);
        return 2;
      }
      const g = await engine.revoke(positionals[0], actor);
      io.stdout.write(`revoked authorization ${g.id}: ${g.permissions.join(', ')} on ${g.resourceType} "${g.resourceId}" of ${principal(g).replace(':', ' ')}\n`);
      return 0;
    }
    if (cmd === 'grants') {
      const q: GrantQuery = { limit: 500 };
      if (values.group !== undefined) q.group = values.group;
      if (values.user !== undefined) q.user = values.user;
      if (values.source === 'admin' || values.source === 'defaults') q.source = values.source;
      if (values.resource !== undefined) {
        const colon = values.resource.indexOf(':');
        q.resourceType = (colon < 0 ? values.resource : values.resource.slice(0, colon)) as ResourceType;
        if (colon >= 0) q.resourceId = values.resource.slice(colon + 1);
      }
      const items: Grant[] = [];
      for (let offset = 0; ; offset += 500) {
        const page = await engine.listAuthorizations({ ...q, offset }, actor);
        items.push(...page.items);
        if (items.length >= page.total || !page.items.length) break;
      }
      if (values.json) io.stdout.write(JSON.stringify(items, null, 2) + '\n');
      else for (const g of items) io.stdout.write(line(g));
      return 0;
    }
    io.stderr.write(`unknown command "${cmd}"\n${AUTHORIZATION_USAGE}\n`);
    return 2;
  } catch (err) {
    if (!(err instanceof InsureflowError)) throw err;
    io.stderr.write(`insureflow ${cmd}: ${err.code}: ${err.message}\n`);
    return 1;
  }
}
