// withRetryClient, apply and the idempotent-write helpers (DESIGN §4). The engine chooses how a
// request is recovered (native.plan) from the facts reported here: the verb in the method's name,
// the body's metadata, which read and list methods the client has, the patch type the client
// really sends. This file stamps bodies as told, reads objects back when asked, and decides
// nothing.
import { randomUUID } from 'node:crypto';

import { native } from './native';
import type { PlanAnswer, PlanRequest } from './native-types';
import { ArgumentError } from './errors';
import { Retrier, type CallPlan, type Found, type Reader, type RetryOptions } from './retry';

/** The annotation (and, for generateName, label) that marks a write as this call's. */
export const REQUEST_ID: string = native.REQUEST_ID;

export interface ClientRetryOptions extends RetryOptions {
  /** Opt-in (default false): a create adopts whatever holds the name after a lost response, unstamped
   * (the old behaviour). Otherwise writes are stamped with a request id and only our own object is
   * accepted on read-back. */
  adoptExisting?: boolean;
  /** Deletes: a NotFound on the first attempt resolves undefined too (default false: only after
   * an attempt whose response was lost). */
  missingOk?: boolean;
}

/** Method-name prefixes and their verbs; the prefix must be followed by an upper-case letter. */
const VERBS: [prefix: string, verb: string][] = [
  ['read', 'GET'],
  ['get', 'GET'],
  ['list', 'LIST'],
  ['create', 'POST'],
  ['replace', 'PUT'],
  ['patch', 'PATCH'],
  ['delete', 'DELETE'],
];

/** client-node's streaming classes: never wrapped. */
const STREAMS = new Set(['Watch', 'Exec', 'Log', 'Attach', 'PortForward', 'Cp']);

/** The content type client-node 1.x sends a server-side apply with (its PatchStrategy.ServerSideApply). */
const APPLY_PATCH: string = native.APPLY_PATCH;

type Params = Record<string, unknown>;
type Meta = {
  name?: string;
  generateName?: string;
  resourceVersion?: string;
  annotations?: Record<string, string>;
  labels?: Record<string, string>;
};
type Method = (...args: unknown[]) => unknown;

function isParams(value: unknown): value is Params {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A `watch: true` call: a stream, handed to the client untouched. */
function isWatch(params: unknown): boolean {
  return isParams(params) && params.watch === true;
}

/**
 * A copy of a request's arguments as they are at call time, which every attempt sends: a caller
 * that reuses one params object (a loop setting `params.name`, a review body filled in again) must
 * not have a retry send whatever the object holds by then. Copied deeply: plain objects and arrays,
 * client-node's model classes (V1Pod, ...: anything whose class has `getAttributeTypeMap`, kept an
 * instance of its class), Dates, Buffers and typed arrays, Maps and Sets. Functions and other
 * objects (streams, agents, signals, middleware with state) are behaviour, not data: passed as
 * they are. Shared and cyclic references stay shared and cyclic.
 */
function copyRequest<V>(value: V, seen?: Map<object, unknown>): V {
  if (typeof value !== 'object' || value === null) return value;
  if (seen === undefined) {
    // Most calls are a read's flat params ({ name, namespace }): no map of what was seen.
    const flat = flatCopy(value);
    if (flat !== undefined) return flat as V;
    seen = new Map();
  }
  const known = seen.get(value);
  if (known !== undefined) return known as V;
  let out: unknown;
  if (value instanceof Date) out = new Date(value.getTime());
  else if (Buffer.isBuffer(value)) out = Buffer.from(value);
  else if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) out = structuredClone(value);
  else if (Array.isArray(value)) {
    const copy: unknown[] = [];
    seen.set(value, copy);
    for (const item of value) copy.push(copyRequest(item, seen));
    return copy as V;
  } else if (value instanceof Map) {
    const copy = new Map();
    seen.set(value, copy);
    for (const [k, v] of value) copy.set(copyRequest(k, seen), copyRequest(v, seen));
    return copy as V;
  } else if (value instanceof Set) {
    const copy = new Set();
    seen.set(value, copy);
    for (const v of value) copy.add(copyRequest(v, seen));
    return copy as V;
  } else {
    const proto = Object.getPrototypeOf(value) as { constructor?: { getAttributeTypeMap?: unknown } } | null;
    const model = proto !== null && typeof proto.constructor?.getAttributeTypeMap === 'function';
    if (proto !== Object.prototype && proto !== null && !model) return value;
    const copy = Object.create(proto) as Params;
    seen.set(value, copy);
    for (const key of Object.keys(value)) {
      const item = copyRequest((value as unknown as Params)[key], seen);
      // An own `__proto__` key (JSON.parse makes them) stays a key, not the copy's prototype.
      if (key === '__proto__') Object.defineProperty(copy, key, { value: item, enumerable: true, writable: true, configurable: true });
      else copy[key] = item;
    }
    return copy as V;
  }
  seen.set(value, out);
  return out as V;
}

