/**
 * The Knex NodeStore (src/engine/ports.ts): the engine processes sharing the database (engine_nodes) and their
 * heartbeats, which decide when a node's job locks may be taken over. SQLite admits one engine process.
 */
import type { Knex } from 'knex';
import type { EngineNode, NodeStore } from '../engine/ports.ts';
import type { Dialect } from './dialect.ts';

interface NodeRow {
  id: string;
  host: string;
  pid: number;
  started_at: number;
  heartbeat_at: number;
}

const toNode = (r: NodeRow): EngineNode => ({ id: r.id, host: r.host, pid: Number(r.pid), startedAt: Number(r.started_at), heartbeatAt: Number(r.heartbeat_at) });

export class KnexNodeStore implements NodeStore {
  readonly singleWriter: boolean;

  constructor(private readonly db: Knex, dialect: Dialect) {
    this.singleWriter = dialect === 'sqlite';
  }

  async others(self: string, filter: { host?: string; aliveSince?: number }): Promise<EngineNode[]> {
    let q = this.db('engine_nodes').whereNot({ id: self });
    if (filter.host !== undefined) q = q.where({ host: filter.host });
    if (filter.aliveSince !== undefined) q = q.where('heartbeat_at', '>', filter.aliveSince);
    const rows: NodeRow[] = await q;
    return rows.map(toNode);
  }

  async remove(ids: string[]): Promise<void> {
    if (ids.length) await this.db('engine_nodes').whereIn('id', ids).delete();
  }

  async prune(before: number): Promise<void> {
    await this.db('engine_nodes').where('heartbeat_at', '<', before).delete();
  }

  async register(node: EngineNode): Promise<void> {
    await this.db('engine_nodes').insert({ id: node.id, host: node.host, pid: node.pid, started_at: node.startedAt, heartbeat_at: node.heartbeatAt });
  }

  async heartbeat(id: string, at: number): Promise<void> {
    await this.db('engine_nodes').where({ id }).update({ heartbeat_at: at });
  }
}
