//! Company roles and the account-level permissions matrix.
//!
//! Above the tenants, an account's users hold company roles: `company_admin` (everything, every
//! tenant), `license_admin` (assigned to specific tenants: their seats and plan usage, never
//! the tenant's own administration), `support`, and the implicit `tenant_user` that every
//! member of any tenant has. A user may hold several; a new user holds none until one is
//! granted, and then has very limited rights. [`allows`] is the matrix, the one place that
//! says which role may run which [`AccountOperation`]; [`Account`](crate::Account) adds the
//! scoping (a license admin acts only on the tenants assigned to them).

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use thiserror::Error;

/// An account-level role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CompanyRole {
    /// Runs the account: every operation, every tenant.
    CompanyAdmin,
    /// Administers the seats and plan usage of the tenants assigned to them.
    LicenseAdmin,
    /// Works support tickets and reads the account's details.
    Support,
    /// Implicit for every member of any tenant.
    TenantUser,
}

impl CompanyRole {
    /// Every role, in the matrix's column order.
    pub const ALL: [CompanyRole; 4] = [
        CompanyRole::CompanyAdmin,
        CompanyRole::LicenseAdmin,
        CompanyRole::Support,
        CompanyRole::TenantUser,
    ];

    /// The stable wire name, e.g. `license_admin`.
    pub const fn name(self) -> &'static str {
        match self {
            CompanyRole::CompanyAdmin => "company_admin",
            CompanyRole::LicenseAdmin => "license_admin",
            CompanyRole::Support => "support",
            CompanyRole::TenantUser => "tenant_user",
        }
    }
}

impl fmt::Display for CompanyRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

/// A role name that is not a company role.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error(
    "unknown company role `{0}`; expected company_admin, license_admin, support or tenant_user"
)]
pub struct UnknownCompanyRole(pub String);

impl FromStr for CompanyRole {
    type Err = UnknownCompanyRole;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        CompanyRole::ALL
            .into_iter()
            .find(|role| role.name() == value)
            .ok_or_else(|| UnknownCompanyRole(crate::ids::excerpt(value)))
    }
}

/// An operation on the account, above any tenant's own permissions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountOperation {
    /// Create a user of the account.
    AddUser,
    /// Edit a user's display name.
    EditUserName,
    /// Activate or deactivate a user.
    EditUserStatus,
    /// Delete an inactive user.
    DeleteUser,
    /// Grant or revoke `company_admin`.
    AssignCompanyAdmin,
    /// Grant or revoke `license_admin` on a tenant.
    AssignLicenseAdmin,
    /// Grant or revoke `support`.
    AssignSupport,
    /// See each tenant's seats and plan usage.
    ViewLicenseUsage,
    /// Give or take a tenant seat (membership without any tenant permission).
    AssignLicenses,
    /// Launch (create) a tenant.
    LaunchTenant,
    /// Log in to a tenant one is a member of.
    LogInToAssignedTenant,
    /// Read support tickets.
    ViewSupportTickets,
    /// Open support tickets.
    CreateSupportTickets,
    /// Read the account's details (name, owner, settings, tenants).
    ViewAccountDetails,
    /// Edit one's own name.
    ManageOwnProfile,
}

impl AccountOperation {
    /// Every operation, in the matrix's row order.
    pub const ALL: [AccountOperation; 15] = [
        AccountOperation::AddUser,
        AccountOperation::EditUserName,
        AccountOperation::EditUserStatus,
        AccountOperation::DeleteUser,
        AccountOperation::AssignCompanyAdmin,
        AccountOperation::AssignLicenseAdmin,
        AccountOperation::AssignSupport,
        AccountOperation::ViewLicenseUsage,
        AccountOperation::AssignLicenses,
        AccountOperation::LaunchTenant,
        AccountOperation::LogInToAssignedTenant,
        AccountOperation::ViewSupportTickets,
        AccountOperation::CreateSupportTickets,
        AccountOperation::ViewAccountDetails,
        AccountOperation::ManageOwnProfile,
    ];

