/** Users and roles (admin only). */
import type { FastifyInstance } from 'fastify';
import type { InsureflowEngine } from '../../persistence/knex-engine.ts';
import { ROLES } from '../../persistence/users.ts';
import { errorResponses } from '../schemas.ts';

const user = { type: 'object', properties: { id: { type: 'string' }, name: { type: 'string' }, roles: { type: 'array', items: { type: 'string' } }, groups: { type: 'array', items: { type: 'string' } }, disabled: { type: 'boolean' }, createdAt: { type: 'string' } } };
const nameParams = { type: 'object', required: ['name'], properties: { name: { type: 'string', minLength: 1, maxLength: 100 } } };
const roles = { type: 'array', items: { type: 'string', enum: [...ROLES] }, uniqueItems: true, maxItems: ROLES.length };
const groups = { type: 'array', items: { type: 'string', minLength: 1, maxLength: 200 }, uniqueItems: true, maxItems: 100 };

export async function userRoutes(app: FastifyInstance, engine: InsureflowEngine) {
  app.get('/users', { config: { roles: ['admin'] }, schema: { tags: ['users'], response: { 200: { type: 'array', items: user }, ...errorResponses } } }, async () => engine.users.list());

  app.post(
    '/users',
    {
      config: { roles: ['admin'] },
      schema: {
        tags: ['users'],
        summary: 'Create a user; the token is returned once',
        body: { type: 'object', required: ['name', 'roles'], additionalProperties: false, properties: { name: { type: 'string', minLength: 1, maxLength: 100 }, roles, groups } },
        response: { 201: { type: 'object', properties: { user, token: { type: 'string' } } }, ...errorResponses },
      },
    },
    async (req, reply) => {
      const b = req.body as { name: string; roles: any[]; groups?: string[] };
      // the user and its "user.created" history event commit together
      const res = await engine.users.add({ name: b.name, roles: b.roles, groups: b.groups ?? [] }, req.actor);
      reply.status(201);
      return res;
    },
  );

  app.patch(
    '/users/:name',
    {
      config: { roles: ['admin'] },
      schema: { tags: ['users'], params: nameParams, body: { type: 'object', additionalProperties: false, minProperties: 1, properties: { roles, groups, disabled: { type: 'boolean' } } }, response: { 200: user, ...errorResponses } },
    },
    async (req) => {
      const { name } = req.params as { name: string };
      const { after } = await engine.users.update(name, req.body as any, req.actor);
      return after;
    },
  );

  app.delete(
    '/users/:name',
    { config: { roles: ['admin'] }, schema: { tags: ['users'], params: nameParams, response: { 204: { type: 'null' }, ...errorResponses } } },
    async (req, reply) => {
      const { name } = req.params as { name: string };
      await engine.users.remove(name, req.actor);
      reply.status(204);
    },
  );
}
