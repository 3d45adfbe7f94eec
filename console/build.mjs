// Builds the admin console into console/dist for Workers static assets (wrangler.toml `[assets]`):
// dist/console/ holds what /console/ serves (index.html, the hashed, minified bundle and the
// engine's WebAssembly), dist/index.html is the same page for the single-page fallback, and
// dist/_headers carries the security headers. Run by scripts/build-console, which builds the
// wasm-bindgen package (`--target web`) into PORTCULLIS_CONSOLE_WASM first: the bundle imports
// its glue as `portcullis-wasm` and loads the .wasm from its hashed asset URL.
import { build } from "esbuild";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { createHash } from "node:crypto";
import { gzipSync } from "node:zlib";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const dist = path.join(here, "dist");
const assets = path.join(dist, "console", "assets");

await rm(dist, { recursive: true, force: true });
await mkdir(assets, { recursive: true });

const wasmDir = process.env.PORTCULLIS_CONSOLE_WASM;
if (!wasmDir) throw new Error("console build: PORTCULLIS_CONSOLE_WASM is not set (run scripts/build-console)");
const wasm = await readFile(path.join(wasmDir, "portcullis_wasm_bg.wasm"));
const wasmName = `portcullis-${createHash("sha256").update(wasm).digest("hex").slice(0, 8).toUpperCase()}.wasm`;
await writeFile(path.join(assets, wasmName), wasm);

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
  alias: { "portcullis-wasm": path.resolve(wasmDir, "portcullis_wasm.js") },
  define: { PORTCULLIS_WASM_URL: JSON.stringify(`/console/assets/${wasmName}`) },
  legalComments: "none",
  logLevel: "warning",
});

const outputs = Object.keys(result.metafile.outputs)
  .map((file) => path.basename(file))
  .filter((file) => file !== wasmName);
const script = outputs.find((file) => file.endsWith(".js"));
const style = outputs.find((file) => file.endsWith(".css"));
if (!script || !style) throw new Error(`console build: expected one .js and one .css, got ${outputs.join(", ")}`);

const page = (await readFile(path.join(here, "index.html"), "utf8"))
  .replace("%SCRIPT%", `/console/assets/${script}`)
  .replace("%STYLE%", `/console/assets/${style}`);
await writeFile(path.join(dist, "console", "index.html"), page);
await writeFile(path.join(dist, "index.html"), page);
await writeFile(path.join(dist, "_headers"), await readFile(path.join(here, "_headers"), "utf8"));
// What a browser downloads: the page, the script, the stylesheet and the engine's wasm, raw and
// gzip (level 9).
const shipped = [
  ["console/index.html", page],
  [`console/assets/${script}`, await readFile(path.join(assets, script))],
  [`console/assets/${style}`, await readFile(path.join(assets, style))],
  [`console/assets/${wasmName}`, wasm],
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
