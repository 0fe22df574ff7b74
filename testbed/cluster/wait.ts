// Waiting for a condition with a deadline: the only way tests synchronise (never a bare sleep).
import { setTimeout as delay } from 'node:timers/promises';

export interface WaitOptions {
  /** What is awaited, for the error message. */
  what: string;
  timeoutMs?: number;
  intervalMs?: number;
}

/**
 * Polls `probe` until it returns a value other than undefined/false/null, or throws after the
 * deadline with the last value or error seen (bounded in time and in count).
 */
export async function waitFor<T>(probe: () => T | undefined | null | false | Promise<T | undefined | null | false>, opts: WaitOptions): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const intervalMs = opts.intervalMs ?? 50;
  const deadline = Date.now() + timeoutMs;
  const maxTries = Math.ceil(timeoutMs / Math.max(1, intervalMs)) + 1;
  let last: unknown;
  for (let i = 0; i < maxTries; i++) {
    try {
      const v = await probe();
      if (v !== undefined && v !== null && v !== false) return v;
      last = v;
    } catch (err) {
      last = err;
    }
    if (Date.now() >= deadline) break;
    await delay(intervalMs);
  }
  const detail = last instanceof Error ? last.message : JSON.stringify(last);
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${opts.what} (last: ${detail})`);
}
