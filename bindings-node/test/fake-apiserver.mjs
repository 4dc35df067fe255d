// A ConfigMap server on 127.0.0.1 with scripted faults, for the real @kubernetes/client-node.
// fault(method, ...faults): consumed in order per method:
//   { status: 503|429|504, retryAfter? }  answer with a Status body
//   'drop_before'  destroy the socket without doing anything
//   'drop_after'   do the request (commit), then destroy the socket
import http from 'node:http';

import * as k8s from '@kubernetes/client-node';

const PATH = /^\/api\/v1\/namespaces\/([^/]+)\/configmaps(?:\/([^/?]+))?(?:\?(.*))?$/;

function statusBody(code, reason, message) {
  return JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', message, reason, code });
}

export async function startApiServer() {
  const objects = new Map();
  const faults = [];
  const requests = [];
  const bodies = [];
  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (chunk) => (raw += chunk));
    req.on('end', () => {
      requests.push(`${req.method} ${req.url.split('?')[0]}`);
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

  function serve(req, raw) {
    const m = PATH.exec(req.url);
    if (!m) return [404, statusBody(404, 'NotFound', req.url)];
    const [, ns, name, query = ''] = m;
    if (req.method === 'POST') {
      const obj = JSON.parse(raw);
      obj.metadata ??= {};
      if (!obj.metadata.name && obj.metadata.generateName) obj.metadata.name = obj.metadata.generateName + objects.size;
      obj.metadata.namespace = ns;
      const key = `${ns}/${obj.metadata.name}`;
      if (objects.has(key)) return [409, statusBody(409, 'AlreadyExists', `configmaps "${obj.metadata.name}" already exists`)];
      obj.metadata.uid = `uid-${objects.size}`;
      obj.kind = 'ConfigMap';
      obj.apiVersion = 'v1';
      objects.set(key, obj);
      return [201, JSON.stringify(obj)];
    }
    if (req.method === 'GET' && name) {
      const obj = objects.get(`${ns}/${name}`);
      return obj ? [200, JSON.stringify(obj)] : [404, statusBody(404, 'NotFound', `configmaps "${name}" not found`)];
    }
    if (req.method === 'GET') {
      const selector = new URLSearchParams(query).get('labelSelector') ?? '';
      const [key, value] = selector.split('=');
      const items = [...objects.values()].filter(
        (o) => o.metadata.namespace === ns && (!key || (o.metadata.labels ?? {})[key] === value),
      );
      return [200, JSON.stringify({ kind: 'ConfigMapList', apiVersion: 'v1', metadata: {}, items })];
    }
    if (req.method === 'DELETE' && name) {
      if (!objects.delete(`${ns}/${name}`)) return [404, statusBody(404, 'NotFound', `configmaps "${name}" not found`)];
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
    core: kc.makeApiClient(k8s.CoreV1Api),
    kc,
    fault: (method, ...list) => faults.push(...list.map((fault) => ({ method, fault }))),
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}
