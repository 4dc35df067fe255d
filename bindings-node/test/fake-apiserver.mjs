// A ConfigMap server on 127.0.0.1 with scripted faults, for the real @kubernetes/client-node.
// ConfigMaps: create (name or generateName), read, list by label, replace (a stale
// metadata.resourceVersion is a 409 Conflict), patch (merge, strategic merge (as merge), JSON
// patch, server-side apply (as merge, creating when missing)), delete. SelfSubjectAccessReviews:
// answered, never stored; a body with metadata is refused with 422, as an apiserver that forbids
// it would.
// fault(method, ...faults): consumed in order per method:
//   { status: 503|429|504, retryAfter? }  answer with a Status body
//   'drop_before'  destroy the socket without doing anything
//   'drop_after'   do the request (commit), then destroy the socket
import http from 'node:http';

import * as k8s from '@kubernetes/client-node';

const PATH = /^\/api\/v1\/namespaces\/([^/]+)\/configmaps(?:\/([^/?]+))?(?:\?(.*))?$/;
const REVIEWS = /^\/apis\/authorization\.k8s\.io\/v1\/selfsubjectaccessreviews(?:\?.*)?$/;

function statusBody(code, reason, message) {
  return JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', message, reason, code });
}

/** RFC 7386 merge patch. */
function merge(target, patch) {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) return patch;
  const out = typeof target === 'object' && target !== null && !Array.isArray(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else out[key] = merge(out[key], value);
  }
  return out;
}

/** RFC 6902 JSON patch: add, replace, remove (enough for these tests). */
function jsonPatch(target, ops) {
  const out = structuredClone(target);
  for (const op of ops) {
    const keys = op.path.split('/').slice(1).map((k) => k.replaceAll('~1', '/').replaceAll('~0', '~'));
    const last = keys.pop();
    let parent = out;
    for (const key of keys) parent = parent[key];
    if (op.op === 'add' && Array.isArray(parent)) {
      if (last === '-') parent.push(op.value);
      else parent.splice(Number(last), 0, op.value);
    } else if (op.op === 'add' || op.op === 'replace') parent[last] = op.value;
    else if (op.op === 'remove') delete parent[last];
    else throw new Error(`unsupported op ${op.op}`);
  }
  return out;
}

