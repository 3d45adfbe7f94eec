// Builds the admin console into console/dist for Workers static assets (wrangler.toml `[assets]`):
// dist/console/ holds what /console/ serves (index.html and the hashed, minified bundle), dist/index.html
// is the same page for the single-page fallback, and dist/_headers carries the security headers.
// Run by scripts/build-console.
import { build } from "esbuild";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { gzipSync } from "node:zlib";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const dist = path.join(here, "dist");
const assets = path.join(dist, "console", "assets");

await rm(dist, { recursive: true, force: true });
await mkdir(assets, { recursive: true });

const result = await build({
  entryPoints: [path.join(here, "src", "main.jsx")],
  bundle: true,
  minify: true,
  format: "esm",
  target: ["chrome120", "firefox120", "safari17"],
  jsx: "automatic",
  jsxImportSource: "preact",
  entryNames: "[name]-[hash]",
  outdir: assets,
  metafile: true,
  legalComments: "none",
  logLevel: "warning",
});

const outputs = Object.keys(result.metafile.outputs).map((file) => path.basename(file));
const script = outputs.find((file) => file.endsWith(".js"));
const style = outputs.find((file) => file.endsWith(".css"));
if (!script || !style) throw new Error(`console build: expected one .js and one .css, got ${outputs.join(", ")}`);

const page = (await readFile(path.join(here, "index.html"), "utf8"))
  .replace("%SCRIPT%", `/console/assets/${script}`)
  .replace("%STYLE%", `/console/assets/${style}`);
await writeFile(path.join(dist, "console", "index.html"), page);
await writeFile(path.join(dist, "index.html"), page);
await writeFile(path.join(dist, "_headers"), await readFile(path.join(here, "_headers"), "utf8"));
// What a browser downloads: the page, the script and the stylesheet, raw and gzip (level 9).
const shipped = [
  ["console/index.html", page],
  [`console/assets/${script}`, await readFile(path.join(assets, script))],
  [`console/assets/${style}`, await readFile(path.join(assets, style))],
];
let raw = 0;
let gzip = 0;
for (const [name, content] of shipped) {
  const bytes = Buffer.byteLength(content);
  const packed = gzipSync(content, { level: 9 }).length;
  raw += bytes;
  gzip += packed;
  console.log(`  dist/${name}: ${bytes} bytes, ${packed} gzip`);
}
console.log(`console built in console/dist: ${raw} bytes shipped, ${gzip} gzip`);
