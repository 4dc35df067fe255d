// What @kubernetes/client-node 1.4's generated APIs throw for a 503 (src/gen/apis/CoreV1Api.ts):
// `ApiException(code, "Unknown API Status Code!", await response.getBodyAsAny(), headers)`, the
// body the V1Status JSON text, the headers an object with lower-case names.
import { ApiException } from '@kubernetes/client-node';

export const STATUS_BODY = JSON.stringify({
  kind: 'Status',
  apiVersion: 'v1',
  metadata: {},
  status: 'Failure',
  message: 'the server is currently unable to handle the request',
  reason: 'ServiceUnavailable',
  details: {},
  code: 503,
});

const HEADERS = {
  'audit-id': '5a1f6c53-3c2e-4a5f-9a0e-0d2b7c6a9f11',
  'cache-control': 'no-cache, private',
  'content-length': String(STATUS_BODY.length),
  'content-type': 'application/json',
  date: 'Sat, 05 Dec 2026 21:00:00 GMT',
};

/** A fresh ApiException for a 503, as client-node throws one per failed request. */
export function unavailable() {
  return new ApiException(503, 'Unknown API Status Code!', STATUS_BODY, { ...HEADERS });
}
