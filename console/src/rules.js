// The engine's rules in the browser: the WebAssembly package (crates/wasm, built for the web by
// scripts/build-console) loaded with the server's own model (`GET /v1/model`). A change the
// rules refuse is refused here, before it is sent, with the server's code and reason; what they
// allow, the server still judges. No rule is written in this file: each function asks the engine.
import init, { checkTenantChange, checkUserTransition, listRolePresets, Model } from "portcullis-wasm";

/* global PORTCULLIS_WASM_URL */

/** The lifecycle actions, in the order the Users grid offers them. */
const LIFECYCLE = ["resend_invitation", "revoke_invitation", "activate", "deactivate", "delete"];

/** The first problem of a failed check as `{ code, message }`, or null when it passed. */
function refusal(result) {
  return result.ok ? null : { code: result.errors[0].code, message: result.errors[0].message };
}

/**
 * Loads the engine with `document` (the model the server answered) and returns the rules:
 * `tenantChange`, `transition`, `actionsFor` and the model's `presets`.
 */
export async function loadRules(document) {
  await init({ module_or_path: PORTCULLIS_WASM_URL });
  const loaded = Model.load(document);
  if (!loaded.ok) throw new Error(`the server's model does not load: ${loaded.errors[0].message}`);
  const model = loaded.model;
  const transition = (status, action) => refusal(checkUserTransition({ status, action }));
  return {
    /**
     * The refusal of `change` (`{ change: "change_permissions" | "remove_member" |
     * "invite_member", ... }`) by `actor` to the tenant `tenant` (its GET answer) with
     * `members` (the members list's items), or null when the rules allow it. An input the
     * engine cannot read (an email still being typed) is no refusal: the server judges it.
     */
    tenantChange({ tenant, members, actor, change }) {
      const found = refusal(checkTenantChange(model, { tenant, members, actor, change }));
      return found?.code === "invalid_input" ? null : found;
    },
    /** The refusal of the lifecycle `action` on a user who is `status`, or null. */
    transition,
    /** The lifecycle actions allowed from `status`, in the grid's order. */
    actionsFor: (status) => LIFECYCLE.filter((action) => transition(status, action) === null),
    /** The model's role presets: `{ name, description, permissions }`. */
    presets: listRolePresets(model),
  };
}
