//! Commands: every mutation the engine accepts, as data (the Management API's JSON bodies map
//! onto these).

use crate::bulk::BulkAction;
use crate::credential::KeyId;
use crate::ids::{DisplayName, Email, SsoConnectionId, TenantId, UserId};
use crate::notification::WebhookUrl;
use crate::permission::PermissionSet;
use crate::plan::Plan;
use crate::sso::{OidcChange, SamlChange, SsoProtocolSettings};
use crate::terms::Terms;
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// SSO settings to apply (they replace the tenant's).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SsoChange {
    /// Whether SSO is enforced.
    pub enforced: bool,
    /// The breakglass member (required when enforced).
    pub breakglass: Option<UserId>,
    /// The account's identity-provider connection members sign in with (required when
    /// enforced; it must exist).
    #[serde(default)]
    pub connection: Option<SsoConnectionId>,
}

/// A mutation of an account, performed by an [`Actor`](crate::Actor).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case", deny_unknown_fields)]
pub enum Command {
    /// Launch a new tenant; the actor (a company admin) becomes its owner.
    CreateTenant {
        /// Name.
        name: DisplayName,
        /// Plan.
        plan: Plan,
    },
    /// Add a user to a tenant by email, creating (and inviting) the user if needed.
    InviteMember {
        /// The tenant.
        tenant_id: TenantId,
        /// The user's identity.
        email: Email,
        /// Display name for a new user (defaults to the email's local part).
        #[serde(default)]
        name: Option<DisplayName>,
        /// Permissions granted (none: read-only).
        #[serde(default)]
        permissions: PermissionSet,
    },
    /// Replace a member's permissions.
    ChangePermissions {
        /// The tenant.
        tenant_id: TenantId,
        /// The member.
        user_id: UserId,
        /// The new set.
        permissions: PermissionSet,
    },
    /// Remove a member from a tenant (the user stays in the account).
    RemoveMember {
        /// The tenant.
        tenant_id: TenantId,
        /// The member.
        user_id: UserId,
    },
    /// Issue a new invitation code to a pending user; the previous one stops working.
    ResendInvitation {
        /// The pending user.
        user_id: UserId,
    },
    /// Revoke a pending user's invitation: the user is deleted and the code stops working
    /// (company admins, or whoever answers for the user: see `account::invitation`).
    RevokeInvitation {
        /// The pending user.
        user_id: UserId,
    },
    /// Issue a password reset code for an active user, shown once to the caller (who delivers
    /// it): by someone who answers for the user's identity, or by the user themselves while
    /// they have no password yet (see `account::password_reset`).
    IssuePasswordReset {
        /// The user.
        user_id: UserId,
    },
    /// Block a user and all their credentials, in every tenant (company admins).
    DeactivateUser {
        /// The user.
        user_id: UserId,
    },
    /// Unblock an inactive user (company admins).
    ActivateUser {
        /// The user.
        user_id: UserId,
    },
    /// Delete an inactive user permanently (company admins).
    DeleteUser {
        /// The user.
        user_id: UserId,
    },
    /// Activate, deactivate or delete many users in one request (company admins): each user is
    /// judged on their own by the single-user rules, in the order given, and the answer is a
    /// per-user report (see [`crate::bulk`]).
    BulkUserLifecycle {
        /// What to do to each user.
        action: BulkAction,
        /// The users: 1 to 100, no duplicates.
        user_ids: Vec<UserId>,
    },
    /// Change a user's display name (the email never changes): the user themself, a company
    /// admin, or a member holding `user_and_api_management` in a tenant the user belongs to.
    RenameUser {
        /// The user.
        user_id: UserId,
        /// The new display name.
        name: DisplayName,
    },
    /// Grant or revoke the company admin role (company admins; never the owner's).
    SetCompanyAdmin {
        /// The user.
        user_id: UserId,
        /// Whether the user is a company admin.
        company_admin: bool,
    },
    /// Create a user of the account, invited (company admins and license admins).
    CreateUser {
        /// The user's identity.
        email: Email,
        /// Display name (defaults to the email's local part).
        #[serde(default)]
        name: Option<DisplayName>,
    },
    /// Grant or revoke the `support` company role (company admins).
    SetSupport {
        /// The user.
        user_id: UserId,
        /// Whether the user has the role.
        support: bool,
    },
    /// Make a user a license admin of a tenant (company admins, or license admins of it).
    GrantLicenseAdmin {
        /// The tenant.
        tenant_id: TenantId,
        /// The user.
        user_id: UserId,
    },
    /// Take a tenant's license admin role from a user (never from its primary contact).
    RevokeLicenseAdmin {
        /// The tenant.
        tenant_id: TenantId,
        /// The user.
        user_id: UserId,
    },
    /// Name a tenant's primary contact, swapping out the previous one (company admins).
    SetPrimaryContact {
        /// The tenant.
        tenant_id: TenantId,
        /// The new primary contact (made a license admin of the tenant if needed).
        user_id: UserId,
    },
    /// Give an existing user a seat in a tenant, with no tenant permission (company admins,
    /// or license admins of it).
    AssignLicense {
        /// The tenant.
        tenant_id: TenantId,
        /// The user.
        user_id: UserId,
    },
    /// Take a user's seat in a tenant (company admins, or license admins of it).
    RevokeLicense {
        /// The tenant.
        tenant_id: TenantId,
        /// The user.
        user_id: UserId,
    },
    /// Change account settings (company admins).
    UpdateAccountSettings {
        /// How long invitations stay valid, in hours (1 to 720).
        invitation_ttl_hours: u32,
    },
    /// Create a personal API token for the actor in a tenant.
    CreateApiToken {
        /// The tenant.
        tenant_id: TenantId,
        /// Name.
        name: DisplayName,
        /// The most the token may do.
        #[serde(default)]
        permissions: PermissionSet,
        /// Validity window, client IP rules, external id and metadata: the body's
        /// `expires_at`, `not_before`, `allowed_ips`, `denied_ips`, `external_id` and
        /// `metadata` (see [`crate::terms`]).
        #[serde(flatten)]
        terms: Terms,
    },
    /// Delete an API token: one's own, or any in the tenant with `user_and_api_management`.
    DeleteApiToken {
        /// The token.
        key_id: KeyId,
    },
    /// Give an API token a new secret, keeping its id, scope and terms: the previous secret
    /// works for `overlap_seconds` more (0 to 86400), then stops. Who may delete it may roll it.
    RollApiToken {
        /// The token.
        key_id: KeyId,
        /// How long the previous secret keeps working, in seconds (default 0: it stops now).
        #[serde(default)]
        overlap_seconds: u64,
    },
    /// Create a build-only automation key (team plan and up; `build_applications`).
    CreateAutomationKey {
        /// The tenant.
        tenant_id: TenantId,
        /// Name.
        name: DisplayName,
        /// Validity window, client IP rules, external id and metadata, as for tokens.
        #[serde(flatten)]
        terms: Terms,
    },
    /// Give an automation key a new secret, keeping its id and terms: the previous secret
    /// works for `overlap_seconds` more (0 to 86400), then stops.
    RollAutomationKey {
        /// The key.
        key_id: KeyId,
        /// How long the previous secret keeps working, in seconds (default 0: it stops now).
        #[serde(default)]
        overlap_seconds: u64,
    },
    /// Switch an automation key on or off.
    SetAutomationKeyEnabled {
        /// The key.
        key_id: KeyId,
        /// On or off.
        enabled: bool,
    },
    /// Delete an automation key.
    DeleteAutomationKey {
        /// The key.
        key_id: KeyId,
    },
    /// Change tenant settings; omitted fields stay as they are.
    UpdateTenantSettings {
        /// The tenant.
        tenant_id: TenantId,
        /// New name.
        #[serde(default)]
        name: Option<DisplayName>,
        /// New plan.
        #[serde(default)]
        plan: Option<Plan>,
        /// New SSO settings.
        #[serde(default)]
        sso: Option<SsoChange>,
    },
    /// Send notifications to a webhook, signed with a new secret (company admins).
    ConfigureWebhook {
        /// `https://…` (or `http://` to 127.0.0.1, [::1] or localhost).
        url: WebhookUrl,
        /// Seconds before the first delivery (0 to 3600, default 60), so that the receiver
        /// can store the signing secret this command answers with before anything signed
        /// with it arrives.
        #[serde(default = "crate::notification::default_first_delivery_delay")]
        start_after_seconds: u32,
    },
    /// Stop webhook deliveries; notifications wait in the outbox (company admins). A struct
    /// variant with no fields, not a unit variant: serde ignores extra fields next to the tag
    /// of a unit variant, so only this form refuses them like every other command.
    RemoveWebhook {},
    /// Connect an identity provider to the account (company admins; see [`crate::sso`]).
    CreateSsoConnection {
        /// Name.
        name: DisplayName,
        /// The protocol and its settings: `{"type": "oidc", "issuer": …, "client_id": …,
        /// "client_secret": …}` or `{"type": "saml", "idp_entity_id": …, "idp_sso_url": …,
        /// "idp_certificates": […]}`.
        protocol: SsoProtocolSettings,
        /// Whether an unknown verified email creates a user (active, no company role, no
        /// tenant permission). Off unless given.
        #[serde(default)]
        allow_jit_provisioning: bool,
    },
    /// Change an identity-provider connection; omitted fields stay as they are (company
    /// admins). Changing the provider settings ends the sign-ins under way with it.
    UpdateSsoConnection {
        /// The connection.
        connection_id: SsoConnectionId,
        /// New name.
        #[serde(default)]
        name: Option<DisplayName>,
        /// New OpenID Connect settings (issuer, client id, client secret); only for an
        /// OpenID Connect connection.
        #[serde(default)]
        oidc: Option<OidcChange>,
        /// New SAML settings (entity ID, single sign-on URL, certificates); only for a SAML
        /// connection.
        #[serde(default)]
        saml: Option<SamlChange>,
        /// Turn just-in-time provisioning on or off.
        #[serde(default)]
        allow_jit_provisioning: Option<bool>,
    },
    /// Delete an identity-provider connection no tenant names (company admins).
    DeleteSsoConnection {
        /// The connection.
        connection_id: SsoConnectionId,
    },
}

