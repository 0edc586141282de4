/**
 * Polls for due jobs (timers, handler retries) and runs them; keeps this node's heartbeat row. On SQLite a
 * second engine process on the same file is refused at start-up (one writer); on PostgreSQL nodes share.
 */
import { hostname } from 'node:os';
import { HEARTBEAT_STALE_MS, type EngineCore } from './service.ts';

export class Scheduler {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;
  constructor(private readonly engine: EngineCore, private readonly pollMs = 1000) {}

  /** Register this node; on SQLite refuse when another live node uses the same database. */
  async register(): Promise<void> {
    const nodes = this.engine.stores.nodes;
    const self = this.engine.nodeId;
    const now = Date.now();
    // nodes of this host whose process is gone are dead for sure: forget them so their job locks free up now
    const sameHost = await nodes.others(self, { host: hostname() });
    await nodes.remove(sameHost.filter((o) => !isAlive(o.pid)).map((o) => o.id));
    if (nodes.singleWriter) {
      const others = await nodes.others(self, { aliveSince: now - HEARTBEAT_STALE_MS });
      const alive = others.filter((o) => o.host !== hostname() || isAlive(o.pid));
      if (alive.length) {
        const o = alive[0];
        throw new Error(
          `another insureflow process (pid ${o.pid} on ${o.host}) is using this SQLite database. SQLite supports one engine process; stop it, or use PostgreSQL (DATABASE_URL=postgres://...) to run several nodes.`,
        );
      }
    }
    await nodes.prune(now - 24 * 3600_000);
    await nodes.register({ id: self, host: hostname(), pid: process.pid, startedAt: now, heartbeatAt: now });
  }

  start(): this {
    this.stopped = false;
    const tick = async () => {
      if (this.stopped) return;
      try {
        await this.engine.stores.nodes.heartbeat(this.engine.nodeId, Date.now());
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
    await this.engine.stores.nodes.remove([this.engine.nodeId]).catch(() => undefined);
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
