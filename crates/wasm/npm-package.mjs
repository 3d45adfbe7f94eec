// Completes the package.json (and README) wasm-pack writes into crates/wasm/pkg, so that the
// directory is the npm package `portcullis-wasm` as published: scripts/package-wasm runs it
// after `wasm-pack build --target web`, then `npm pack`s the result.
//
//   node crates/wasm/npm-package.mjs crates/wasm/pkg
//
// wasm-pack already takes the name, version, description, license, repository and keywords from
// crates/wasm/Cargo.toml; this adds what it cannot: `exports` (the ES module with its types, and
// the .wasm file for runtimes that import it as a module, such as Workers), the README and
// LICENSE in `files`, and README links that work outside the repository.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const dir = process.argv[2];
if (!dir) {
  console.error("usage: node crates/wasm/npm-package.mjs PKG_DIR");
  process.exit(2);
}
const manifestPath = join(dir, "package.json");
const manifest = JSON.parse(readFileSync(manifestPath, "utf8"));
const stem = manifest.name.replaceAll("-", "_");
const module = `${stem}.js`;
const types = `${stem}.d.ts`;
const wasm = `${stem}_bg.wasm`;
for (const [field, expected] of [["main", module], ["types", types], ["type", "module"]]) {
  if (manifest[field] !== expected) {
    console.error(`npm-package: wasm-pack wrote ${field} = ${JSON.stringify(manifest[field])}, expected ${JSON.stringify(expected)} (a --target web build)`);
    process.exit(1);
  }
}

const repository = manifest.repository?.url?.replace(/\.git$/, "");
const completed = {
  ...manifest,
  files: [wasm, module, types, "README.md", "LICENSE"],
  main: module,
  module,
  types,
  exports: {
    ".": { types: `./${types}`, default: `./${module}` },
    [`./${wasm}`]: `./${wasm}`,
    "./package.json": "./package.json",
  },
  ...(repository ? { homepage: `${repository}/tree/main/crates/wasm#readme`, bugs: { url: `${repository}/issues` } } : {}),
};
writeFileSync(manifestPath, `${JSON.stringify(completed, null, 2)}\n`);

// The crate README links into the repository (../../docs/...): on npm, the links point at it.
if (repository) {
  const readmePath = join(dir, "README.md");
  const readme = readFileSync(readmePath, "utf8").replaceAll(
    /\]\(\.\.\/\.\.\/([^)]+)\)/g,
    (_, path) => `](${repository}/blob/main/${path})`,
  );
  writeFileSync(readmePath, readme);
}
console.log(`${manifest.name}@${manifest.version}: package.json completed (exports, files, types)`);
