// Helpers for the provider acceptance suite: a Terraform working directory per test, driven by
// the real CLI (scripts/test-provider sets TERRAFORM, TF_CLI_CONFIG_FILE with dev_overrides,
// PORTCULLIS_ENDPOINT and PORTCULLIS_SIGNUP_KEY).
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export { call, email, ok, signUp } from "../e2e/lib.mjs";
import { call, ok } from "../e2e/lib.mjs";

const terraform = process.env.TERRAFORM ?? "terraform";

export const PROVIDER = `
terraform {
  required_providers {
    portcullis = { source = "portcullis/portcullis" }
  }
}
provider "portcullis" {}
`;

/** A Terraform working directory whose provider uses `token` (and `env`, e.g. another endpoint). */
export class Workspace {
  constructor(token, env = {}) {
    this.dir = mkdtempSync(join(tmpdir(), "portcullis-tf-"));
    this.token = token;
    this.env = env;
  }

  /** Replaces the configuration (main.tf) with the provider block plus `hcl`. */
  write(hcl) {
    writeFileSync(join(this.dir, "main.tf"), PROVIDER + hcl);
  }

  /** Runs terraform; resolves { code, stdout, stderr } whatever the exit code. */
  run(args, { parallelism } = {}) {
    const all = [...args, "-no-color"];
    if (parallelism && (args[0] === "apply" || args[0] === "destroy")) all.push(`-parallelism=${parallelism}`);
    return new Promise((resolve) => {
      execFile(
        terraform,
        all,
        {
          cwd: this.dir,
          env: { ...process.env, PORTCULLIS_TOKEN: this.token, ...this.env },
          maxBuffer: 64 * 1024 * 1024,
        },
        (error, stdout, stderr) => resolve({ code: error ? (error.code ?? 1) : 0, stdout, stderr }),
      );
    });
  }

  /** Applies; asserts success. */
  async apply(extra = []) {
    const result = await this.run(["apply", "-auto-approve", "-input=false", ...extra]);
    assert.equal(result.code, 0, `terraform apply failed:\n${result.stderr}\n${result.stdout}`);
    return result;
  }

  /** Plans with -detailed-exitcode: 0 no changes, 2 changes, 1 error. */
  async plan(extra = []) {
    return this.run(["plan", "-detailed-exitcode", "-input=false", ...extra]);
  }

  /** Asserts the next plan has no changes. */
  async assertNoChanges(what) {
    const result = await this.plan();
    assert.equal(result.code, 0, `${what}: expected no changes\n${result.stderr}\n${result.stdout}`);
  }

  /** Destroys everything; asserts success. */
  async destroy() {
    const result = await this.run(["destroy", "-auto-approve", "-input=false"]);
    assert.equal(result.code, 0, `terraform destroy failed:\n${result.stderr}\n${result.stdout}`);
  }

  /** The state's resources, by address, with their values (sensitive ones included). */
  async resources() {
    const result = await this.run(["show", "-json"]);
    assert.equal(result.code, 0, result.stderr);
    const state = JSON.parse(result.stdout);
    const found = {};
    for (const resource of state.values?.root_module?.resources ?? []) found[resource.address] = resource.values;
    return found;
  }

  /** The root module's outputs, by name, as JSON values. */
  async outputs() {
    const result = await this.run(["output", "-json"]);
    assert.equal(result.code, 0, result.stderr);
    return Object.fromEntries(Object.entries(JSON.parse(result.stdout)).map(([name, output]) => [name, output.value]));
  }

  read(file) {
    return readFileSync(join(this.dir, file), "utf8");
  }

  remove() {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** The tenant as the API shows it: member emails, token key ids and automation key ids. */
export async function tenantSnapshot(world) {
  const members = ok(await call("GET", `/v1/tenants/${world.tenant}/members`, { token: world.token }));
  const tokens = ok(await call("GET", `/v1/tenants/${world.tenant}/tokens`, { token: world.token }));
  const keys = ok(await call("GET", `/v1/tenants/${world.tenant}/automation-keys`, { token: world.token }));
  return {
    members: members.items.map((m) => `${m.email} ${m.status} ${m.permissions.join(",")}`).sort(),
    tokens: tokens.items.map((t) => t.key_id).sort(),
    keys: keys.items.map((k) => `${k.key_id} ${k.enabled}`).sort(),
  };
}

/** The member with `address`, or undefined. */
export async function memberByEmail(world, address) {
  const members = ok(await call("GET", `/v1/tenants/${world.tenant}/members`, { token: world.token }));
  return members.items.find((m) => m.email === address.toLowerCase());
}

/** Terraform's output as one line: the diagnostics' frame (`│`) and any wrapping removed. */
export function flat(output) {
  return output.replace(/[│╷╵]/g, " ").replace(/\s+/g, " ");
}

/** Asserts a failed plan reports `code` on `attribute` of `address`. */
export function assertDiagnostic(result, { code, address, attribute, text }) {
  const output = `${result.stderr}\n${result.stdout}`;
  assert.equal(result.code, 1, `expected the plan to fail:\n${output}`);
  assert.match(output, new RegExp(`Invalid configuration \\(${code}\\)`), output);
  if (address) assert.match(output, new RegExp(`with ${address.replace(/[.[\]]/g, "\\$&")}(\\[\\d+\\])?,`), output);
  if (attribute) assert.match(output, new RegExp(`${attribute}\\s*=`), `diagnostic should point at ${attribute}:\n${output}`);
  if (text) assert.ok(flat(output).includes(flat(text)), `expected "${text}" in:\n${output}`);
}
