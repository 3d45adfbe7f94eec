//! Portcullis core: the domain engine of an edge authorization service for multi-tenant SaaS.
//!
//! Everything that decides anything lives here: accounts, users and their status lifecycle,
//! tenants on plans, additive permissions (declared, with the plans, operations and presets, by
//! the product model: [`model`]), API tokens and automation keys (format,
//! hashing, verification), the operation catalogue with its authorization decisions, and the
//! hash-chained audit log. The crate performs no I/O: time and randomness are injected, and
//! storage is something the runtime adapters (wasm package, edge worker, Terraform provider)
//! provide around it. It builds natively and for `wasm32-unknown-unknown`.
//!
//! The entry point is [`Account`]: [`Account::sign_up`] creates one, [`Account::apply`] runs a
//! [`Command`] on behalf of an [`Actor`], and [`credential::verify`] checks a presented credential
//! against its stored [`CredentialRecord`](credential::CredentialRecord) with one lookup.
//! People sign in with [`Account::sign_in_password`] and act through a session
//! ([`Actor::via_session`]); [`session::verify_session`] checks one at the edge over two records
//! (see [`session`] and [`password`]). Accounts connect identity providers and people sign in
//! through them with OpenID Connect (see [`sso`]).
#![warn(missing_docs)]

pub mod account;
pub mod audit;

pub mod authz;
pub mod browser;
pub mod bulk;
pub mod command;
pub mod company;
pub mod credential;
pub mod desired;
pub mod directory;
pub mod gateway;
pub mod ids;
pub mod listing;
pub mod model;
pub mod notification;
pub mod password;
pub mod permission;
pub mod plan;
pub mod query;
pub mod random;
pub mod secret;
pub mod session;
pub mod sso;
pub mod store;
pub mod tenant;
pub mod terms;
pub mod time;
pub mod user;

pub use account::{Account, Actor, Outcome, Refusal, SignUp};
pub use authz::{Decision, Operation, Principal, authorize};
pub use command::Command;
pub use credential::{Verification, verify};
pub use ids::{AccountId, Email, KeyId, NotificationId, TenantId, UserId};
pub use model::Model;
pub use permission::{Permission, PermissionSet, RolePreset};
pub use plan::Plan;
pub use random::RandomSource;
pub use secret::HashingKey;
pub use session::{SessionId, SessionVerification, verify_session};
pub use time::Timestamp;
