// Loads the native engine (the napi-rs addon, one `.node` file) without help from a package
// manager or a bundler, so that it survives being bundled (ncc, esbuild) and flattened, and says
// exactly what it looked for when it is missing. The binding's types come from
// `native-types.ts`, generated from the addon's own declarations by scripts/native-types.mjs: the
// published .d.ts need nothing outside `dist/`.
//
// Where the file is looked for, in order:
// 1. `$K8SRETRY_NATIVE_PATH` (a path to the .node file), when set: only there.
// 2. The package's own `native/` folder (`dist/cjs/../../native/`), written as a literal path so
//    that @vercel/ncc sees it and copies the file into the bundle (it rewrites this expression
//    to the copy's place, `<bundle>/native/`).
// 3. Beside the running code (`__dirname`), and in `native/` below it: the bundle's folder after
//    ncc, after a flat zip of it, or wherever an esbuild user copied the file.
// 4. The package's `native/` folder for the other platforms' file names.
import fs = require('fs');
import path = require('path');
import { K8sRetryError } from './errors';
import type * as Native from './native-types';

export type { FailureInit, RetryEvent } from './native-types';

/** The environment variable naming the `.node` file to load. */
export const NATIVE_PATH_ENV = 'K8SRETRY_NATIVE_PATH';

/** The addon file names this platform could use, best first (both C libraries on Linux: a wrong
 * one fails to load and the next is tried). */
export function nativeFileNames(platform: string = process.platform, arch: string = process.arch): string[] {
  const tags =
    platform === 'linux'
      ? [`linux-${arch}-gnu`, `linux-${arch}-musl`]
      : platform === 'win32'
        ? [`win32-${arch}-msvc`]
        : [`${platform}-${arch}`];
  return tags.map((tag) => `k8sretry.${tag}.node`);
}

/** The package's own copy, by a path @vercel/ncc can evaluate (it relocates `path.join(__dirname,
 * '<literal>')` and copies the file). Only linux-x64-gnu is prebuilt. */
function packaged(): string | undefined {
  if (process.platform === 'linux' && process.arch === 'x64') {
    return path.join(__dirname, '../../native/k8sretry.linux-x64-gnu.node');
  }
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

/** Finds and opens the addon (see the top of this file). @internal */
export function loadNative(env: Record<string, string | undefined> = process.env, here: string = __dirname): Loaded {
  const platform = `${process.platform}-${process.arch}`;
  const override = env[NATIVE_PATH_ENV];
  if (override) {
    try {
      return open(override);
    } catch (err) {
      throw new NativeLoadError(
        `k8sretry: cannot load its native engine from ${NATIVE_PATH_ENV}=${override} on ${platform}: ${String((err as Error)?.message ?? err)}`,
        [override],
        { cause: err },
      );
    }
  }
  const names = nativeFileNames();
  const candidates: string[] = [];
  const own = here === __dirname ? packaged() : undefined;
  if (own !== undefined) candidates.push(own);
  for (const name of names) candidates.push(path.join(here, name), path.join(here, 'native', name));
  for (const name of names) candidates.push(path.join(here, '..', '..', 'native', name));
  const tried = [...new Set(candidates)];
  const failures: string[] = [];
  let firstError: unknown;
  for (const file of tried) {
    if (!exists(file)) continue;
    try {
      return open(file);
    } catch (err) {
      if (firstError === undefined) firstError = err;
      failures.push(`${file}: ${String((err as Error)?.message ?? err).split('\n')[0]}`);
    }
  }
  const found = failures.length > 0 ? ` Found but could not load:\n  ${failures.join('\n  ')}\n` : '';
  throw new NativeLoadError(
    `k8sretry: no native engine for ${platform} (${names.join(' or ')}). Looked in:\n  ${tried.join('\n  ')}\n${found}` +
      `The npm package ships linux-x64-gnu. After bundling, put the file beside the bundle ` +
      `(cp node_modules/k8sretry/native/${names[0]} <bundle folder>/), or set ${NATIVE_PATH_ENV} to its path.`,
    tried,
    { cause: firstError },
  );
}

export const native: Loaded = loadNative();
