/**
 * Polls for due jobs (timers, handler retries) and runs them; keeps this node's heartbeat row. On SQLite a
 * second engine process on the same file is refused at start-up (one writer); on PostgreSQL nodes share.
 */
import { hostname } from 'node:os';
import { HEARTBEAT_STALE_MS, type InsureflowEngine } from './service.ts';

export class Scheduler {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;
  constructor(private readonly engine: InsureflowEngine, private readonly pollMs = 1000) {}

  /** Register this node; on SQLite refuse when another live node uses the same database. */
  async register(): Promise<void> {
    const db = this.engine.db;
    const now = Date.now();
    // nodes of this host whose process is gone are dead for sure: forget them so their job locks free up now
    const sameHost = await db('engine_nodes').where({ host: hostname() }).whereNot({ id: this.engine.nodeId });
    const dead = sameHost.filter((o: any) => !isAlive(Number(o.pid)));
    if (dead.length) await db('engine_nodes').whereIn('id', dead.map((o: any) => o.id)).delete();
    if (this.engine.dialect === 'sqlite') {
      const others = await db('engine_nodes').whereNot({ id: this.engine.nodeId }).where('heartbeat_at', '>', now - HEARTBEAT_STALE_MS);
      const alive = others.filter((o: any) => o.host !== hostname() || isAlive(Number(o.pid)));
      if (alive.length) {
        const o = alive[0];
        throw new Error(
          `another insureflow process (pid ${o.pid} on ${o.host}) is using this SQLite database. SQLite supports one engine process; stop it, or use PostgreSQL (DATABASE_URL=postgres://...) to run several nodes.`,
        );
      }
    }
    await db('engine_nodes').where('heartbeat_at', '<', now - 24 * 3600_000).delete();
    await db('engine_nodes').insert({ id: this.engine.nodeId, host: hostname(), pid: process.pid, started_at: now, heartbeat_at: now });
  }

  start(): this {
    this.stopped = false;
    const tick = async () => {
      if (this.stopped) return;
      try {
        await this.engine.db('engine_nodes').where({ id: this.engine.nodeId }).update({ heartbeat_at: Date.now() });
        // drain everything that is due, in batches
        while (!this.stopped && (await this.engine.runDueJobs(100)) > 0) {
          /* keep going */
        }
      } catch (err) {
        this.engine.logger.error({ err }, 'scheduler tick failed');
      }
      if (!this.stopped) this.timer = setTimeout(() => (this.running = tick()), this.pollMs);
    };
    this.running = tick();
    return this;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
    await this.engine.db('engine_nodes').where({ id: this.engine.nodeId }).delete().catch(() => undefined);
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