/// The largest command body accepted, in bytes.
pub const MAX_COMMAND_BYTES: usize = 16 * 1024;

/// Why a command body was refused before it reached the engine.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CommandParseError {
    /// Larger than [`MAX_COMMAND_BYTES`].
    #[error("command body is larger than {MAX_COMMAND_BYTES} bytes")]
    TooLarge,
    /// Not valid JSON, or not a valid command.
    #[error("invalid command: {0}")]
    Invalid(String),
}

impl Command {
    /// Parses a JSON command body, with a size limit. Never panics.
    pub fn from_json(body: &[u8]) -> Result<Self, CommandParseError> {
        if body.len() > MAX_COMMAND_BYTES {
            return Err(CommandParseError::TooLarge);
        }
        serde_json::from_slice(body).map_err(|error| CommandParseError::Invalid(error.to_string()))
    }

    /// The stable name of the command, e.g. `invite_member`.
    pub const fn name(&self) -> &'static str {
        match self {
            Command::CreateTenant { .. } => "create_tenant",
            Command::InviteMember { .. } => "invite_member",
            Command::ChangePermissions { .. } => "change_permissions",
            Command::RemoveMember { .. } => "remove_member",
            Command::ResendInvitation { .. } => "resend_invitation",
            Command::RevokeInvitation { .. } => "revoke_invitation",
            Command::IssuePasswordReset { .. } => "issue_password_reset",
            Command::DeactivateUser { .. } => "deactivate_user",
            Command::ActivateUser { .. } => "activate_user",
            Command::DeleteUser { .. } => "delete_user",
            Command::BulkUserLifecycle { .. } => "bulk_user_lifecycle",
            Command::RenameUser { .. } => "rename_user",
            Command::SetCompanyAdmin { .. } => "set_company_admin",
            Command::CreateUser { .. } => "create_user",
            Command::SetSupport { .. } => "set_support",
            Command::GrantLicenseAdmin { .. } => "grant_license_admin",
            Command::RevokeLicenseAdmin { .. } => "revoke_license_admin",
            Command::SetPrimaryContact { .. } => "set_primary_contact",
            Command::AssignLicense { .. } => "assign_license",
            Command::RevokeLicense { .. } => "revoke_license",
            Command::UpdateAccountSettings { .. } => "update_account_settings",
            Command::CreateApiToken { .. } => "create_api_token",
            Command::DeleteApiToken { .. } => "delete_api_token",
            Command::RollApiToken { .. } => "roll_api_token",
            Command::CreateAutomationKey { .. } => "create_automation_key",
            Command::RollAutomationKey { .. } => "roll_automation_key",
            Command::SetAutomationKeyEnabled { .. } => "set_automation_key_enabled",
            Command::DeleteAutomationKey { .. } => "delete_automation_key",
            Command::UpdateTenantSettings { .. } => "update_tenant_settings",
            Command::ConfigureWebhook { .. } => "configure_webhook",
            Command::RemoveWebhook {} => "remove_webhook",
            Command::CreateSsoConnection { .. } => "create_sso_connection",
            Command::UpdateSsoConnection { .. } => "update_sso_connection",
            Command::DeleteSsoConnection { .. } => "delete_sso_connection",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[allow(unused_imports, reason = "names of the model in force")]
    use crate::model::testing::*;

    #[test]
    fn parses_a_command() {
        let body = br#"{"command":"invite_member","tenant_id":"ten_0123456789abcdef",
            "email":"Bo@Example.com","permissions":["build_applications"]}"#;
        let command = Command::from_json(body).unwrap();
        let Command::InviteMember {
            email,
            permissions,
            name,
            ..
        } = command
        else {
            panic!("wrong command");
        };
        assert_eq!(email.as_str(), "bo@example.com");
        assert_eq!(permissions.names(), ["build_applications"]);
        assert_eq!(name, None);
    }