/** The copy of a plain object whose values are all primitives, else undefined. */
function flatCopy(value: object): Params | undefined {
  if (Object.getPrototypeOf(value) !== Object.prototype) return undefined;
  const copy: Params = { ...value };
  for (const key in copy) {
    const item = copy[key];
    if (typeof item === 'object' && item !== null) return undefined;
  }
  return copy;
}

function metadataOf(obj: unknown): Meta | undefined {
  return isParams(obj) && isParams(obj.metadata) ? (obj.metadata as Meta) : undefined;
}

function requestIdOf(obj: unknown): string | undefined {
  return metadataOf(obj)?.annotations?.[REQUEST_ID];
}

/** Stamps `body` (a private copy) as the plan says: `annotation`, or `annotation_and_label`.
 * Returns the request id, or undefined for `none`. */
function stamp(body: Params, how: string): string | undefined {
  if (how === 'none') return undefined;
  const requestId = randomUUID();
  const meta = (isParams(body.metadata) ? body.metadata : (body.metadata = {})) as Meta;
  meta.annotations = { ...(meta.annotations ?? {}), [REQUEST_ID]: requestId };
  if (how === 'annotation_and_label') meta.labels = { ...(meta.labels ?? {}), [REQUEST_ID]: requestId };
  return requestId;
}

/** What the body tells the plan. */
function bodyFacts(body: unknown): Partial<PlanRequest> {
  const meta = metadataOf(body);
  return {
    named: typeof meta?.name === 'string' && meta.name !== '',
    generateName: typeof meta?.generateName === 'string' && meta.generateName !== '',
    resourceVersion: typeof meta?.resourceVersion === 'string' && meta.resourceVersion !== '',
  };
}

/**
 * native.plan for one method, remembered per set of facts (the plan is a function of them
 * alone): after the first call with a body of a given shape, asking costs a Map lookup.
 */
class Planner {
  private readonly answers = new Map<string, PlanAnswer>();

  constructor(private readonly method: PlanRequest) {}

  plan(facts: Partial<PlanRequest> = {}): PlanAnswer {
    const key = `${facts.named ? 'n' : ''}${facts.generateName ? 'g' : ''}${facts.resourceVersion ? 'v' : ''}${facts.objectBody ? 'o' : ''}:${facts.patch ?? ''}`;
    let answer = this.answers.get(key);
    if (answer === undefined) {
      answer = native.plan({ ...this.method, ...facts });
      // Patch types are content types from outside: remember a few, not any number.
      if (this.answers.size < 32) this.answers.set(key, answer);
    }
    return answer;
  }
}

/** Reads one object back by name: found, and whether it carries `requestId`. A NotFound is
 * thrown as the client throws it (the engine counts it as missing). */
function readerByName(read: (name: string) => unknown, name: string, requestId: string | undefined): Reader {
  return async (): Promise<Found> => {
    const object = await read(name);
    if (object === undefined || object === null) return undefined;
    return { object, ours: requestId !== undefined && requestIdOf(object) === requestId };
  };
}

/** Lists by the request-id label: ours if an item carries our id, else whatever is there. */
function readerByLabel(list: (labelSelector: string) => unknown, requestId: string): Reader {
  return async (): Promise<Found> => {
    const answer = (await list(`${REQUEST_ID}=${requestId}`)) as { items?: unknown[] } | unknown[] | undefined;
    const items = (Array.isArray(answer) ? answer : answer?.items) ?? [];
    const mine = items.find((item) => requestIdOf(item) === requestId);
    if (mine !== undefined) return { object: mine, ours: true };
    return items.length > 0 ? { object: items[0], ours: false } : undefined;
  };
}

/** The reader of a write: by name when it has one and there is a read, else by the label when
 * the body carries it and there is a list; undefined when it cannot be read back. */
