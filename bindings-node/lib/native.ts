// Loads the native engine (the napi-rs addon, one `.node` file) without help from a bundler, so
// that it survives being bundled (ncc, esbuild) and flattened, and says exactly what it looked for
// when it is missing. The binding's types come from `native-types.ts`, generated from the addon's
// own declarations by scripts/native-types.mjs: the published .d.ts need nothing outside `dist/`.
//
// The engines are published the napi-rs way: one small package per platform
// (`k8sretry-linux-x64-gnu` holding `k8sretry.linux-x64-gnu.node`, with `os`/`cpu`/`libc` set), each
// an optional dependency of `k8sretry`, so npm installs only the one that fits. `k8sretry` itself
// also carries linux-x64-gnu's file in `native/` for bundlers (step 2).
//
// Where the file is looked for, in order (only files that are provably k8sretry's):
// 1. `$K8SRETRY_NATIVE_PATH` (an absolute path to the .node file), when set: only there. A
//    relative path is an error (it would depend on the working directory).
// 2. Beside the running code (`__dirname`), and in `native/` below it: the bundle's folder after
//    ncc, after a flat zip of it, or wherever `k8sretry-native copy` (bin/k8sretry-native.js) put
//    the files for an esbuild/webpack bundle.
// 3. The package's own `native/` folder (`dist/cjs/../../native/`), written as one literal path per
//    Linux tag so that @vercel/ncc sees each and copies the file into the bundle (it rewrites the
//    expression to the copy's place, `<bundle>/native/`): one ncc bundle made on x64 carries the
//    engines for linux x64 and arm64 (glibc and musl), whichever the package holds. A path outside
//    the running code's folder is used only when the running code is that package's own
//    (`<root>/dist/cjs` with `<root>/package.json` naming k8sretry): a bundle that was not
//    rewritten (esbuild, unzipped to /tmp/x/esbuild/) never opens `/tmp/native/…`.
// 4. The platform packages, found by Node's own resolution from `__dirname`
//    (`require.resolve('k8sretry-<tag>/k8sretry.<tag>.node')`, its package.json naming
//    `k8sretry-<tag>`), best tag first, as napi-rs's own loader does.
// 5. The package's own `native/` folder for the other tags (a source build, `napi build`), under
//    the same rule as step 3.
// Tags: linux-<arch>-gnu and linux-<arch>-musl (this process's C library first), darwin-<arch>,
// win32-<arch>-gnu and win32-<arch>-msvc. The first file that exists is opened; if it fails to load,
// that is a NativeLoadError naming the file and Node's reason (never skipped silently).
import fs = require('fs');
import path = require('path');
import { createRequire } from 'module';
import { K8sRetryError } from './errors';
import type * as Native from './native-types';

export type { FailureInit, RetryEvent } from './native-types';

/** The environment variable naming the `.node` file to load. */
export const NATIVE_PATH_ENV = 'K8SRETRY_NATIVE_PATH';

/** The platform packages that are published (`k8sretry-<tag>`), by tag. */
export const PUBLISHED_TAGS: readonly string[] = [
  'linux-x64-gnu',
  'linux-arm64-gnu',
  'linux-x64-musl',
  'linux-arm64-musl',
  'darwin-x64',
  'darwin-arm64',
  'win32-x64-gnu',
];

/** The C library of a Linux process: `glibc` or `musl`. */
export type Libc = 'glibc' | 'musl';

/** What an engine is chosen for: `process.platform`, `process.arch` and, on Linux, the C library. */
export interface NativeTarget {
  platform: string;
  arch: string;
  libc?: Libc;
}

/** This process's C library on Linux (as napi-rs tells it: glibc's runtime version in the
 * diagnostic report's header, else what `/usr/bin/ldd` is); undefined elsewhere. */
