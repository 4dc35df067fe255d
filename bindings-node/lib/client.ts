// withRetryClient and the idempotent-write helpers (DESIGN §2.5).
import { randomUUID } from 'node:crypto';

import { Retrier, type RetryOptions } from './retry';

/** The annotation (and, for generateName, label) that marks a create as ours. */
export const REQUEST_ID = 'k8sretry.dev/request-id';

export interface ClientRetryOptions extends RetryOptions {
  /** Stamp creates with a request id and adopt only our own object (default true). */
  ownership?: boolean;
}

const VERBS: [prefix: string, verb: string, recovery: string][] = [
  ['read', 'GET', 'none'],
  ['get', 'GET', 'none'],
  ['list', 'LIST', 'none'],
  ['create', 'POST', 'create'],
  ['replace', 'PUT', 'none'],
  ['patch', 'PATCH', 'none'],
  ['delete', 'DELETE', 'delete'],
];

/** client-node's streaming classes: never wrapped. */
const STREAMS = new Set(['Watch', 'Exec', 'Log', 'Attach', 'PortForward', 'Cp']);

type Params = Record<string, unknown>;
type Meta = { name?: string; generateName?: string; annotations?: Record<string, string>; labels?: Record<string, string> };

function isParams(value: unknown): value is Params {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A `watch: true` call: a stream, handed to the client untouched. */
function isWatch(params: unknown): boolean {
  return isParams(params) && params.watch === true;
}

function snapshot(body: unknown): unknown {
  try {
    return structuredClone(body);
  } catch {
    // Something structuredClone refuses (a function inside): copy the levels stamp() writes to.
    const copy = { ...(body as Params) };
    if (isParams(copy.metadata)) copy.metadata = { ...copy.metadata };
    return copy;
  }
}

function metadataOf(obj: unknown): Meta | undefined {
  return isParams(obj) && isParams(obj.metadata) ? (obj.metadata as Meta) : undefined;
}

/** Stamps a body (already a private copy) with the request id. */
export function stamp(body: Params, requestId: string): void {
  const meta = (body.metadata ??= {}) as Meta;
  meta.annotations = { ...(meta.annotations ?? {}), [REQUEST_ID]: requestId };
  if (meta.generateName && !meta.name) meta.labels = { ...(meta.labels ?? {}), [REQUEST_ID]: requestId };
}

function requestIdOf(obj: unknown): string | undefined {
  return metadataOf(obj)?.annotations?.[REQUEST_ID];
}

function verbOf(name: string): [string, string] | undefined {
  for (const [prefix, verb, recovery] of VERBS) {
    const next = name.charAt(prefix.length);
    if (name.startsWith(prefix) && next >= 'A' && next <= 'Z') return [verb, recovery];
  }
  return undefined;
}

/**
 * A wrapper (an object inheriting from an ES Proxy) over a client-node API object (CoreV1Api,
 * BatchV1Api, ...): its methods are retried
 * by the verb in their name, called bound to the raw client; a create sends a stamped copy of its body.
 * `create*` is stamped with a request id and read back after a lost response; `delete*` finishes on
 * NotFound after a lost response (resolving undefined). `connect*`, `watch: true` calls and the
 * streaming classes are untouched; non-function properties pass through.
 */
export function withRetryClient<T extends object>(client: T, options: ClientRetryOptions = {}): T {
  if (STREAMS.has((client as { constructor?: { name?: string } }).constructor?.name ?? '')) return client;
  const ownership = options.ownership ?? true;
  const proxy = new Proxy(client, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, target);
      if (typeof value !== 'function' || typeof prop !== 'string') return value;
      const kind = prop.startsWith('connect') ? undefined : verbOf(prop);
      const wrapped = kind ? wrapMethod(target, prop, kind[0], kind[1], ownership, options) : value.bind(target);
      // Kept on the wrapper itself: from the second call on, a method is a plain own property,
      // not a trap (the trap cost as much as the rest of the success path).
      Object.defineProperty(receiver, prop, { value: wrapped, configurable: true, writable: true });
      return wrapped;
    },
  });
  // The wrapper inherits from the Proxy: methods not yet called, and every other property, are
  // read through it from the client; `instanceof` still sees the client's class.
  return Object.create(proxy) as T;
}

