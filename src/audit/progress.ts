/** A one-line progress bar for long CLI runs, on stderr so that stdout stays clean for the data. */

export interface ProgressStream {
  write(s: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface Progress {
  update(done: number, total: number): void;
  finish(): void;
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

/** Draws at most 10 times a second, and only on a terminal unless `force` (then one line per second). */
export function progressBar(stream: ProgressStream, label: string, opts: { force?: boolean; now?: () => number } = {}): Progress {
  const now = opts.now ?? (() => performance.now());
  const tty = Boolean(stream.isTTY);
  const enabled = tty || Boolean(opts.force);
  const started = now();
  let lastDraw = -Infinity;
  let last = { done: 0, total: 0 };
  let drawnAt = -1;
  const draw = (final: boolean) => {
    const { done, total } = last;
    drawnAt = done;
    const secs = Math.max((now() - started) / 1000, 1e-3);
    const rate = done / secs;
    const ratio = total > 0 ? Math.min(1, done / total) : 0;
    const width = 24;
    const filled = Math.round(ratio * width);
    const eta = rate > 0 && total > done ? `  ETA ${Math.ceil((total - done) / rate)}s` : '';
    const line = `${label} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${String(Math.floor(ratio * 100)).padStart(3)}%  ${fmt(done)}/${fmt(total)} events  ${fmt(rate)}/s${final ? `  ${secs.toFixed(1)}s` : eta}`;
    stream.write(tty ? `\r${line}\x1b[K${final ? '\n' : ''}` : `${line}\n`);
  };
  return {
    update(done, total) {
      last = { done, total };
      if (!enabled) return;
      const t = now();
      if (t - lastDraw < (tty ? 100 : 1000)) return;
      lastDraw = t;
      draw(false);
    },
    finish() {
      // on a terminal the line is rewritten once more with the total time; in a log, a repeat is left out
      if (enabled && (tty || drawnAt !== last.done)) draw(true);
    },
  };
}