function readerFor(
  read: ((name: string) => unknown) | undefined,
  list: ((labelSelector: string) => unknown) | undefined,
  name: unknown,
  requestId: string | undefined,
  labelled: boolean,
): Reader | undefined {
  if (read && typeof name === 'string' && name !== '') return readerByName(read, name, requestId);
  if (list && labelled && requestId !== undefined) return readerByLabel(list, requestId);
  return undefined;
}

function scopeOf(params: Params): Params {
  return params.namespace !== undefined ? { namespace: params.namespace } : {};
}

function verbOf(name: string): [prefix: string, verb: string] | undefined {
  for (const [prefix, verb] of VERBS) {
    const next = name.charAt(prefix.length);
    if (name.startsWith(prefix) && next >= 'A' && next <= 'Z') return [prefix, verb];
  }
  return undefined;
}

function methodOf(target: object, name: string): Method | undefined {
  const value = (target as Record<string, unknown>)[name];
  return typeof value === 'function' ? (value as Method) : undefined;
}

/** Functions every object has (toString, hasOwnProperty, ...) and the constructor: not API calls. */
function isObjectMethod(prop: string, value: unknown): boolean {
  return prop === 'constructor' || (Object.prototype as unknown as Record<string, unknown>)[prop] === value;
}

/**
 * A wrapper (an object inheriting from an ES Proxy) over a client-node API object (CoreV1Api,
 * BatchV1Api, ...): its methods are retried by the verb in their name (read/get, list, create,
 * replace, patch, delete), called bound to the raw client. The engine chooses how each write is
 * recovered after a lost response (see the README's table); a create or a replace that the engine
 * wants stamped sends a stamped copy of its body. Methods whose verb the name does not tell are
 * retried as writes without a recovery (429, refused connections, DNS only). `connect*` methods,
 * `watch: true` calls and the streaming classes are untouched; non-function properties pass
 * through.
 */
