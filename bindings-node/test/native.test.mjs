// The loader's choice of native engine per platform/arch/libc (lib/native.ts), against a scratch
// node_modules holding fake platform packages, and its error when nothing fits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const {
  loadNative,
  nativeTags,
  nativeFileNames,
  nativePackageNames,
  nativeCandidates,
  pickNative,
  detectLibc,
  currentTarget,
  PUBLISHED_TAGS,
  NATIVE_PATH_ENV,
  NativeLoadError,
} = require('../dist/cjs/native.js');

const ALL = [
  ['linux', 'x64', 'glibc', 'linux-x64-gnu'],
  ['linux', 'arm64', 'glibc', 'linux-arm64-gnu'],
  ['linux', 'x64', 'musl', 'linux-x64-musl'],
  ['linux', 'arm64', 'musl', 'linux-arm64-musl'],
  ['darwin', 'x64', undefined, 'darwin-x64'],
  ['darwin', 'arm64', undefined, 'darwin-arm64'],
  ['win32', 'x64', undefined, 'win32-x64-gnu'],
];

/** A scratch project: node_modules/k8sretry-<tag>/ for each tag (a fake .node: only found, never
 * opened here) and app/, where the loader looks from. */
function project(tags) {
  const dir = mkdtempSync(join(tmpdir(), 'k8sretry-loader-'));
  for (const tag of tags) {
    const pkg = join(dir, 'node_modules', `k8sretry-${tag}`);
    mkdirSync(pkg, { recursive: true });
    writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name: `k8sretry-${tag}`, version: '0.1.0', main: `k8sretry.${tag}.node` }));
    writeFileSync(join(pkg, `k8sretry.${tag}.node`), 'not an addon');
  }
  const app = join(dir, 'app', 'dist', 'cjs');
  mkdirSync(app, { recursive: true });
  return { dir, app };
}

function thrown(fn) {
  try {
    fn();
  } catch (e) {
    return e;
  }
  assert.fail('no error');
}

test('tags, file names and packages per platform/arch/libc, the published ones first', () => {
  assert.deepEqual(nativeTags({ platform: 'linux', arch: 'x64', libc: 'glibc' }), ['linux-x64-gnu', 'linux-x64-musl']);
  assert.deepEqual(nativeTags({ platform: 'linux', arch: 'arm64', libc: 'musl' }), ['linux-arm64-musl', 'linux-arm64-gnu']);
  assert.deepEqual(nativeTags({ platform: 'darwin', arch: 'arm64' }), ['darwin-arm64']);
  assert.deepEqual(nativeTags({ platform: 'win32', arch: 'x64' }), ['win32-x64-gnu', 'win32-x64-msvc']);
  assert.deepEqual(nativeFileNames({ platform: 'darwin', arch: 'x64' }), ['k8sretry.darwin-x64.node']);
  assert.deepEqual(nativePackageNames({ platform: 'linux', arch: 'x64', libc: 'musl' }), ['k8sretry-linux-x64-musl', 'k8sretry-linux-x64-gnu']);
  for (const [platform, arch, libc, tag] of ALL) {
    assert.equal(nativeTags({ platform, arch, libc })[0], tag);
    assert.ok(PUBLISHED_TAGS.includes(tag), tag);
  }
  assert.equal(PUBLISHED_TAGS.length, ALL.length);
});

test('this process: its libc is detected and its own tag comes first', () => {
  const target = currentTarget();
  assert.equal(target.platform, process.platform);
  assert.equal(target.arch, process.arch);
  if (process.platform === 'linux') {
    assert.ok(['glibc', 'musl'].includes(detectLibc()));
    assert.equal(nativeTags()[0], `linux-${process.arch}-${target.libc === 'musl' ? 'musl' : 'gnu'}`);
  } else {
    assert.equal(detectLibc(), undefined);
  }
});

