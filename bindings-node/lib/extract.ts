// Turns whatever was thrown into the engine's FailureInit. Extraction only: the engine decides.
//
// Reads @kubernetes/client-node 1.x ApiException (numeric `code`, raw JSON text `body`, lower-case
// `headers`), node-fetch FetchError (string `code`, `type`), undici TypeError('fetch failed') with
// `cause.code`, AggregateError, DOMException AbortError / TimeoutError, and any `cause` chain:
// at most 16 errors, each visited once, so cyclic chains end.
import type { FailureInit } from './native';

const MAX_LINKS = 16;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

/** The thrown value and everything it points to, outermost first. */
function links(err: unknown): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  const seen = new Set<unknown>();
  const queue: unknown[] = [err];
  while (queue.length > 0 && out.length < MAX_LINKS) {
    const link = queue.shift();
    if (!isObject(link) || seen.has(link)) continue;
    seen.add(link);
    out.push(link);
    if ('cause' in link) queue.push(link.cause);
    if (Array.isArray(link.errors)) queue.push(...link.errors.slice(0, MAX_LINKS));
  }
  return out;
}

function header(headers: unknown, name: string): string | undefined {
  if (!isObject(headers)) return undefined;
  const get = (headers as { get?: unknown }).get;
  if (typeof get === 'function') {
    const value = get.call(headers, name);
    if (typeof value === 'string') return value;
  }
  // Names compared case-insensitively (client-node lower-cases them), without an array.
  for (const key in headers) {
    if (key.length === name.length && Object.prototype.hasOwnProperty.call(headers, key) && key.toLowerCase() === name) {
      const value = headers[key];
      return Array.isArray(value) ? String(value[0]) : String(value);
    }
  }
  return undefined;
}

function bodyText(body: unknown): string | undefined {
  if (typeof body === 'string') return body;
  if (body instanceof Uint8Array) return Buffer.from(body).toString('utf8');
  if (isObject(body)) {
    try {
      return JSON.stringify(body);
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/** What one error of the chain says, into `failure` (the first status found wins). */
function read(failure: FailureInit, link: Record<string, unknown>): void {
  const code = link.code;
  // ApiException carries the HTTP status in a numeric `code`; older clients in `statusCode`.
  const status = typeof code === 'number' && code >= 100 ? code : link.statusCode;
  if (failure.status === undefined && typeof status === 'number' && status >= 100 && status < 600) {
    failure.status = status;
    failure.body = bodyText(link.body);
    const response = isObject(link.response) ? link.response : undefined;
    failure.retryAfter = header(link.headers, 'retry-after') ?? header(response?.headers, 'retry-after');
  }
  if (typeof code === 'string' && code.length > 0) (failure.codes as string[]).push(code);
  const name = typeof link.name === 'string' ? link.name : '';
  if (name === 'AbortError') failure.cancelled = true;
  if (name === 'TimeoutError' || link.type === 'request-timeout' || link.type === 'body-timeout') {
    failure.timeout = true;
  }
}

export function failureFrom(err: unknown, verb?: string): FailureInit {
  const failure: FailureInit = { codes: [], verb };
  // Most errors point to nothing (client-node's ApiException): no list of links to make.
  if (isObject(err) && !('cause' in err) && !Array.isArray(err.errors)) read(failure, err);
  else for (const link of links(err)) read(failure, link);
  const first = isObject(err) ? err : undefined;
  failure.errorType = first ? String((first.constructor as { name?: unknown } | undefined)?.name ?? 'Object') : typeof err;
  const message = first && typeof first.message === 'string' ? first.message : String(err);
  // Whole: the engine makes the text events carry (DESIGN §7: first line, no bodies or credentials).
  failure.message = message;
  return failure;
}
