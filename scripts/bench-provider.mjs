// The timed part of scripts/bench-provider: generates the configurations, runs terraform and
// prints wall times. Needs the environment scripts/bench-provider sets up.
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { call, ok, signUp } from "../tests/e2e/lib.mjs";

const root = process.env.BENCH_DIR;
const header = `terraform {
  required_providers {
    portcullis = { source = "portcullis/portcullis" }
  }
}
`;

function timed(label, dir, args, env = {}) {
  const started = process.hrtime.bigint();
  execFileSync("terraform", [...args, "-no-color", "-input=false"], {
    cwd: dir,
    env: { ...process.env, ...env },
    stdio: ["ignore", "ignore", "inherit"],
    maxBuffer: 256 * 1024 * 1024,
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  console.log(`${label.padEnd(58)} ${seconds.toFixed(2)} s`);
  return seconds;
}

// 1. One full tenant: 99 members + 100 tokens + 20 keys.
const world = await signUp("enterprise");
const full = join(root, "full");
mkdirSync(full);
writeFileSync(
  join(full, "main.tf"),
  `${header}
provider "portcullis" {}
resource "portcullis_user" "member" {
  count       = 97
  email       = "member-\${count.index}@bench.test"
  permissions = count.index % 3 == 0 ? ["build_applications"] : ["modify_configuration", "update_certificates"]
}
# A member holds at most 50 tokens per tenant (their first one included): 34 + 33 + 33 over
# the owner and two more members.
provider "portcullis" {
  alias = "second"
  token = "\${var.second_token}"
}
provider "portcullis" {
  alias = "third"
  token = "\${var.third_token}"
}
variable "second_token" {
  type      = string
  sensitive = true
}
variable "third_token" {
  type      = string
  sensitive = true
}
resource "portcullis_api_token" "ci" {
  count       = 34
  name        = "ci-\${count.index}"
  permissions = ["build_applications"]
}
resource "portcullis_api_token" "ci_second" {
  provider    = portcullis.second
  count       = 33
  name        = "ci-second-\${count.index}"
  permissions = ["build_applications"]
}
resource "portcullis_api_token" "ci_third" {
  provider    = portcullis.third
  count       = 33
  name        = "ci-third-\${count.index}"
  permissions = ["build_applications"]
}
resource "portcullis_automation_key" "builder" {
  count = 20
  name  = "builder-\${count.index}"
}
`,
);
const holders = [];
for (const name of ["second", "third"]) {
  const address = `${name}@bench.test`;
  const invited = ok(
    await call("POST", `/v1/tenants/${world.tenant}/members`, {
      token: world.token,
      body: { email: address, permissions: ["build_applications", "user_and_api_management"] },
    }),
    201,
  );
  const accepted = ok(
    await call("POST", "/v1/invitations/accept", {
      body: { account_id: world.account, email: address, code: invited.invitation.code },
    }),
  );
  holders.push(accepted.token);
}
const env = { PORTCULLIS_TOKEN: world.token, TF_VAR_second_token: holders[0], TF_VAR_third_token: holders[1] };
timed("apply: 97 members + 100 tokens + 20 keys (217 resources)", full, ["apply", "-auto-approve"], env);
timed("plan (refresh, no changes) of the same 217 resources", full, ["plan", "-detailed-exitcode"], env);
timed("plan -refresh=false of the same 217 resources", full, ["plan", "-refresh=false"], env);

// 2. 1,000 members over 11 tenants (10 x 99 + 10): one provider alias per tenant.
const wide = join(root, "wide");
mkdirSync(wide);
// wrangler dev closes kept-alive loopback connections that sat idle while terraform ran, and
// the next request on one fails ("other side closed"): the set-up retries its requests.
async function retried(what, request) {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await request();
    } catch (error) {
      if (attempt >= 3) throw new Error(`${what}: ${error.message}`, { cause: error });
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
}
const owner = await retried("sign-up", () => signUp("enterprise"));
const tokens = [owner.token];
for (let n = 1; n < 11; n += 1) {
  const created = await retried(`tenant ${n}`, async () =>
    ok(await call("POST", "/v1/tenants", { token: owner.token, body: { name: `Tenant ${n}`, plan: "enterprise" } }), 201),
  );
  tokens.push(created.token);
}
let hcl = header;
tokens.forEach((token, n) => {
  hcl += `
provider "portcullis" {
  alias = "t${n}"
  token = "${token}"
}
resource "portcullis_user" "t${n}" {
  provider    = portcullis.t${n}
  count       = ${n < 10 ? 99 : 10}
  email       = "t${n}-member-\${count.index}@bench.test"
  permissions = ["build_applications"]
}
`;
});
writeFileSync(join(wide, "main.tf"), hcl);
timed("plan (create) of 1,000 members in 11 tenants", wide, ["plan"]);
// Applied too since accounts are stored one row per entity (issue 13): each member is one
// invitation written by the account's Durable Object, at Terraform's default parallelism.
timed("apply: 1,000 members in 11 tenants", wide, ["apply", "-auto-approve"]);
timed("plan (refresh, no changes) of the 1,000 members", wide, ["plan", "-detailed-exitcode"]);