export function detectLibc(platform: string = process.platform): Libc | undefined {
  if (platform !== 'linux') return undefined;
  try {
    const report = process.report as unknown as { excludeNetwork?: boolean; getReport(): unknown } | undefined;
    if (report && typeof report.getReport === 'function') {
      report.excludeNetwork = true;
      const header = (report.getReport() as { header?: { glibcVersionRuntime?: string } }).header;
      if (header) return header.glibcVersionRuntime ? 'glibc' : 'musl';
    }
  } catch {
    // fall through to ldd
  }
  try {
    return fs.readFileSync('/usr/bin/ldd', 'utf8').includes('musl') ? 'musl' : 'glibc';
  } catch {
    return 'glibc';
  }
}

/** This process's target. */
export function currentTarget(): NativeTarget {
  return { platform: process.platform, arch: process.arch, libc: detectLibc() };
}

/** The napi-rs tags a target could use, best first (both C libraries on Linux, this one's first: a
 * wrong one fails to load and the next is tried). */
export function nativeTags(target: NativeTarget = currentTarget()): string[] {
  const { platform, arch } = target;
  if (platform === 'linux') {
    const gnu = `linux-${arch}-gnu`;
    const musl = `linux-${arch}-musl`;
    return target.libc === 'musl' ? [musl, gnu] : [gnu, musl];
  }
  if (platform === 'win32') return [`win32-${arch}-gnu`, `win32-${arch}-msvc`];
  return [`${platform}-${arch}`];
}

/** A tag's addon file, `k8sretry.<tag>.node`. */
const fileOf = (tag: string): string => `k8sretry.${tag}.node`;

/** A tag's platform package, `k8sretry-<tag>`. */
const packageOf = (tag: string): string => `k8sretry-${tag}`;

/** The addon file names a target could use, best first. */
export function nativeFileNames(target: NativeTarget = currentTarget()): string[] {
  return nativeTags(target).map(fileOf);
}

/** The platform packages a target could use, best first (`k8sretry-<tag>`). */
export function nativePackageNames(target: NativeTarget = currentTarget()): string[] {
  return nativeTags(target).map(packageOf);
}

/** The Linux tags the package itself carries in `native/` (tools/dist/npm.sh puts every Linux
 * engine it builds there), so that one bundle serves every Linux runner. */
export const PACKAGED_TAGS: readonly string[] = ['linux-x64-gnu', 'linux-arm64-gnu', 'linux-x64-musl', 'linux-arm64-musl'];

/** The package's own copies, by paths @vercel/ncc can evaluate: it relocates each
 * `path.join(__dirname, '<literal>')` whose file exists when it bundles, copies the file and rewrites
 * the expression to `<bundle>/native/<file>`. One literal per tag (a template would hide them). */
function packaged(): Record<string, string> {
  return {
    'linux-x64-gnu': path.join(__dirname, '../../native/k8sretry.linux-x64-gnu.node'),
    'linux-arm64-gnu': path.join(__dirname, '../../native/k8sretry.linux-arm64-gnu.node'),
    'linux-x64-musl': path.join(__dirname, '../../native/k8sretry.linux-x64-musl.node'),
    'linux-arm64-musl': path.join(__dirname, '../../native/k8sretry.linux-arm64-musl.node'),
  };
}

/** The root of the k8sretry package the code in `here` belongs to, when it provably does: `here`
 * is `<root>/dist/cjs` (or `dist/esm`) and `<root>/package.json` names k8sretry. Undefined for a
 * bundle (its folder is not `dist/cjs` of a k8sretry package). The path is built from `here`, a
 * parameter, so that ncc does not take package.json for an asset. */
export function ownPackageRoot(here: string): string | undefined {
  const dir = path.resolve(here);
  if (!['cjs', 'esm'].includes(path.basename(dir)) || path.basename(path.dirname(dir)) !== 'dist') return undefined;
  const root = path.dirname(path.dirname(dir));
  return packageName(root) === 'k8sretry' ? root : undefined;
}

/** The `name` in `<dir>/package.json`, or undefined. */
function packageName(dir: string): string | undefined {
  try {
    const name = (JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: unknown }).name;
    return typeof name === 'string' ? name : undefined;
  } catch {
    return undefined;
  }
}

/** Whether `file` is inside `dir` (or is in it). */
function inside(dir: string, file: string): boolean {
  const rel = path.relative(path.resolve(dir), path.resolve(file));
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
}

