// `node --import ./test/register.mjs`: teaches Node the Workers module rule for .wasm files.
import { register } from "node:module";

register("./wasm-loader.mjs", import.meta.url);
