// The loader's choice of native engine per platform/arch/libc (lib/native.ts), against a scratch
// node_modules holding fake platform packages, and its error when nothing fits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
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
  ownPackageRoot,
  packagedCandidates,
} = require('../dist/cjs/native.js');

const pkgDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const cjsDir = join(pkgDir, 'dist', 'cjs');
const realAddon = join(pkgDir, 'native', 'k8sretry.linux-x64-gnu.node');
const linuxX64 = process.platform === 'linux' && process.arch === 'x64' && detectLibc() === 'glibc';

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
 * opened here) and app/ (a k8sretry package: its dist/cjs is where the loader looks from). */
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
  writeFileSync(join(dir, 'app', 'package.json'), JSON.stringify({ name: 'k8sretry', version: '0.1.0' }));
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
    assert.ok(err.tried.includes(join(dir, 'app', 'native', 'k8sretry.linux-arm64-gnu.node')));

    // musl asks for the musl package first.
    const musl = thrown(() => loadNative({}, app, { platform: 'linux', arch: 'x64', libc: 'musl' }));
    // linux-x64-gnu is installed (a fake file): it is found, fails to load, and that is the error.
    assert.match(musl.message, /native engine for linux-x64 \(musl\) was found at .*k8sretry-linux-x64-gnu\/k8sretry\.linux-x64-gnu\.node but failed to load: /);
    assert.ok(musl.cause, 'the load error is the cause');
    assert.equal(musl.tried.at(-1), join(dir, 'node_modules', 'k8sretry-linux-x64-gnu', 'k8sretry.linux-x64-gnu.node'));

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

test('a folder that is not a k8sretry package: no path outside it, no package of a stranger', () => {
  const { dir, app } = project(['linux-arm64-gnu']);
  try {
    const glibc = { platform: 'linux', arch: 'arm64', libc: 'glibc' };
    assert.equal(ownPackageRoot(app), join(dir, 'app'));
    // Not k8sretry's package.json: nothing outside app/ but the platform packages.
    writeFileSync(join(dir, 'app', 'package.json'), JSON.stringify({ name: 'k8sretry-evil' }));
    assert.equal(ownPackageRoot(app), undefined);
    const labels = nativeCandidates(glibc, app).map((c) => c.label);
    assert.ok(!labels.some((l) => l.startsWith(join(dir, 'app', 'native'))), labels.join('\n'));
    // A bundle folder (an esbuild bundle unzipped to <dir>/x/esbuild): its ../../native is <dir>/native.
    const bundle = join(dir, 'x', 'esbuild');
    mkdirSync(bundle, { recursive: true });
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'k8sretry' }));
    assert.equal(ownPackageRoot(bundle), undefined);
    const planted = { 'linux-arm64-gnu': join(bundle, '..', '..', 'native', 'k8sretry.linux-arm64-gnu.node') };
    assert.deepEqual(packagedCandidates(glibc, bundle, planted), []);
    // ncc rewrote the literal into the bundle: used.
    const rewritten = { 'linux-arm64-gnu': join(bundle, 'native', 'k8sretry.linux-arm64-gnu.node') };
    assert.deepEqual(packagedCandidates(glibc, bundle, rewritten).map((c) => c.file), [rewritten['linux-arm64-gnu']]);
    // A platform package whose package.json names another package is not taken.
    writeFileSync(join(dir, 'node_modules', 'k8sretry-linux-arm64-gnu', 'package.json'), JSON.stringify({ name: 'other' }));
    assert.equal(pickNative(glibc, app), undefined);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a relative K8SRETRY_NATIVE_PATH is an error, even when the file is there', { skip: !linuxX64 }, () => {
  const err = thrown(() => loadNative({ [NATIVE_PATH_ENV]: 'native/k8sretry.linux-x64-gnu.node' }, pkgDir));
  assert.ok(err instanceof NativeLoadError);
  assert.match(err.message, /K8SRETRY_NATIVE_PATH=native\/k8sretry\.linux-x64-gnu\.node is a relative path/);
});