    #[test]
    fn refuses_bad_bodies_with_a_reason() {
        let unknown_permission = br#"{"command":"invite_member","tenant_id":"ten_0123456789abcdef",
            "email":"bo@example.com","permissions":["sudo"]}"#;
        let error = Command::from_json(unknown_permission).unwrap_err();
        assert!(
            error.to_string().contains("unknown permission `sudo`"),
            "{error}"
        );
        let unknown_field = br#"{"command":"delete_user","user_id":"usr_0123456789abcdef","x":1}"#;
        assert!(Command::from_json(unknown_field).is_err());
        assert!(Command::from_json(b"{").is_err());
        assert!(Command::from_json(br#"{"command":"format_disk"}"#).is_err());
        let huge = vec![b' '; MAX_COMMAND_BYTES + 1];
        assert_eq!(Command::from_json(&huge), Err(CommandParseError::TooLarge));
    }

    #[test]
    fn credential_terms_are_body_fields_of_the_create_commands() {
        let body = br#"{"command":"create_automation_key","tenant_id":"ten_0123456789abcdef",
            "name":"ci","expires_at":2000000000,"not_before":1900000000,
            "allowed_ips":["10.0.0.0/8"],"denied_ips":["10.9.0.0/16"],
            "external_id":"cus_1","metadata":{"a":1}}"#;
        let Command::CreateAutomationKey { terms, .. } = Command::from_json(body).unwrap() else {
            panic!("wrong command");
        };
        assert_eq!(
            terms.expires_at.map(|t| t.unix_seconds()),
            Some(2_000_000_000)
        );
        assert_eq!(
            terms.not_before.map(|t| t.unix_seconds()),
            Some(1_900_000_000)
        );
        assert_eq!(terms.ip().allowed_ips.len(), 1);
        assert_eq!(terms.denied_ips.len(), 1);
        assert_eq!(terms.external_id.unwrap().as_str(), "cus_1");
        assert_eq!(terms.metadata.unwrap().as_json(), r#"{"a":1}"#);
        let bad = br#"{"command":"create_api_token","tenant_id":"ten_0123456789abcdef",
            "name":"ci","allowed_ips":["10.0.0.1/8"]}"#;
        let error = Command::from_json(bad).unwrap_err().to_string();
        assert!(error.contains("bits set after its prefix"), "{error}");
    }