    /// The stable wire name, e.g. `assign_licenses`.
    pub const fn name(self) -> &'static str {
        match self {
            AccountOperation::AddUser => "add_user",
            AccountOperation::EditUserName => "edit_user_name",
            AccountOperation::EditUserStatus => "edit_user_status",
            AccountOperation::DeleteUser => "delete_user",
            AccountOperation::AssignCompanyAdmin => "assign_company_admin",
            AccountOperation::AssignLicenseAdmin => "assign_license_admin",
            AccountOperation::AssignSupport => "assign_support",
            AccountOperation::ViewLicenseUsage => "view_license_usage",
            AccountOperation::AssignLicenses => "assign_licenses",
            AccountOperation::LaunchTenant => "launch_tenant",
            AccountOperation::LogInToAssignedTenant => "log_in_to_assigned_tenant",
            AccountOperation::ViewSupportTickets => "view_support_tickets",
            AccountOperation::CreateSupportTickets => "create_support_tickets",
            AccountOperation::ViewAccountDetails => "view_account_details",
            AccountOperation::ManageOwnProfile => "manage_own_profile",
        }
    }

    /// A line for people.
    pub const fn description(self) -> &'static str {
        match self {
            AccountOperation::AddUser => "Add user",
            AccountOperation::EditUserName => "Edit user name",
            AccountOperation::EditUserStatus => "Edit user status",
            AccountOperation::DeleteUser => "Delete user",
            AccountOperation::AssignCompanyAdmin => "Assign the company admin role",
            AccountOperation::AssignLicenseAdmin => "Assign the license admin role",
            AccountOperation::AssignSupport => "Assign the support role",
            AccountOperation::ViewLicenseUsage => "View license usage",
            AccountOperation::AssignLicenses => "Assign licenses (tenant seats)",
            AccountOperation::LaunchTenant => "Launch (create) a tenant",
            AccountOperation::LogInToAssignedTenant => "Log in to an assigned tenant",
            AccountOperation::ViewSupportTickets => "View support tickets",
            AccountOperation::CreateSupportTickets => "Create support tickets",
            AccountOperation::ViewAccountDetails => "View account details",
            AccountOperation::ManageOwnProfile => "Manage own profile",
        }
    }

    /// Whether a license admin may run it only on the tenants assigned to them.
    pub const fn scoped_to_licenses(self) -> bool {
        matches!(
            self,
            AccountOperation::EditUserName
                | AccountOperation::AssignLicenseAdmin
                | AccountOperation::AssignLicenses
        )
    }
}

impl fmt::Display for AccountOperation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

/// An operation name that is not in the matrix.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("unknown account operation `{0}`")]
pub struct UnknownAccountOperation(pub String);

impl FromStr for AccountOperation {
    type Err = UnknownAccountOperation;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        AccountOperation::ALL
            .into_iter()
            .find(|operation| operation.name() == value)
            .ok_or_else(|| UnknownAccountOperation(crate::ids::excerpt(value)))
    }
}

/// The permissions matrix: whether `role` may run `operation` (for a license admin, on the
/// tenants assigned to them when [`AccountOperation::scoped_to_licenses`]).
pub const fn allows(role: CompanyRole, operation: AccountOperation) -> bool {
    use AccountOperation as Op;
    match role {
        CompanyRole::CompanyAdmin => true,
        CompanyRole::LicenseAdmin => matches!(
            operation,
            Op::AddUser
                | Op::EditUserName
                | Op::AssignLicenseAdmin
                | Op::ViewLicenseUsage
                | Op::AssignLicenses
                | Op::LogInToAssignedTenant
                | Op::ViewSupportTickets
                | Op::CreateSupportTickets
                | Op::ViewAccountDetails
                | Op::ManageOwnProfile
        ),
        CompanyRole::Support => matches!(
            operation,
            Op::LogInToAssignedTenant
                | Op::ViewSupportTickets
                | Op::CreateSupportTickets
                | Op::ViewAccountDetails
                | Op::ManageOwnProfile
        ),
        CompanyRole::TenantUser => {
            matches!(operation, Op::LogInToAssignedTenant | Op::ManageOwnProfile)
        }
    }
}

/// Whether `role` may run `operation` only on the tenants assigned to the user: license admins,
/// for the operations [`AccountOperation::scoped_to_licenses`].
pub const fn limited_to_assigned_tenants(role: CompanyRole, operation: AccountOperation) -> bool {
    allows(role, operation)
        && matches!(role, CompanyRole::LicenseAdmin)
        && operation.scoped_to_licenses()
}