export async function startApiServer() {
  const objects = new Map();
  const faults = [];
  const requests = [];
  const bodies = [];
  const contentTypes = [];
  const queries = [];
  let version = 0;
  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (chunk) => (raw += chunk));
    req.on('end', () => {
      requests.push(`${req.method} ${req.url.split('?')[0]}`);
      queries.push(new URLSearchParams(req.url.split('?')[1] ?? ''));
      contentTypes.push(req.headers['content-type']);
      if (raw) bodies.push(JSON.parse(raw));
      const i = faults.findIndex((f) => f.method === req.method);
      const fault = i >= 0 ? faults.splice(i, 1)[0].fault : undefined;
      if (fault === 'drop_before') return req.socket.resetAndDestroy();
      if (typeof fault === 'object') {
        const reason = { 503: 'ServiceUnavailable', 429: 'TooManyRequests', 504: 'Timeout' }[fault.status];
        const headers = { 'content-type': 'application/json' };
        if (fault.retryAfter !== undefined) headers['retry-after'] = String(fault.retryAfter);
        res.writeHead(fault.status, headers);
        return res.end(statusBody(fault.status, reason, 'injected'));
      }
      const [code, body] = serve(req, raw);
      if (fault === 'drop_after') return req.socket.resetAndDestroy();
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(body);
    });
  });

  function store(key, obj, ns) {
    obj.metadata.namespace = ns;
    obj.metadata.resourceVersion = String((version += 1));
    obj.kind = 'ConfigMap';
    obj.apiVersion = 'v1';
    objects.set(key, obj);
    return [200, JSON.stringify(obj)];
  }

  function review(raw) {
    const obj = JSON.parse(raw);
    if (obj.metadata !== undefined && Object.keys(obj.metadata).length > 0) {
      return [422, statusBody(422, 'Invalid', 'SelfSubjectAccessReview "" is invalid: metadata: Invalid value: must be empty')];
    }
    return [201, JSON.stringify({ ...obj, status: { allowed: true } })];
  }

  function serve(req, raw) {
    if (req.method === 'POST' && REVIEWS.test(req.url)) return review(raw);
    const m = PATH.exec(req.url);
    if (!m) return [404, statusBody(404, 'NotFound', req.url)];
    const [, ns, name, query = ''] = m;
    const key = `${ns}/${name}`;
    const notFound = [404, statusBody(404, 'NotFound', `configmaps "${name}" not found`)];
    if (req.method === 'POST') {
      const obj = JSON.parse(raw);
      obj.metadata ??= {};
      if (!obj.metadata.name && obj.metadata.generateName) obj.metadata.name = obj.metadata.generateName + objects.size;
      const created = `${ns}/${obj.metadata.name}`;
      if (objects.has(created)) return [409, statusBody(409, 'AlreadyExists', `configmaps "${obj.metadata.name}" already exists`)];
      obj.metadata.uid = `uid-${objects.size}`;
      store(created, obj, ns);
      return [201, JSON.stringify(obj)];
    }
    if (req.method === 'GET' && name) {
      const obj = objects.get(key);
      return obj ? [200, JSON.stringify(obj)] : notFound;
    }
    if (req.method === 'GET') {
      const selector = new URLSearchParams(query).get('labelSelector') ?? '';
      const [label, value] = selector.split('=');
      const items = [...objects.values()].filter(
        (o) => o.metadata.namespace === ns && (!label || (o.metadata.labels ?? {})[label] === value),
      );
      return [200, JSON.stringify({ kind: 'ConfigMapList', apiVersion: 'v1', metadata: {}, items })];
    }
    if (req.method === 'PUT' && name) {
      const old = objects.get(key);
      if (!old) return notFound;
      const obj = JSON.parse(raw);
      obj.metadata ??= {};
      const rv = obj.metadata.resourceVersion;
      if (rv !== undefined && rv !== old.metadata.resourceVersion) {
        return [409, statusBody(409, 'Conflict', `Operation cannot be fulfilled on configmaps "${name}": the object has been modified`)];
      }
      obj.metadata.uid = old.metadata.uid;
      return store(key, obj, ns);
    }
    if (req.method === 'PATCH' && name) {
      const type = (req.headers['content-type'] ?? '').split(';')[0];
      const old = objects.get(key);
      const patch = JSON.parse(raw);
      if (type === 'application/apply-patch+yaml') {
        const applied = merge(old ?? { metadata: { name, uid: `uid-${objects.size}` } }, patch);
        return store(key, applied, ns);
      }
      if (!old) return notFound;
      if (type === 'application/json-patch+json') {
        // As the apiserver: a JSON patch is a list; anything else is refused, nothing applied.
        if (!Array.isArray(patch)) return [400, statusBody(400, 'BadRequest', 'json: cannot unmarshal object into Go value of type jsonpatch.Patch')];
        return store(key, jsonPatch(old, patch), ns);
      }
      if (type === 'application/merge-patch+json' || type === 'application/strategic-merge-patch+json') {
        return store(key, merge(old, patch), ns);
      }
      return [415, statusBody(415, 'UnsupportedMediaType', type)];
    }
    if (req.method === 'DELETE' && name) {
      if (!objects.delete(key)) return notFound;
      return [200, JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Success', code: 200 })];
    }
    return [405, statusBody(405, 'MethodNotAllowed', req.method)];
  }

  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${server.address().port}`;
  const kc = new k8s.KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'fake', server: url, skipTLSVerify: true }],
    users: [{ name: 'fake', token: 'token' }],
    contexts: [{ name: 'fake', cluster: 'fake', user: 'fake' }],
    currentContext: 'fake',
  });
  return {
    url,
    objects,
    requests,
    bodies,
    contentTypes,
    queries,
    core: kc.makeApiClient(k8s.CoreV1Api),
    authorization: kc.makeApiClient(k8s.AuthorizationV1Api),
    kc,
    fault: (method, ...list) => faults.push(...list.map((fault) => ({ method, fault }))),
    reset() {
      objects.clear();
      faults.length = 0;
      for (const list of [requests, bodies, contentTypes, queries]) list.length = 0;
    },
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}
