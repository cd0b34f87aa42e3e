#!/usr/bin/env node
// Builds the web console (console/) into dist/console/: one minified ES2022 bundle of
// console/main.tsx and one stylesheet (uPlot's and console/style.css), both named by a hash of
// their content under assets/, with source maps, and index.html referencing them by their
// /console/assets/ path (the server serves index.html at /console without caching and the
// assets as immutable). No inline script or style, nothing loaded from another origin: the
// page runs under a strict Content-Security-Policy. The same sources give the same files.
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const out = path.join(root, 'dist', 'console');
// Built beside the target and swapped in at the end, so a running server never reads a half-written folder.
const staging = path.join(root, 'dist', `.console-${process.pid}`);
const PUBLIC = '/console/assets';

const started = performance.now();
rmSync(staging, { recursive: true, force: true });
mkdirSync(staging, { recursive: true });
try {
  const result = await build({
    absWorkingDir: root,
    entryPoints: ['console/main.tsx'],
    tsconfig: 'console/tsconfig.json',
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    sourcemap: 'linked',
    jsx: 'automatic',
    jsxImportSource: 'preact',
    define: { 'process.env.NODE_ENV': '"production"' },
    outdir: path.join(staging, 'assets'),
    entryNames: '[name]-[hash]',
    assetNames: '[name]-[hash]',
    charset: 'utf8',
    legalComments: 'eof',
    metafile: true,
    logLevel: 'warning',
  });

  const outputs = Object.entries(result.metafile.outputs);
  const entry = outputs.find(([, o]) => o.entryPoint === 'console/main.tsx');
  if (entry === undefined) throw new Error('esbuild wrote no bundle for console/main.tsx');
  const [jsFile, jsOutput] = entry;
  const cssFile = jsOutput.cssBundle;
  if (cssFile === undefined) throw new Error('esbuild wrote no stylesheet for console/main.tsx');
  const href = (file) => `${PUBLIC}/${path.basename(file)}`;

  const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light">
<meta name="referrer" content="no-referrer">
<title>Tally console</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="${href(cssFile)}">
<script type="module" src="${href(jsFile)}"></script>
</head>
<body>
<div id="app"></div>
<noscript>The Tally console needs JavaScript.</noscript>
</body>
</html>
`;
  writeFileSync(path.join(staging, 'index.html'), html);
  rmSync(out, { recursive: true, force: true });
  renameSync(staging, out);
  const sizes = outputs
    .filter(([file]) => !file.endsWith('.map'))
    .map(([file, o]) => `${path.basename(file)} ${(o.bytes / 1024).toFixed(1)} KiB`)
    .join(', ');
  console.log(`console: dist/console/index.html, ${sizes} (${Math.round(performance.now() - started)} ms)`);
} catch (error) {
  rmSync(staging, { recursive: true, force: true });
  console.error(`console: build failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
