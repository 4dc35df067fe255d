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
// Where the file is looked for, in order:
// 1. `$K8SRETRY_NATIVE_PATH` (a path to the .node file), when set: only there.
// 2. The package's own `native/` folder (`dist/cjs/../../native/`), written as a literal path so
//    that @vercel/ncc sees it and copies the file into the bundle (it rewrites this expression
//    to the copy's place, `<bundle>/native/`). linux-x64 only.
// 3. Beside the running code (`__dirname`), and in `native/` below it: the bundle's folder after
//    ncc, after a flat zip of it, or wherever an esbuild user copied the file.
// 4. The platform packages, found by Node's own resolution from `__dirname`
//    (`require.resolve('k8sretry-<tag>/k8sretry.<tag>.node')`), best tag first.
// 5. The package's own `native/` folder for the other tags (a source build, `napi build`).
// Tags: linux-<arch>-gnu and linux-<arch>-musl (this process's C library first), darwin-<arch>,
// win32-<arch>-gnu and win32-<arch>-msvc. A file that exists but fails to load is reported and
// the next one is tried.
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

/** The package's own copy, by a path @vercel/ncc can evaluate (it relocates `path.join(__dirname,
 * '<literal>')` and copies the file). Only linux-x64-gnu is carried by `k8sretry` itself. */
function packaged(): string | undefined {
  if (process.platform === 'linux' && process.arch === 'x64') {
    return path.join(__dirname, '../../native/k8sretry.linux-x64-gnu.node');
  }
  return undefined;
}

/** A platform package's file as Node resolves it from `here` (node_modules upwards), or undefined
 * when it is not installed. `createRequire`, not `require.resolve`: a bundler leaves it alone. */
function resolveFrom(here: string, spec: string): string | undefined {
  try {
    return createRequire(path.join(here, 'k8sretry-native.js')).resolve(spec);
  } catch {
    return undefined;
  }
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

/** Every place the loader looks for a target's engine, in order (steps 3 to 5 of the top of this
 * file; the literal path of step 2 is added by loadNative for this process only). */
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
    const file = resolveFrom(here, spec);
    add(file ? { file, label: file, package: pkg } : { label: `${spec} (package ${pkg}: not installed)`, package: pkg });
  }
  for (const tag of tags) {
    const file = path.join(here, '..', '..', 'native', fileOf(tag));
    add({ file, label: file });
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
    try {
      return open(override);
    } catch (err) {
      throw new NativeLoadError(
        `k8sretry: cannot load its native engine from ${NATIVE_PATH_ENV}=${override} on ${describe(target)}: ${String((err as Error)?.message ?? err)}`,
        [override],
        { cause: err },
      );
    }
  }
  const own =
    here === __dirname && target.platform === process.platform && target.arch === process.arch ? packaged() : undefined;
  const candidates: NativeCandidate[] = own !== undefined ? [{ file: own, label: own }] : [];
  for (const c of nativeCandidates(target, here)) if (c.label !== own) candidates.push(c);
  const failures: string[] = [];
  let firstError: unknown;
  for (const c of candidates) {
    if (c.file === undefined || !exists(c.file)) continue;
    try {
      return open(c.file);
    } catch (err) {
      if (firstError === undefined) firstError = err;
      failures.push(`${c.file}: ${String((err as Error)?.message ?? err).split('\n')[0]}`);
    }
  }
  const tried = candidates.map((c) => c.label);
  const tags = nativeTags(target);
  const published = tags.find((tag) => PUBLISHED_TAGS.includes(tag));
  const found = failures.length > 0 ? `Found but could not load:\n  ${failures.join('\n  ')}\n` : '';
  const hint =
    published !== undefined
      ? `It comes in the package ${packageOf(published)} (${fileOf(published)}), which npm installs ` +
        `with k8sretry on this platform as an optional dependency: install it with \`npm install ${packageOf(published)}\` ` +
        `(the same version as k8sretry), or reinstall without --omit=optional / --no-optional. `
      : `No prebuilt engine is published for this platform (only for ${PUBLISHED_TAGS.join(', ')}): ` +
        `build ${fileOf(tags[0])} from source (napi build) and point ${NATIVE_PATH_ENV} at it. `;
  throw new NativeLoadError(
    `k8sretry: no native engine for ${describe(target)} (${tags.map(fileOf).join(' or ')}). ` +
      `Looked in:\n  ${tried.join('\n  ')}\n${found}` +
      hint +
      `After bundling, put the file beside the bundle (cp node_modules/${packageOf(published ?? tags[0])}/${fileOf(tags[0])} <bundle folder>/), ` +
      `or set ${NATIVE_PATH_ENV} to its path.`,
    tried,
    { cause: firstError },
  );
}

export const native: Loaded = loadNative();
