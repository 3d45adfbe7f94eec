// Node stand-in for the Workers runtime's `CompiledWasm` module rule: importing a `.wasm` file
// yields its compiled WebAssembly.Module as the default export, as it does under wrangler.
export async function load(url, context, nextLoad) {
  if (!url.endsWith(".wasm")) return nextLoad(url, context);
  return {
    format: "module",
    shortCircuit: true,
    source: `import { readFileSync } from "node:fs";
export default new WebAssembly.Module(readFileSync(new URL(${JSON.stringify(url)})));`,
  };
}