test('an esbuild bundle unzipped to <tmp>/x/esbuild never opens <tmp>/native/ (planted)', { skip: !linuxX64 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'k8sretry-plant-'));
  try {
    const bundle = join(dir, 'x', 'esbuild');
    mkdirSync(bundle, { recursive: true });
    for (const f of readdirSync(cjsDir)) if (f.endsWith('.js')) copyFileSync(join(cjsDir, f), join(bundle, f));
    mkdirSync(join(dir, 'native'));
    copyFileSync(realAddon, join(dir, 'native', 'k8sretry.linux-x64-gnu.node'));
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'k8sretry' }));
    const script = `try { require(${JSON.stringify(join(bundle, 'native.js'))}); console.log('OPENED ' + [...globalThis[Symbol.for('k8sretry.native.v1')].keys()]); } catch (e) { console.log('ERROR ' + e.code + ' ' + e.message.split('\\n')[0]); }`;
    const env = { ...process.env };
    delete env[NATIVE_PATH_ENV];
    const out = spawnSync(process.execPath, ['-e', script], { cwd: dir, env, encoding: 'utf8' });
    assert.match(out.stdout, /^ERROR K8SRETRY_NATIVE_NOT_FOUND k8sretry: no native engine for linux-x64/, out.stdout + out.stderr);
    // With the file beside the bundle, that one is opened.
    copyFileSync(realAddon, join(bundle, 'k8sretry.linux-x64-gnu.node'));
    const beside = spawnSync(process.execPath, ['-e', script], { cwd: dir, env, encoding: 'utf8' });
    assert.equal(beside.stdout.trim(), `OPENED ${join(bundle, 'k8sretry.linux-x64-gnu.node')}`, beside.stderr);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a file that exists but fails to load is an error, not skipped for the next', { skip: !linuxX64 }, () => {
  const { dir, app } = project([]);
  try {
    const pkg = join(dir, 'node_modules', 'k8sretry-linux-x64-gnu');
    mkdirSync(pkg, { recursive: true });
    writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name: 'k8sretry-linux-x64-gnu' }));
    copyFileSync(realAddon, join(pkg, 'k8sretry.linux-x64-gnu.node'));
    // A broken copy beside the code comes first.
    writeFileSync(join(app, 'k8sretry.linux-x64-gnu.node'), 'not an addon');
    const err = thrown(() => loadNative({}, app));
    assert.ok(err instanceof NativeLoadError);
    assert.ok(err.message.includes(`was found at ${join(app, 'k8sretry.linux-x64-gnu.node')} but failed to load`), err.message);
    assert.ok(err.cause);
    // Without it, the platform package's is loaded.
    rmSync(join(app, 'k8sretry.linux-x64-gnu.node'));
    assert.equal(typeof loadNative({}, app).decide, 'function');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bin/k8sretry-native copies named engines beside a bundle and says what is missing', { skip: !linuxX64 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'k8sretry-bin-'));
  const bin = join(pkgDir, 'bin', 'k8sretry-native.js');
  const run = (...args) => spawnSync(process.execPath, [bin, ...args], { cwd: dir, encoding: 'utf8' });
  try {
    const ok = run('copy', '--platforms', 'linux-x64-gnu', '--to', 'out');
    assert.equal(ok.status, 0, ok.stderr);
    assert.deepEqual(readdirSync(join(dir, 'out')), ['k8sretry.linux-x64-gnu.node']);
    // The copy is the engine: the loader takes it from beside the bundle.
    assert.equal(typeof loadNative({}, join(dir, 'out')).decide, 'function');
    const unknown = run('copy', '--platforms', 'linux-sparc-gnu', '--to', 'out');
    assert.equal(unknown.status, 2);
    assert.match(unknown.stderr, /unknown platform linux-sparc-gnu/);
    const missing = run('copy', '--platforms', 'darwin-arm64', '--to', 'out2');
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /no engine here for darwin-arm64 .*\n  npm install --no-save --os darwin --cpu arm64 k8sretry-darwin-arm64@0\.1\.0/);
    assert.equal(run('copy', '--to', 'out').status, 2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