/// Whether a user holding `roles`, license admin of `license_tenants`, may run `operation`
/// (on `tenant`, when given): the matrix with its scoping, the one statement of the rule that
/// the engine and the adapters' plan-time checks share.
pub fn roles_permit(
    roles: &[CompanyRole],
    license_tenants: &std::collections::BTreeSet<crate::TenantId>,
    operation: AccountOperation,
    tenant: Option<&crate::TenantId>,
) -> bool {
    roles.iter().any(|role| {
        allows(*role, operation)
            && (!limited_to_assigned_tenants(*role, operation)
                || tenant.is_none_or(|tenant| license_tenants.contains(tenant)))
    })
}

/// Whether any of `roles` allows `operation` (scoping aside).
pub fn any_allows(roles: &[CompanyRole], operation: AccountOperation) -> bool {
    roles.iter().any(|role| allows(*role, operation))
}

/// The matrix as a Markdown table (rendered into docs/ACCOUNT_ROLES.md; a test keeps the two
/// in step).
pub fn matrix_markdown() -> String {
    let mut table = String::from("| Operation |");
    for role in CompanyRole::ALL {
        table.push_str(&format!(" `{role}` |"));
    }
    table.push_str("\n|---|");
    for _ in CompanyRole::ALL {
        table.push_str(":-:|");
    }
    for operation in AccountOperation::ALL {
        table.push_str(&format!(
            "\n| {} (`{operation}`) |",
            operation.description()
        ));
        for role in CompanyRole::ALL {
            let cell = if limited_to_assigned_tenants(role, operation) {
                "assigned tenants"
            } else if allows(role, operation) {
                "yes"
            } else {
                "—"
            };
            table.push_str(&format!(" {cell} |"));
        }
    }
    table.push('\n');
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for role in CompanyRole::ALL {
            assert_eq!(role.name().parse::<CompanyRole>(), Ok(role));
            assert_eq!(serde_json::to_string(&role).unwrap(), format!("\"{role}\""));
        }
        for operation in AccountOperation::ALL {
            assert_eq!(operation.name().parse::<AccountOperation>(), Ok(operation));
        }
        assert!("root".parse::<CompanyRole>().is_err());
        assert!("format_disk".parse::<AccountOperation>().is_err());
    }

    #[test]
    fn the_matrix_follows_the_seed() {
        use AccountOperation as Op;
        // Company admins can do everything.
        assert!(
            Op::ALL
                .iter()
                .all(|op| allows(CompanyRole::CompanyAdmin, *op))
        );
        // Only company admins and license admins can create users.
        let creators: Vec<CompanyRole> = CompanyRole::ALL
            .into_iter()
            .filter(|role| allows(*role, Op::AddUser))
            .collect();
        assert_eq!(
            creators,
            [CompanyRole::CompanyAdmin, CompanyRole::LicenseAdmin]
        );
        // License admins administer seats but not statuses, deletions or other roles.
        for op in [
            Op::EditUserStatus,
            Op::DeleteUser,
            Op::AssignCompanyAdmin,
            Op::AssignSupport,
            Op::LaunchTenant,
        ] {
            assert!(!allows(CompanyRole::LicenseAdmin, op), "{op}");
        }
        // A plain tenant user has very limited rights.
        let tenant_user: Vec<Op> = Op::ALL
            .into_iter()
            .filter(|op| allows(CompanyRole::TenantUser, *op))
            .collect();
        assert_eq!(
            tenant_user,
            [Op::LogInToAssignedTenant, Op::ManageOwnProfile]
        );
        assert!(any_allows(
            &[CompanyRole::TenantUser, CompanyRole::Support],
            Op::ViewSupportTickets
        ));
        assert!(!any_allows(&[], Op::ManageOwnProfile));
    }

    #[test]
    fn the_rendered_table_has_a_row_per_operation() {
        let table = matrix_markdown();
        assert_eq!(table.lines().count(), 2 + AccountOperation::ALL.len());
        assert!(table.contains("| Add user (`add_user`) | yes | yes | — | — |"));
        assert!(table.contains(
            "| Assign licenses (tenant seats) (`assign_licenses`) | yes | assigned tenants | — | — |"
        ));
    }
}