/** A platform package's file as Node resolves it from `here` (node_modules upwards), or undefined
 * when it is not installed. `createRequire`, not `require.resolve`: a bundler leaves it alone. */
function resolveFrom(here: string, spec: string, pkg: string): string | undefined {
  let file: string;
  try {
    file = createRequire(path.join(here, 'k8sretry-native.js')).resolve(spec);
  } catch {
    return undefined;
  }
  return packageName(path.dirname(file)) === pkg ? file : undefined;
}

/** One place the loader looks: a file path, or a platform package that is not installed. */
export interface NativeCandidate {
  /** The file, or undefined for a platform package Node could not resolve. */
  file?: string;
  /** How it reads in an error message. */
  label: string;
  /** The platform package it came from, when it did. */
  package?: string;
}

/** Every place the loader looks for a target's engine, in order (steps 2, 4 and 5 of the top of
 * this file; the literal paths of step 3 are added by loadNative for this process only). Step 5
 * only when `here` is provably inside a k8sretry package (ownPackageRoot). */
export function nativeCandidates(target: NativeTarget, here: string): NativeCandidate[] {
  const tags = nativeTags(target);
  const out: NativeCandidate[] = [];
  const seen = new Set<string>();
  const add = (c: NativeCandidate) => {
    if (seen.has(c.label)) return;
    seen.add(c.label);
    out.push(c);
  };
  for (const tag of tags) {
    for (const file of [path.join(here, fileOf(tag)), path.join(here, 'native', fileOf(tag))]) add({ file, label: file });
  }
  for (const tag of tags) {
    const pkg = packageOf(tag);
    const spec = `${pkg}/${fileOf(tag)}`;
    const file = resolveFrom(here, spec, pkg);
    add(file ? { file, label: file, package: pkg } : { label: `${spec} (package ${pkg}: not installed)`, package: pkg });
  }
  const root = ownPackageRoot(here);
  if (root !== undefined) {
    for (const tag of tags) {
      const file = path.join(root, 'native', fileOf(tag));
      add({ file, label: file });
    }
  }
  return out;
}

/** The package's literal paths (step 3) that may be used from `here`: those ncc rewrote into the
 * running code's folder, or all of them when the code runs from the k8sretry package itself. */
export function packagedCandidates(target: NativeTarget, here: string, files: Record<string, string>): NativeCandidate[] {
  const root = ownPackageRoot(here);
  const out: NativeCandidate[] = [];
  for (const tag of nativeTags(target)) {
    const file = files[tag];
    if (file === undefined) continue;
    if (inside(here, file) || (root !== undefined && inside(root, file))) out.push({ file, label: file });
  }
  return out;
}

/** The first candidate whose file exists (what loadNative opens first), or undefined. */
export function pickNative(target: NativeTarget, here: string): string | undefined {
  for (const c of nativeCandidates(target, here)) if (c.file !== undefined && exists(c.file)) return c.file;
  return undefined;
}