function wrapMethod(
  target: object,
  name: string,
  verb: string,
  baseRecovery: string,
  ownership: boolean,
  options: RetryOptions,
): (...args: unknown[]) => Promise<unknown> {
  const method = (target as Record<string, (...a: unknown[]) => unknown>)[name];
  // Reads, replaces, patches and deletes share one Retrier (it keeps no per-call state) and send
  // the caller's arguments again as given; only a create needs a private, stamped copy.
  if (baseRecovery !== 'create') {
    const shared = new Retrier(options, name, verb, baseRecovery);
    // client-node 1.x methods take (params, options?): those calls skip the rest-arguments array
    // and `apply`, which cost a third of this path.
    return function retried(params?: unknown, callOptions?: unknown): Promise<unknown> {
      if (arguments.length > 2 || isWatch(params)) {
        return retriedGeneral(method, target, shared, Array.from(arguments));
      }
      if (arguments.length < 2) return shared.run(() => method.call(target, params));
      return shared.run(() => method.call(target, params, callOptions));
    };
  }
  return function retriedCreate(...callArgs: unknown[]): Promise<unknown> {
    const params = callArgs[0];
    if (isWatch(params)) return Promise.resolve(method.apply(target, callArgs));
    let recovery = baseRecovery;
    let readBack: ((err: unknown) => Promise<unknown>) | undefined;
    let args = callArgs;
    if (isParams(params) && isParams(params.body)) {
      const first = { ...params, body: snapshot(params.body) as Params };
      args = [first, ...callArgs.slice(1)];
      readBack = prepareCreate(target, name, first, ownership);
      if (!ownership) recovery = 'create_adopt';
      // A server-generated name: look for ours by label before each retry.
      else if (!metadataOf(first.body)?.name) recovery = 'create_generated';
    } else {
      recovery = 'none'; // positional (0.x) style: no body to stamp, so no ambiguous retry
    }
    const retrier = new Retrier(options, name, verb, recovery, readBack);
    return retrier.run(() => method.apply(target, args));
  };
}

/** A non-create call of any shape: a watch goes through untouched, anything else is retried. */
function retriedGeneral(
  method: (...a: unknown[]) => unknown,
  target: object,
  shared: Retrier,
  callArgs: unknown[],
): Promise<unknown> {
  if (isWatch(callArgs[0])) return Promise.resolve(method.apply(target, callArgs));
  return shared.run(() => method.apply(target, callArgs));
}

function prepareCreate(target: object, name: string, params: Params, ownership: boolean) {
  const requestId = randomUUID();
  const body = params.body as Params;
  if (ownership) stamp(body, requestId);
  const meta = metadataOf(body);
  const rest = name.slice('create'.length);
  const api = target as Record<string, (p: Params) => Promise<unknown>>;
  const mine = (obj: unknown) => (!ownership || requestIdOf(obj) === requestId ? obj : undefined);
  return async (): Promise<unknown> => {
    const scope: Params = params.namespace !== undefined ? { namespace: params.namespace } : {};
    if (meta?.name) return mine(await api[`read${rest}`].call(target, { ...scope, name: meta.name }));
    const list = (await api[`list${rest}`].call(target, { ...scope, labelSelector: `${REQUEST_ID}=${requestId}` })) as {
      items?: unknown[];
    };
    return (list?.items ?? []).find((item) => mine(item) !== undefined);
  };
}

export interface CreateIdempotentArgs<T> {
  create: (body: Params) => Promise<T>;
  read: (name: string) => Promise<T>;
  body: Params;
  ownership?: boolean;
}

/** `create(body)` with retries; after a lost response, `read(name)` and return the object only if
 * it carries this call's request id. */
export function createIdempotent<T>(args: CreateIdempotentArgs<T>, options: RetryOptions = {}): Promise<T> {
  const ownership = args.ownership ?? true;
  const requestId = randomUUID();
  const body = structuredClone(args.body);
  if (ownership) stamp(body, requestId);
  const name = metadataOf(body)?.name;
  if (!name) return Promise.reject(new TypeError('createIdempotent needs body.metadata.name'));
  const readBack = async () => {
    const obj = await args.read(name);
    return !ownership || requestIdOf(obj) === requestId ? obj : undefined;
  };
  const retrier = new Retrier(
    { policy: 'mutation', ...options },
    options.name ?? 'createIdempotent',
    'POST',
    ownership ? 'create' : 'create_adopt',
    readBack,
  );
  return retrier.run(() => args.create(body));
}

/** `fn()` (a delete) with retries; NotFound after a lost response, or any NotFound with
 * `missingOk`, resolves undefined. */
export function deleteIdempotent<T>(
  fn: () => Promise<T>,
  options: RetryOptions & { missingOk?: boolean } = {},
): Promise<T | undefined> {
  const recovery = options.missingOk ? 'delete_missing_ok' : 'delete';
  const retrier = new Retrier({ policy: 'mutation', ...options }, options.name ?? (fn.name || 'deleteIdempotent'), 'DELETE', recovery);
  return retrier.run(fn);
}

/** Re-runs a read-modify-write on Conflict (client-go RetryOnConflict: 5 attempts, 10 ms, jitter 0.1). */
export function retryOnConflict<T>(fn: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const retrier = new Retrier({ policy: 'conflict', ...options }, options.name ?? (fn.name || 'retryOnConflict'), 'PUT', 'retry_conflict');
  return retrier.run(fn);
}
