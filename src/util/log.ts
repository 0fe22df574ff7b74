// Structured logs (JSON lines via pino). One root logger; components take a child with their name.
import { pino, type Logger } from 'pino';

export type { Logger };

const level = process.env.IRONLB_LOG_LEVEL ?? (process.env.NODE_ENV === 'test' ? 'silent' : 'info');

export const rootLogger: Logger = pino({ level, base: { app: 'ironlb' } });

export function logger(component: string, bindings: Record<string, unknown> = {}): Logger {
  return rootLogger.child({ component, ...bindings });
}