function exists(file: string): boolean {
  try {
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

type Loaded = typeof Native;
const CACHE = Symbol.for('k8sretry.native.v1');
type Cache = Map<string, Loaded>;

/** `process.dlopen`, not `require`: a bundler rewrites `require` calls, never this; and each file
 * is opened once per process (napi-rs classes of two openings would not know each other). */
function open(file: string): Loaded {
  // No `??=` in this file: @vercel/ncc's asset relocator cannot parse it and would then skip the
  // file, leaving the .node behind (the same for any syntax newer than its parser's).
  const holder = globalThis as unknown as Record<symbol, Cache | undefined>;
  let cache = holder[CACHE];
  if (cache === undefined) cache = holder[CACHE] = new Map();
  const key = path.resolve(file);
  let loaded = cache.get(key);
  if (loaded === undefined) {
    const module = { exports: {} as Loaded };
    process.dlopen(module, key);
    loaded = module.exports;
    cache.set(key, loaded);
  }
  return loaded;
}

/** Why the engine could not be loaded: the platform, every path tried, and what to do. */
export class NativeLoadError extends K8sRetryError {
  constructor(
    message: string,
    readonly tried: string[],
    options?: { cause?: unknown },
  ) {
    super(message, 'K8SRETRY_NATIVE_NOT_FOUND', options);
  }
}

function describe(target: NativeTarget): string {
  return `${target.platform}-${target.arch}` + (target.libc ? ` (${target.libc})` : '');
}

/** Finds and opens the addon (see the top of this file). `target` is for tests: another
 * platform's choice, never this process's own literal path. @internal */
export function loadNative(
  env: Record<string, string | undefined> = process.env,
  here: string = __dirname,
  target: NativeTarget = currentTarget(),
): Loaded {
  const override = env[NATIVE_PATH_ENV];
  if (override) {
    if (!path.isAbsolute(override)) {
      throw new NativeLoadError(
        `k8sretry: ${NATIVE_PATH_ENV}=${override} is a relative path: it must be the absolute path of the .node file ` +
          `(a relative one would depend on the working directory)`,
        [override],
      );
    }
    try {
      return open(override);
    } catch (err) {
      throw new NativeLoadError(
        `k8sretry: cannot load its native engine from ${NATIVE_PATH_ENV}=${override} on ${describe(target)}: ${firstLine(err)}`,
        [override],
        { cause: err },
      );
    }
  }
  const own =
    here === __dirname && target.platform === process.platform && target.arch === process.arch
      ? packagedCandidates(target, here, packaged())
      : [];
  // Beside the code first, then the package's literal paths, then the rest.
  const rest = nativeCandidates(target, here);
  const beside = rest.filter((c) => c.package === undefined && c.file !== undefined && inside(here, c.file));
  const candidates: NativeCandidate[] = [];
  const seen = new Set<string>();
  for (const c of [...beside, ...own, ...rest]) {
    const key = c.file !== undefined ? path.resolve(c.file) : c.label;
    if (seen.has(key)) continue;
    seen.add(key);
    candidates.push(c);
  }
  for (const c of candidates) {
    if (c.file === undefined || !exists(c.file)) continue;
    try {
      return open(c.file);
    } catch (err) {
      const tried = candidates.slice(0, candidates.indexOf(c) + 1).map((x) => x.label);
      throw new NativeLoadError(
        `k8sretry: its native engine for ${describe(target)} was found at ${c.file} but failed to load: ${firstLine(err)}. ` +
          `Looked in:\n  ${tried.join('\n  ')}\n` +
          `Replace the file with the one for this platform (${fileOf(nativeTags(target)[0])}), remove it, or set ${NATIVE_PATH_ENV} to the right file.`,
        tried,
        { cause: err },
      );
    }
  }
  const tried = candidates.map((c) => c.label);
  const tags = nativeTags(target);
  const published = tags.find((tag) => PUBLISHED_TAGS.includes(tag));
  const hint =
    published !== undefined
      ? `It comes in the package ${packageOf(published)} (${fileOf(published)}), which npm installs ` +
        `with k8sretry on this platform as an optional dependency: install it with \`npm install ${packageOf(published)}\` ` +
        `(the same version as k8sretry), or reinstall without --omit=optional / --no-optional. `
      : `No prebuilt engine is published for this platform (only for ${PUBLISHED_TAGS.join(', ')}): ` +
        `build ${fileOf(tags[0])} from source (napi build) and point ${NATIVE_PATH_ENV} at it. `;
  throw new NativeLoadError(
    `k8sretry: no native engine for ${describe(target)} (${tags.map(fileOf).join(' or ')}). ` +
      `Looked in:\n  ${tried.join('\n  ')}\n` +
      hint +
      `After bundling, put the file beside the bundle (\`npx k8sretry-native copy --platforms ${tags[0]} --to <bundle folder>\`), ` +
      `or set ${NATIVE_PATH_ENV} to its path.`,
    tried,
  );
}

function firstLine(err: unknown): string {
  return String((err as Error)?.message ?? err).split('\n')[0];
}

export const native: Loaded = loadNative();
