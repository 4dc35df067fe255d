// npm pack, install the tarball into a scratch project (offline: it has no dependencies), and run
// the first ```js block of README.md there, as a user would; then compile scratch TypeScript
// consumers against the installed package with `strict` and `skipLibCheck: false`.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, test } from 'node:test';

const root = new URL('..', import.meta.url).pathname;
const npm = (args, cwd) => execFileSync('npm', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

let scratch;
let files;
before(() => {
  scratch = mkdtempSync(join(tmpdir(), 'k8sretry-pack-'));
  const packed = JSON.parse(npm(['pack', '--json', '--pack-destination', scratch], root))[0];
  files = packed.files.map((f) => f.path);
  writeFileSync(join(scratch, 'package.json'), JSON.stringify({ name: 'scratch', private: true, type: 'module' }));
  npm(['install', '--offline', '--no-audit', '--no-fund', join(scratch, packed.filename)], scratch);
});

test('the packed tarball installs offline and runs the README example', () => {
  assert.ok(files.includes('native/k8sretry.linux-x64-gnu.node'), files.join(' '));
  assert.ok(files.includes('dist/esm/index.mjs') && files.includes('dist/cjs/index.d.ts') && files.includes('dist/esm/index.d.mts'));
  assert.ok(!files.some((f) => f.startsWith('src/') || f.startsWith('test/') || f.startsWith('lib/')), 'sources stay out');
  assert.ok(!files.includes('native/index.js'), 'no napi-rs JS loader: lib/native.ts loads the addon');

  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const example = /```js\n([\s\S]*?)```/.exec(readme)[1];
  writeFileSync(join(scratch, 'example.mjs'), example);
  const out = execFileSync(process.execPath, ['example.mjs'], { cwd: scratch, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  assert.equal(out.trim(), 'web-0 (after 2 retries)');
  const cjs = execFileSync(process.execPath, ['-e', "console.log(typeof require('k8sretry').withRetryClient)"], {
    cwd: scratch,
    encoding: 'utf8',
  });
  assert.equal(cjs.trim(), 'function');
});

test('the published .d.ts need nothing outside dist/', () => {
  const dts = files.filter((f) => f.endsWith('.d.ts') || f.endsWith('.d.mts'));
  for (const file of dts) {
    const text = readFileSync(join(scratch, 'node_modules', 'k8sretry', file), 'utf8');
    for (const [, spec] of text.matchAll(/from '([^']+)'/g)) {
      assert.ok(spec.startsWith('./') || (file.startsWith('dist/esm/') && spec === '../cjs/index.js'), `${file} imports ${spec}`);
    }
  }
});

// A consumer's code: the types are real (a wrong field of RetryEvent or FailureInit is an error;
// `any` would let every @ts-expect-error line through, and tsc fails on an unused one).
const CONSUMER = `
import { Policy, failureFrom, formatEvent, withRetry, withRetryClient, type FailureInit, type Logger, type RetryEvent } from 'k8sretry';

const seen: RetryEvent[] = [];
const onEvent = (e: RetryEvent): void => {
  seen.push(e);
};
const status: number | null | undefined = seen[0]?.status_code;
const fn: string | undefined = seen[0]?.function;
// @ts-expect-error the fields are snake_case, as in every k8sretry language
const camel = seen[0]?.statusCode;
// @ts-expect-error status_code is a number
const text: string = seen[0]!.status_code;
// @ts-expect-error attempt is a number
const attempt: string = seen[0]!.attempt;

const failure: FailureInit = failureFrom(new Error('x'));
const code: number | null | undefined = failure.status;
// @ts-expect-error FailureInit.codes is a list of strings
const codes: number[] = failure.codes!;

const logger: Logger = { warn: (message: string, event: RetryEvent) => void [message, event.function], debug: () => {} };
// @ts-expect-error a logger needs warn
const broken: Logger = { info: () => {} };

class Api {
  async readNamespacedPod(p: { name: string; namespace: string }): Promise<{ metadata: { name: string } }> {
    return { metadata: { name: p.name } };
  }
}
const api = withRetryClient(new Api(), { policy: Policy.preset('runner_hooks'), onEvent, logger, missingOk: true });
const pod: Promise<{ metadata: { name: string } }> = api.readNamespacedPod({ name: 'a', namespace: 'b' });
// @ts-expect-error the wrapper keeps the client's signatures
api.readNamespacedPod({ name: 1 });
// @ts-expect-error missingOk is a boolean
withRetryClient(new Api(), { missingOk: 'yes' });
const n: Promise<number> = withRetry(async (attempt: number) => attempt, { policy: 'runner_hooks', logger: null });
const line: string = formatEvent(seen[0]!);
export { status, fn, camel, text, attempt, code, codes, broken, pod, n, line };
`;

for (const [kind, options] of [
  ['CommonJS (module commonjs, as the runner hooks compile)', { module: 'commonjs', moduleResolution: 'node10' }],
  ['ESM (module nodenext)', { module: 'nodenext', moduleResolution: 'nodenext' }],
]) {
  test(`a scratch TypeScript consumer, ${kind}, strict with skipLibCheck false, compiles against the tarball`, () => {
    const dir = join(scratch, `ts-${options.module}`);
    mkdirSync(join(dir, 'src'), { recursive: true });
    writeFileSync(join(dir, 'src', options.module === 'commonjs' ? 'consumer.ts' : 'consumer.mts'), CONSUMER);
    const tsconfig = {
      compilerOptions: {
        ...options,
        target: 'ES2022',
        strict: true,
        skipLibCheck: false,
        noEmit: true,
        types: ['node'],
        typeRoots: [join(root, 'node_modules', '@types')],
      },
      include: ['src'],
    };
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify(tsconfig));
    // node_modules/k8sretry is found from the scratch project's parent folder.
    const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    try {
      execFileSync(process.execPath, [tsc, '-p', dir], { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (err) {
      assert.fail(`tsc failed:\n${err.stdout}${err.stderr}`);
    }
  });
}
