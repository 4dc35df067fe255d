// npm pack, install the tarball into a scratch project (offline: it has no dependencies), and run
// the first ```js block of README.md there, as a user would.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

const root = new URL('..', import.meta.url).pathname;
const npm = (args, cwd) => execFileSync('npm', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

test('the packed tarball installs offline and runs the README example', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'k8sretry-pack-'));
  const packed = JSON.parse(npm(['pack', '--json', '--pack-destination', scratch], root))[0];
  const files = packed.files.map((f) => f.path);
  assert.ok(files.includes('native/k8sretry.linux-x64-gnu.node'), files.join(' '));
  assert.ok(files.includes('dist/esm/index.mjs') && files.includes('dist/cjs/index.d.ts'));
  assert.ok(!files.some((f) => f.startsWith('src/') || f.startsWith('test/')), 'sources stay out');

  writeFileSync(join(scratch, 'package.json'), JSON.stringify({ name: 'scratch', private: true, type: 'module' }));
  npm(['install', '--offline', '--no-audit', '--no-fund', join(scratch, packed.filename)], scratch);
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