    #[test]
    fn remove_webhook_refuses_unknown_fields() {
        assert_eq!(
            Command::from_json(br#"{"command":"remove_webhook"}"#),
            Ok(Command::RemoveWebhook {})
        );
        let error = Command::from_json(br#"{"command":"remove_webhook","url":"x"}"#).unwrap_err();
        assert!(error.to_string().contains("unknown field `url`"), "{error}");
    }

    #[test]
    fn every_command_refuses_unknown_fields() {
        // serde's unknown-variant message lists every command name.
        let listing = Command::from_json(br#"{"command":"?"}"#)
            .unwrap_err()
            .to_string();
        let names: Vec<&str> = listing.split('`').skip(3).step_by(2).collect();
        assert!(names.contains(&"remove_webhook"), "{listing}");
        assert!(names.len() > 20, "{listing}");
        for name in names {
            // A command with flattened fields (the credential terms) checks its required
            // fields before unknown ones: give those.
            let required = match name {
                "create_api_token" | "create_automation_key" => {
                    r#""tenant_id":"ten_0123456789abcdef","name":"ci","#
                }
                _ => "",
            };
            let body = format!(r#"{{"command":"{name}",{required}"bogus":1}}"#);
            let error = Command::from_json(body.as_bytes()).unwrap_err();
            assert!(
                error.to_string().contains("unknown field `bogus`"),
                "{name}: {error}"
            );
        }
    }

    #[test]
    fn round_trips_through_json() {
        let command = Command::UpdateTenantSettings {
            tenant_id: "ten_0123456789abcdef".parse().unwrap(),
            name: Some("Prod".parse().unwrap()),
            plan: Some(plan_named("enterprise")),
            sso: Some(SsoChange {
                enforced: true,
                breakglass: None,
                connection: Some("sso_0123456789abcdef".parse().unwrap()),
            }),
        };
        let json = serde_json::to_vec(&command).unwrap();
        assert_eq!(Command::from_json(&json).unwrap(), command);
        assert_eq!(command.name(), "update_tenant_settings");
    }
}
