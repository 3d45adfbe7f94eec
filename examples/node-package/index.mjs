// `npm start`: issues a build token and shows what the edge decides for three requests.
import { decide, issueToken, model } from "./gatekeeper.mjs";

const token = issueToken(["build_applications"]);
const records = new Map([[token.storage_key, token.record]]);
console.log(`product model: ${model.product}`);
for (const [header, operation] of [
  [`Bearer ${token.secret}`, "run_build"],
  [`Bearer ${token.secret}`, "manage_users"],
  ["Bearer pctk_not-a-token", "run_build"],
]) {
  const { status, code } = decide(header, records, operation);
  console.log(`${operation.padEnd(14)} ${status}${code ? ` ${code}` : ""}`);
}