test('with every platform package installed, each platform/arch/libc picks its own', () => {
  const { dir, app } = project(ALL.map((p) => p[3]));
  try {
    for (const [platform, arch, libc, tag] of ALL) {
      const picked = pickNative({ platform, arch, libc }, app);
      assert.equal(picked, join(dir, 'node_modules', `k8sretry-${tag}`, `k8sretry.${tag}.node`), `${platform}-${arch}-${libc}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the order: beside the code, then the platform package (this libc first, then the other), then native/', () => {
  const { dir, app } = project(['linux-arm64-gnu', 'linux-arm64-musl']);
  try {
    const musl = { platform: 'linux', arch: 'arm64', libc: 'musl' };
    const glibc = { platform: 'linux', arch: 'arm64', libc: 'glibc' };
    assert.match(pickNative(musl, app), /k8sretry-linux-arm64-musl\/k8sretry\.linux-arm64-musl\.node$/);
    assert.match(pickNative(glibc, app), /k8sretry-linux-arm64-gnu\/k8sretry\.linux-arm64-gnu\.node$/);
    const labels = nativeCandidates(glibc, app).map((c) => c.label);
    assert.deepEqual(labels.slice(0, 4), [
      join(app, 'k8sretry.linux-arm64-gnu.node'),
      join(app, 'native', 'k8sretry.linux-arm64-gnu.node'),
      join(app, 'k8sretry.linux-arm64-musl.node'),
      join(app, 'native', 'k8sretry.linux-arm64-musl.node'),
    ]);
    assert.deepEqual(labels.slice(4, 6), [
      join(dir, 'node_modules', 'k8sretry-linux-arm64-gnu', 'k8sretry.linux-arm64-gnu.node'),
      join(dir, 'node_modules', 'k8sretry-linux-arm64-musl', 'k8sretry.linux-arm64-musl.node'),
    ]);
    assert.deepEqual(labels.slice(6), [
      join(app, '..', '..', 'native', 'k8sretry.linux-arm64-gnu.node'),
      join(app, '..', '..', 'native', 'k8sretry.linux-arm64-musl.node'),
    ]);

    // Only the other C library's package: it is the one picked (a wrong one would fail to load
    // and be reported, then the next is tried).
    rmSync(join(dir, 'node_modules', 'k8sretry-linux-arm64-gnu'), { recursive: true });
    assert.match(pickNative(glibc, app), /k8sretry\.linux-arm64-musl\.node$/);

    // A file beside the code (a bundle's folder) wins over the package.
    writeFileSync(join(app, 'k8sretry.linux-arm64-gnu.node'), 'not an addon');
    assert.equal(pickNative(glibc, app), join(app, 'k8sretry.linux-arm64-gnu.node'));
    // Not this platform's: darwin finds nothing here.
    assert.equal(pickNative({ platform: 'darwin', arch: 'arm64' }, app), undefined);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('nothing fits: NativeLoadError names the platform, arch, libc, the package to install and every path tried', () => {
  const { dir, app } = project(['linux-x64-gnu', 'darwin-x64']);
  try {
    const err = thrown(() => loadNative({}, app, { platform: 'linux', arch: 'arm64', libc: 'glibc' }));
    assert.ok(err instanceof NativeLoadError);
    assert.equal(err.code, 'K8SRETRY_NATIVE_NOT_FOUND');
    assert.match(err.message, /no native engine for linux-arm64 \(glibc\)/);
    assert.match(err.message, /k8sretry\.linux-arm64-gnu\.node or k8sretry\.linux-arm64-musl\.node/);
    assert.match(err.message, /the package k8sretry-linux-arm64-gnu /);
    assert.ok(err.message.includes('`npm install k8sretry-linux-arm64-gnu`'), err.message);
    assert.ok(err.message.includes(NATIVE_PATH_ENV));
    for (const p of err.tried) assert.ok(err.message.includes(p), `${p} not in ${err.message}`);
    assert.ok(err.tried.includes(join(app, 'k8sretry.linux-arm64-gnu.node')));
    assert.ok(err.tried.includes('k8sretry-linux-arm64-gnu/k8sretry.linux-arm64-gnu.node (package k8sretry-linux-arm64-gnu: not installed)'));
    assert.ok(err.tried.includes('k8sretry-linux-arm64-musl/k8sretry.linux-arm64-musl.node (package k8sretry-linux-arm64-musl: not installed)'));
    assert.equal(err.tried.length, 8);

    // musl asks for the musl package first.
    const musl = thrown(() => loadNative({}, app, { platform: 'linux', arch: 'x64', libc: 'musl' }));
    assert.match(musl.message, /no native engine for linux-x64 \(musl\)/);
    // linux-x64-gnu is installed (a fake file): it is found, fails to load, and is reported.
    assert.match(musl.message, /Found but could not load:\n  .*k8sretry-linux-x64-gnu\/k8sretry\.linux-x64-gnu\.node: /);
    assert.ok(musl.message.includes('`npm install k8sretry-linux-x64-musl`'), musl.message);
    assert.ok(musl.cause, 'the load error is the cause');

    // A platform nothing is published for.
    const bsd = thrown(() => loadNative({}, app, { platform: 'freebsd', arch: 'x64' }));
    assert.match(bsd.message, /no native engine for freebsd-x64 \(k8sretry\.freebsd-x64\.node\)/);
    assert.match(bsd.message, /No prebuilt engine is published for this platform \(only for linux-x64-gnu, /);
    assert.ok(!bsd.message.includes('npm install'), bsd.message);
    const win = thrown(() => loadNative({}, app, { platform: 'win32', arch: 'x64' }));
    assert.ok(win.message.includes('`npm install k8sretry-win32-x64-gnu`'), win.message);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
