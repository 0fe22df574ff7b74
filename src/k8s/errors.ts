// API error helpers: status codes from client-node errors, and retrying 409 on a fresh object.

/** The HTTP status of a failed API call (ApiException.code, or a watch error's statusCode). */
export function statusCode(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as { code?: unknown; statusCode?: unknown };
  if (typeof e.code === 'number') return e.code;
  if (typeof e.statusCode === 'number') return e.statusCode;
  return undefined;
}

export const isNotFound = (err: unknown): boolean => statusCode(err) === 404;
export const isConflict = (err: unknown): boolean => statusCode(err) === 409;
export const isAlreadyExists = isConflict;

/** A short description of an API error for logs and Events (the Status message when there is one). */
export function errorText(err: unknown): string {
  if (typeof err === 'object' && err !== null) {
    const body = (err as { body?: unknown }).body;
    if (typeof body === 'string') {
      try {
        const parsed = JSON.parse(body) as { message?: unknown };
        if (typeof parsed.message === 'string') return `${statusCode(err) ?? ''} ${parsed.message}`.trim();
      } catch {
        // not JSON: fall through
      }
    } else if (typeof body === 'object' && body !== null && typeof (body as { message?: unknown }).message === 'string') {
      return `${statusCode(err) ?? ''} ${(body as { message: string }).message}`.trim();
    }
  }
  return err instanceof Error ? err.message : String(err);
}

/**
 * Runs `attempt(fresh)` and, on 409 Conflict, again with `fresh = true` so the caller re-reads the
 * object first. Bounded: after `maxAttempts` the last conflict is thrown.
 */
export async function retryOnConflict<T>(attempt: (fresh: boolean, n: number) => Promise<T>, maxAttempts = 5): Promise<T> {
  let last: unknown;
  for (let n = 0; n < maxAttempts; n++) {
    try {
      return await attempt(n > 0, n);
    } catch (err) {
      if (!isConflict(err)) throw err;
      last = err;
    }
  }
  throw last;
}
