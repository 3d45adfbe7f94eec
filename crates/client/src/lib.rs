//! A typed client for the Portcullis Management API, written once and shared by the Terraform
//! provider and the `portcullis` command-line client.
//!
//! [`Client::connect`] reads the product model the worker serves (`GET /v1/model`) before
//! anything else; every request is then encoded and every answer decoded with that model in
//! force, so permission and plan names are the worker's. Each operation is one method that
//! names its route once; ids are path segments, percent-encoded in the one place URLs are
//! built. Failures are [`ApiError`] values: no answer, a problem document (status, stable
//! code, detail), or an answer that is not what the API documents.
//!
//! The views, ids and permission sets are the core's (`portcullis_core::query`,
//! `portcullis_core::ids`, [`PermissionSet`](portcullis_core::PermissionSet)); this crate adds
//! the request bodies and the answers the core has no type for.

#![warn(missing_docs)]

mod error;
mod operations;
pub mod time;
mod transport;
mod types;

pub use error::{ApiError, NotFound};
pub use transport::Client;
pub use types::{
    ApiTokenCreated, ApiTokenRolled, AuditChain, AuditPage, AutomationKeyCreated,
    AutomationKeyRolled, AutomationKeyToggled, Invitation, InvitationResent, Invite, MemberAdded,
    NewApiToken, NewAutomationKey, NewUser, Secret, SignedUp, SsoConnection, SsoProtocol,
    StatusChanged, TenantChanges, UserCreated, UserSearch,
};

#[cfg(test)]
mod tests;
