// Structured logs (JSON lines via pino). One root logger; components take a child with their name.
import { pino, type Logger, type LoggerOptions } from 'pino';
import { clip } from './text.ts';

export type { Logger };

const level = process.env.IRONLB_LOG_LEVEL ?? (process.env.NODE_ENV === 'test' ? 'silent' : 'info');

/** Bound for one string field of a log line (error texts included). */
export const MAX_LOG_VALUE = 2048;

/**
 * String fields of a log line (and of arrays and objects one level down) pass through `clip`:
 * logged values often come from users (annotations, object names in error texts), and a log line
 * must stay bounded and printable whatever they hold.
 */
export function clipLogFields(obj: Record<string, unknown>): Record<string, unknown> {
  const one = (v: unknown, depth: number): unknown => {
    if (typeof v === 'string') return clip(v, MAX_LOG_VALUE);
    if (depth >= 2 || v === null || typeof v !== 'object' || v instanceof Error) return v;
    if (Array.isArray(v)) {
      const items = v.slice(0, 100).map((x) => one(x, depth + 1));
      return v.length > 100 ? [...items, `… (${v.length - 100} more items)`] : items;
    }
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = one(x, depth + 1);
    return out;
  };
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) out[k] = one(v, 0);
  return out;
}

/** The root logger's options (exported so that a test can write with exactly these). */
export const logOptions: LoggerOptions = { level, base: { app: 'ironlb' }, formatters: { log: clipLogFields } };

export const rootLogger: Logger = pino(logOptions);

export function logger(component: string, bindings: Record<string, unknown> = {}): Logger {
  return rootLogger.child({ component, ...bindings });
}
