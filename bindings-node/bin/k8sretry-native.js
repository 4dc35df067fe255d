#!/usr/bin/env node
// k8sretry-native: puts k8sretry's native engines beside a bundle, for bundlers that do not copy
// them (esbuild, webpack, a hand-made release). @vercel/ncc needs none of this: it copies the Linux
// engines the package carries by itself (lib/native.ts).
//
//   npx k8sretry-native copy --platforms linux-x64-gnu,linux-arm64-gnu --to dist/
//   npx k8sretry-native list
//
// Each engine comes from the package's own native/ folder (the Linux ones ship there) or from its
// platform package (k8sretry-<tag>, when npm installed it). The files keep their names
// (k8sretry.<tag>.node), so a flat zip keeps them apart, and the loader finds the one for the
// machine it runs on beside the bundle.
'use strict';
const fs = require('fs');
const path = require('path');

const root = path.join(__dirname, '..');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
const PLATFORMS = {
  'linux-x64-gnu': ['linux', 'x64', 'glibc'],
  'linux-arm64-gnu': ['linux', 'arm64', 'glibc'],
  'linux-x64-musl': ['linux', 'x64', 'musl'],
  'linux-arm64-musl': ['linux', 'arm64', 'musl'],
  'darwin-x64': ['darwin', 'x64'],
  'darwin-arm64': ['darwin', 'arm64'],
  'win32-x64-gnu': ['win32', 'x64'],
};
const USAGE = `usage: k8sretry-native copy --platforms <tag>[,<tag>...] --to <folder>
       k8sretry-native list
tags: ${Object.keys(PLATFORMS).join(', ')}; "linux" means every linux one the package carries`;

function fail(message, code = 1) {
  process.stderr.write(`k8sretry-native: ${message}\n`);
  process.exit(code);
}

/** Where the engine for a tag is, or undefined. */
function source(tag) {
  const own = path.join(root, 'native', `k8sretry.${tag}.node`);
  if (fs.existsSync(own)) return own;
  try {
    const file = require.resolve(`k8sretry-${tag}/k8sretry.${tag}.node`, { paths: [root] });
    const name = JSON.parse(fs.readFileSync(path.join(path.dirname(file), 'package.json'), 'utf8')).name;
    if (name === `k8sretry-${tag}`) return file;
  } catch {
    // not installed
  }
  return undefined;
}

function parse(argv) {
  const opts = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const eq = a.indexOf('=');
    const [key, inline] = eq > 0 ? [a.slice(0, eq), a.slice(eq + 1)] : [a, undefined];
    if (key !== '--platforms' && key !== '--to') fail(`unknown argument ${a}\n${USAGE}`, 2);
    const value = inline !== undefined ? inline : argv[++i];
    if (value === undefined || value === '') fail(`${key} needs a value\n${USAGE}`, 2);
    opts[key.slice(2)] = value;
  }
  return opts;
}

const [command, ...rest] = process.argv.slice(2);
if (command === 'list') {
  for (const tag of Object.keys(PLATFORMS)) console.log(`${tag}\t${source(tag) || '(not here)'}`);
} else if (command === 'copy') {
  const opts = parse(rest);
  if (!opts.platforms || !opts.to) fail(`copy needs --platforms and --to\n${USAGE}`, 2);
  let tags = [];
  for (const t of opts.platforms.split(',').map((s) => s.trim()).filter(Boolean)) {
    if (t === 'linux') tags.push(...Object.keys(PLATFORMS).filter((k) => k.startsWith('linux-') && source(k)));
    else if (PLATFORMS[t]) tags.push(t);
    else fail(`unknown platform ${t} (${Object.keys(PLATFORMS).join(', ')})`, 2);
  }
  tags = [...new Set(tags)];
  if (tags.length === 0) fail('no platform to copy', 2);
  const missing = tags.filter((t) => !source(t));
  if (missing.length > 0) {
    const hints = missing.map((t) => {
      const [os, cpu, libc] = PLATFORMS[t];
      return `  npm install --no-save --os ${os} --cpu ${cpu}${libc ? ` --libc ${libc}` : ''} k8sretry-${t}@${pkg.version}`;
    });
    fail(`no engine here for ${missing.join(', ')} (not in ${path.join(root, 'native')}, platform package not installed); install it first:\n${hints.join('\n')}`);
  }
  const to = path.resolve(opts.to);
  fs.mkdirSync(to, { recursive: true });
  for (const tag of tags) {
    const from = source(tag);
    const dest = path.join(to, `k8sretry.${tag}.node`);
    fs.copyFileSync(from, dest);
    fs.chmodSync(dest, 0o755);
    console.log(`k8sretry-native: ${from} -> ${dest}`);
  }
} else {
  fail(USAGE, command === undefined || command === '--help' || command === '-h' ? 0 : 2);
}
