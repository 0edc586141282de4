/** Injectable time source: the engine, the scheduler and history read time only from here. */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** A clock that tests advance by hand. */
export class ManualClock implements Clock {
  private t: number;
  constructor(start: number | Date | string = Date.now()) {
    this.t = typeof start === 'number' ? start : new Date(start).getTime();
  }
  now(): number {
    return this.t;
  }
  set(at: number | Date | string): void {
    this.t = typeof at === 'number' ? at : new Date(at).getTime();
  }
  advance(ms: number): void {
    this.t += ms;
  }
}