export function withRetryClient<T extends object>(client: T, options: ClientRetryOptions = {}): T {
  if (STREAMS.has((client as { constructor?: { name?: string } }).constructor?.name ?? '')) return client;
  const proxy = new Proxy(client, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, target);
      if (typeof value !== 'function' || typeof prop !== 'string' || isObjectMethod(prop, value)) return value;
      const wrapped = prop.startsWith('connect') ? value.bind(target) : wrapMethod(target, prop, options);
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

/** The retried form of `target[name]`. */
function wrapMethod(target: object, name: string, options: ClientRetryOptions): Method {
  const method = methodOf(target, name) as Method;
  const kind = verbOf(name);
  if (kind === undefined) return wrapOther(target, name, method, options);
  const [prefix, verb] = kind;
  const rest = name.slice(prefix.length);
  const read = methodOf(target, `read${rest}`);
  const list = methodOf(target, `list${rest}`);
  const planner = new Planner({
    verb,
    resource: name,
    adoptExisting: options.adoptExisting ?? false,
    canGet: read !== undefined,
    canList: list !== undefined,
    missingOk: options.missingOk ?? false,
  });
  // One Retrier per method: it keeps no per-call state.
  const retrier = new Retrier(options, name, verb, { recovery: () => planner.plan().recovery });
  if (verb === 'POST' || verb === 'PUT') return wrapWrite(target, method, retrier, planner, read, list);
  if (verb === 'PATCH') return wrapPatch(target, method, retrier, planner);
  // Reads, lists and deletes: the plan does not depend on the call; it is asked for only when a
  // first attempt fails. Every attempt sends the params as they were at call time.
  return function retried(params?: unknown, callOptions?: unknown): Promise<unknown> {
    // client-node 1.x methods take (params, options?): those calls skip the rest-arguments array
    // and `apply`, which cost a third of this path.
    if (arguments.length > 2 || isWatch(params)) return retriedGeneral(method, target, retrier, Array.from(arguments));
    const sent = copyRequest(params);
    if (arguments.length < 2) return retrier.run(() => method.call(target, sent));
    return retrier.run(() => method.call(target, sent, callOptions));
  };
}

/** The arguments of a call as they are now (see copyRequest); client-node 1.x's per-call options
 * (middleware, an HTTP library, auth methods) are passed as they are. */
function argsNow(callArgs: unknown[], positional: boolean): unknown[] {
  return positional ? callArgs.map((arg) => copyRequest(arg)) : [copyRequest(callArgs[0]), ...callArgs.slice(1)];
}

/** A call of any shape: a watch goes through untouched, anything else is retried with its
 * arguments as they were at call time. */
function retriedGeneral(method: Method, target: object, retrier: Retrier, callArgs: unknown[]): Promise<unknown> {
  if (isWatch(callArgs[0])) return Promise.resolve(method.apply(target, callArgs));
  const sent = argsNow(callArgs, callArgs.length > 2);
  return retrier.run(() => method.apply(target, sent));
}

/** A method whose verb its name does not tell: a write without a recovery. A result that is not a
 * promise (a synchronous helper) is returned as it is, and what it throws is thrown. */
function wrapOther(target: object, name: string, method: Method, options: ClientRetryOptions): Method {
  const retrier = new Retrier(options, name, 'POST', { recovery: 'none' });
  return function retriedOther(...callArgs: unknown[]): unknown {
    // The first call gets the caller's own arguments (a synchronous helper may keep them); a
    // retry sends copies taken at call time.
    const sent = callArgs.map((arg) => copyRequest(arg));
    const first = method.apply(target, callArgs);
    if (typeof (first as { then?: unknown } | null)?.then !== 'function') return first;
    return retrier.run((n) => (n === 0 ? (first as Promise<unknown>) : method.apply(target, sent)));
  };
}

/** Creates and replaces: planned before the first attempt (the plan may ask for a stamp), the body
 * copied at call time so that a retry sends exactly the original request. */
function wrapWrite(
  target: object,
  method: Method,
  retrier: Retrier,
  planner: Planner,
  read: Method | undefined,
  list: Method | undefined,
): Method {
  const create = retrier.verb === 'POST';
  return function retriedWrite(...callArgs: unknown[]): Promise<unknown> {
    const params = callArgs[0];
    if (isWatch(params)) return Promise.resolve(method.apply(target, callArgs));
    // Positional (0.x) style, or no body: nothing to stamp or read back by.
    if (!isParams(params) || !isParams(params.body)) {
      const sent = argsNow(callArgs, !isParams(params) || callArgs.length > 2);
      return retrier.run(() => method.apply(target, sent));
    }
    const plan = planner.plan(bodyFacts(params.body));
    const copy = copyRequest(params);
    // A replace that needs no stamp sends the params as they were at call time.
    if (!create && plan.stamp === 'none') {
      const sent = [copy, ...callArgs.slice(1)];
      return retrier.run(() => method.apply(target, sent), plan);
    }
    const body = copy.body as Params;
    const requestId = stamp(body, plan.stamp);
    const sent = [copy, ...callArgs.slice(1)];
    // A replace is read back by the name in its path, a create by the name in its body.
    const name = create ? metadataOf(body)?.name : copy.name;
    const scope = scopeOf(copy);
    const reader = readerFor(
      read && ((n: string) => read.call(target, { ...scope, name: n })),
      list && ((selector: string) => list.call(target, { ...scope, labelSelector: selector })),
      name,
      requestId,
      plan.stamp === 'annotation_and_label',
    );
    return retrier.run(() => method.apply(target, sent), { recovery: plan.recovery, reader });
  }
}

/** Whether `target` is a client-node 1.x generated API object (ObjectParamAPI over an Observable
 * API with a middleware list): only those get the content-type observer. */
function isClientNodeApi(target: object): boolean {
  const api = (target as { api?: { configuration?: { middleware?: unknown } } }).api;
  return isParams(api) && isParams(api.configuration) && Array.isArray(api.configuration.middleware);
}

/** `value` as both client-node middleware shapes want it: a promise (PromiseMiddleware) with
 * `toPromise()` (its Observable stub). */
function passOn<V>(value: V): Promise<V> & { toPromise(): Promise<V> } {
  const promise = Promise.resolve(value) as Promise<V> & { toPromise(): Promise<V> };
  promise.toPromise = () => promise;
  return promise;
}

/** The Content-Type a client-node RequestContext will send, if it has exactly one. */
function contentTypeOf(request: unknown): string | undefined {
  const getHeaders = (request as { getHeaders?: () => unknown } | null)?.getHeaders;
  if (typeof getHeaders !== 'function') return undefined;
  const headers = getHeaders.call(request);
  if (!isParams(headers)) return undefined;
  const values = new Set(
    Object.entries(headers)
      .filter(([key]) => key.toLowerCase() === 'content-type')
      .map(([, value]) => String(value)),
  );
  return values.size === 1 ? [...values][0] : undefined;
}

/** Per-call options for a client-node patch method: the caller's, with one middleware appended
 * last that records the Content-Type the request really goes out with (client-node defaults to
 * JSON patch; `setHeaderOptions('Content-Type', PatchStrategy.MergePatch)` and friends change
 * it). A fresh object per attempt (client-node reverses a replaced middleware list in place).
 * Undefined when the observer could not be last: the patch type then stays unknown. */
function observing(callOptions: unknown, seen: { type?: string }): Params | undefined {
  const observer = {
    pre(request: unknown) {
      seen.type = contentTypeOf(request);
      return passOn(request);
    },
    post: passOn,
  };
  if (callOptions === undefined) return { middleware: [observer], middlewareMergeStrategy: 'append' };
  if (!isParams(callOptions)) return undefined;
  const theirs = callOptions.middleware;
  if (theirs === undefined) return { ...callOptions, middleware: [observer], middlewareMergeStrategy: 'append' };
  // 'prepend' puts the client's own middleware after the caller's (and after ours).
  if (!Array.isArray(theirs) || callOptions.middlewareMergeStrategy === 'prepend') return undefined;
  return { ...callOptions, middleware: [...theirs, observer] };
}

/** Patches: planned when a first attempt fails, with the patch type that attempt was sent with. */
function wrapPatch(target: object, method: Method, retrier: Retrier, planner: Planner): Method {
  const observable = isClientNodeApi(target);
  return function retriedPatch(params?: unknown, callOptions?: unknown): Promise<unknown> {
    const callArgs = Array.from(arguments);
    if (!observable || callArgs.length > 2) {
      const sent = argsNow(callArgs, !isParams(params) || callArgs.length > 2);
      return retrier.run(() => method.apply(target, sent));
    }
    const seen: { type?: string } = {};
    const first = observing(callOptions, seen);
    const sent = copyRequest(params);
    if (first === undefined) {
      // Nothing to observe with: the patch type stays unknown.
      return retrier.run(() => method.call(target, sent, callOptions));
    }
    // The body's shape is a fact too: an object is safe to resend whatever its patch type (the
    // engine's rule: a JSON patch must be a list, the apiserver refuses an object unapplied).
    const body = isParams(sent) ? (sent as { body?: unknown }).body : undefined;
    const objectBody =
      typeof body === 'object' && body !== null && !Array.isArray(body) && !ArrayBuffer.isView(body) && !(body instanceof ArrayBuffer);
    const plan: CallPlan = { recovery: () => planner.plan({ patch: seen.type, objectBody }).recovery };
    return retrier.run((n) => method.call(target, sent, n === 0 ? first : observing(callOptions, seen)), plan);
  };
}

export interface ApplyParams {
  /** The object's name (the path of the patch). */
  name: string;
  /** Its namespace, for namespaced methods. */
  namespace?: string;
  /** The whole object as you want it (apiVersion, kind, metadata.name, ...). */
  body: object;
  /** Who owns the fields this apply sets (required by the apiserver). */
  fieldManager: string;
  /** Take fields over from other managers (default true, as controllers do). */
  force?: boolean;
  /** Any other parameter of the patch method (dryRun, fieldValidation, pretty). */
  [other: string]: unknown;
}

/**
 * Server-side apply (create or update) through a client-node 1.x API object's patch method, e.g.
 * `apply(core, 'patchNamespacedConfigMap', { name, namespace, body, fieldManager: 'my-app' })`:
 * sent with content type `application/apply-patch+yaml`, `fieldManager` and `force`, and retried
 * by its verb; applying twice gives the same object, so a lost response is simply resent.
 */
export function apply<T = unknown>(
  client: object,
  method: string,
  params: ApplyParams,
  options: ClientRetryOptions = {},
): Promise<T> {
  try {
    if (typeof client !== 'object' || client === null) throw new ArgumentError('apply needs a client-node API object');
    if (typeof method !== 'string' || verbOf(method)?.[1] !== 'PATCH' || methodOf(client, method) === undefined) {
      throw new ArgumentError(`apply needs the name of the client's patch method (patchNamespacedConfigMap, ...), got ${String(method)}`);
    }
    if (!isParams(params) || !isParams(params.body)) throw new ArgumentError('apply needs params with a body');
    if (typeof params.fieldManager !== 'string' || params.fieldManager === '') {
      throw new ArgumentError('apply needs params.fieldManager (who owns the applied fields)');
    }
  } catch (err) {
    return Promise.reject(err);
  }
  const applyContentType = {
    pre(request: { setHeaderParam(key: string, value: string): void }) {
      request.setHeaderParam('Content-Type', APPLY_PATCH);
      return passOn(request);
    },
    post: passOn,
  };
  const call = { ...params, force: params.force ?? true };
  const callOptions = { middleware: [applyContentType], middlewareMergeStrategy: 'append' };
  return wrapMethod(client, method, options)(call, callOptions) as Promise<T>;
}

export interface CreateIdempotentArgs<T> {
  /** Sends the create (of the body it is given: a stamped copy). */
  create: (body: Params) => Promise<T>;
  /** Reads the object back by name (for a named body). */
  read?: (name: string) => Promise<T>;
  /** Lists by label selector (for a generateName body): a list object with `items`, or an array. */
  list?: (labelSelector: string) => Promise<{ items?: T[] } | T[]>;
  body: Params;
  /** Opt-in (default false): adopt any object already under the name, unstamped. */
  adoptExisting?: boolean;
  /** The kind or resource (default `body.kind`): tells creates that store nothing (reviews). */
  resource?: string;
}

/** `create(body)` with retries; after a lost response, the object is read back (`read(name)`, or
 * `list(selector)` for generateName) and returned only if it carries this call's request id. */
export function createIdempotent<T>(args: CreateIdempotentArgs<T>, options: RetryOptions = {}): Promise<T> {
  let retrier: Retrier;
  let plan: CallPlan;
  let body: Params;
  try {
    if (!isParams(args) || typeof args.create !== 'function' || !isParams(args.body)) {
      throw new ArgumentError('createIdempotent needs { create, body } (and read and/or list)');
    }
    const kind = (args.body as { kind?: unknown }).kind;
    const answer = native.plan({
      verb: 'POST',
      resource: args.resource ?? (typeof kind === 'string' ? kind : ''),
      ...bodyFacts(args.body),
      adoptExisting: args.adoptExisting ?? false,
      canGet: typeof args.read === 'function',
      canList: typeof args.list === 'function',
    });
    body = copyRequest(args.body);
    const requestId = stamp(body, answer.stamp);
    const labelled = answer.stamp === 'annotation_and_label';
    const reader = readerFor(args.read, args.list, metadataOf(body)?.name, requestId, labelled);
    plan = { recovery: answer.recovery, reader };
    retrier = new Retrier({ policy: 'mutation', ...options }, options.name ?? 'createIdempotent', 'POST', plan);
  } catch (err) {
    return Promise.reject(err);
  }
  return retrier.run(() => args.create(body));
}

/** `fn()` (a delete) with retries; NotFound after a lost response, or any NotFound with
 * `missingOk`, resolves undefined. */
export function deleteIdempotent<T>(
  fn: () => Promise<T>,
  options: RetryOptions & { missingOk?: boolean } = {},
): Promise<T | undefined> {
  let retrier: Retrier;
  try {
    if (typeof fn !== 'function') throw new ArgumentError('deleteIdempotent needs a function');
    const { recovery } = native.plan({ verb: 'DELETE', missingOk: options.missingOk ?? false });
    const name = options.name ?? (fn.name || 'deleteIdempotent');
    retrier = new Retrier({ policy: 'mutation', ...options }, name, 'DELETE', { recovery });
  } catch (err) {
    return Promise.reject(err);
  }
  return retrier.run(fn);
}

/** Re-runs a read-modify-write on Conflict (client-go RetryOnConflict: 5 attempts, 10 ms, jitter
 * 0.1). After a lost response it is not re-run (the change may have landed): it rejects with that
 * error. The recovery is named here: a read-modify-write is no fact plan() knows of. */
export function retryOnConflict<T>(fn: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
  let retrier: Retrier;
  try {
    if (typeof fn !== 'function') throw new ArgumentError('retryOnConflict needs a function');
    const name = options.name ?? (fn.name || 'retryOnConflict');
    retrier = new Retrier({ policy: 'conflict', ...options }, name, 'PUT', { recovery: 'retry_conflict' });
  } catch (err) {
    return Promise.reject(err);
  }
  return retrier.run(fn);
}
