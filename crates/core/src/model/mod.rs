//! The product model: the permissions, plan features, operations, plans and role presets of
//! the product Portcullis protects, read from a versioned JSON document (`policy/model.json`
//! ships as the default) instead of being compiled in.
//!
//! # The document
//! ```json
//! { "version": 1,
//!   "product": "Documents",
//!   "permissions": [ {"name": "edit_documents", "description": "..."} ],
//!   "features":    [ {"name": "version_history", "description": "..."} ],
//!   "operations":  [ {"name": "edit_document", "area": "documents", "description": "...",
//!                     "requires": ["edit_documents"], "feature": "version_history",
//!                     "automation_keys": false} ],
//!   "plans":       [ {"name": "starter", "seats": 3, "features": []} ],
//!   "presets":     [ {"name": "editor", "description": "...", "permissions": ["edit_documents"]} ],
//!   "automation_keys": {"managed_with": "edit_documents"} }
//! ```
//!
//! - **Permissions** are additive. Two are built in because the engine's own rules need them
//!   and every model has them: [`Permission::USER_AND_API_MANAGEMENT`] (lockout prevention,
//!   breakglass, inviting, token minting, the audit log) and
//!   [`Permission::MODIFY_TENANT_SETTINGS`] (name, plan, SSO). A model may list them to place
//!   and describe them in its catalogue; otherwise they come last. At most [`MAX_PERMISSIONS`]
//!   in all (a permission set is one 64-bit word).
//! - **Features** are what plans include. Three are built in: `automation_keys`, `audit_log`,
//!   `saml_sso`; a model adds its own (at most [`MAX_FEATURES`] in all).
//! - **Operations** are what the gateway's route policy names: each needs every permission in
//!   `requires` (none: open to every member), the plan feature in `feature` (if any), and only
//!   those with `"automation_keys": true` may be performed by an automation key.
//! - **Plans** are listed in upgrade order (seat limits never decrease); `seats` counts the
//!   owner and pending invitees.
//! - **Presets** are named bundles of permissions, shortcuts for granting (never stored).
//! - `automation_keys.managed_with` is the permission that creates, toggles and deletes
//!   automation keys (default: `user_and_api_management`).
//!
//! [`Model::from_json`] parses and validates a document once, reporting every problem at once
//! (see [`ModelProblemKind`] for the codes).
//!
//! # The model in force
//! Stored data and the wire carry names (`"build_applications"`, `"team"`); the engine computes
//! with indexes into one model. The model that names resolve against is *the model in force* on
//! the current thread: [`Model::enter`] puts one in force for a scope, [`install`] for the rest
//! of the thread (a worker isolate), and without either it is [`default_model`]. A deployment
//! has one model; tests and the wasm package switch between several.
//!
//! # Stored data against a changed model
//! Reading stored data ([`resolving_stored`]) never fails on a name the model in force lacks:
//! a permission it does not know is not granted, a plan it does not know reads as its first
//! (smallest) plan, and every such name is reported ([`Unresolved`]) so an operator can see
//! what no longer resolves before it is rewritten away.

mod check;
mod document;
mod problem;

pub use check::{CheckReport, check};
pub use problem::{ModelError, ModelProblem, ModelProblemKind};

use crate::authz::Operation;
use crate::permission::{Permission, PermissionSet, RolePreset};
use crate::plan::{Feature, FeatureSet, Plan};
use serde::Serialize;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::marker::PhantomData;
use std::rc::Rc;
use std::sync::{Arc, OnceLock};

/// The model format version this engine reads.
pub const MODEL_VERSION: u32 = 1;
/// The most permissions a model may have, the two built-in ones included.
pub const MAX_PERMISSIONS: usize = 64;
/// The most plan features a model may have, the three built-in ones included.
pub const MAX_FEATURES: usize = 64;
/// The most operations a model may have.
pub const MAX_OPERATIONS: usize = 1_000;
/// The most plans a model may have.
pub const MAX_PLANS: usize = 16;
/// The most role presets a model may have.
pub const MAX_PRESETS: usize = 64;
/// The largest seat limit a plan may have: an account holds at most this many users.
pub const MAX_SEATS: usize = crate::plan::MAX_USERS_PER_ACCOUNT;
/// The longest name of anything in a model.
pub const MAX_NAME_LEN: usize = 64;
/// The longest description of anything in a model.
pub const MAX_DESCRIPTION_LEN: usize = 200;

/// The default model's document, shipped as `policy/model.json`.
pub const DEFAULT_MODEL_JSON: &str = include_str!("../../../../policy/model.json");

/// A permission of the model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PermissionDef {
    /// Its wire name.
    pub name: Box<str>,
    /// What it allows.
    pub description: Box<str>,
    /// Whether the engine's own rules use it.
    pub built_in: bool,
}

/// A plan feature of the model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FeatureDef {
    /// Its wire name.
    pub name: Box<str>,
    /// What it is.
    pub description: Box<str>,
    /// Whether the engine's own rules use it.
    pub built_in: bool,
}

/// An operation of the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperationDef {
    /// Its wire name.
    pub name: Box<str>,
    /// The area of the product it touches.
    pub area: Box<str>,
    /// What it does.
    pub description: Box<str>,
    /// Every permission it needs (none: open to every member).
    pub requires: PermissionSet,
    /// The plan feature it needs, if any.
    pub feature: Option<Feature>,
    /// Whether an automation key may perform it.
    pub automation_keys: bool,
    /// The first permission of `requires` in catalogue order (what a grant names).
    pub(crate) primary: Option<Permission>,
}

/// A plan of the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanDef {
    /// Its wire name.
    pub name: Box<str>,
    /// What it offers.
    pub description: Box<str>,
    /// The most members a tenant on it may have, the owner and pending invitees included.
    pub seats: usize,
    /// The features it includes.
    pub features: FeatureSet,
}

/// A role preset of the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresetDef {
    /// Its wire name.
    pub name: Box<str>,
    /// Who it is for.
    pub description: Box<str>,
    /// The permissions it stands for.
    pub permissions: PermissionSet,
}

/// A validated product model. Build one with [`Model::from_json`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Model {
    product: Box<str>,
    /// By bit: the built-in permissions first.
    permissions: Vec<PermissionDef>,
    /// Catalogue (display and wire) order.
    catalogue: Vec<Permission>,
    /// By bit: the built-in features first.
    features: Vec<FeatureDef>,
    operations: Vec<OperationDef>,
    operation_index: BTreeMap<Box<str>, Operation>,
    plans: Vec<PlanDef>,
    presets: Vec<PresetDef>,
    automation_managed_with: Permission,
    automation_permissions: PermissionSet,
    all: PermissionSet,
}

impl Model {
    /// Parses and validates a model document, reporting every problem at once.
    pub fn from_json(text: &str) -> Result<Self, ModelError> {
        document::parse(text)
    }

    /// The product's display name.
    pub fn product(&self) -> &str {
        &self.product
    }

    /// The permissions, in catalogue order.
    pub fn permissions(&self) -> impl Iterator<Item = (Permission, &PermissionDef)> + '_ {
        self.catalogue
            .iter()
            .filter_map(|permission| Some((*permission, self.permission_def(*permission)?)))
    }

    /// The permissions in catalogue order, as a slice.
    pub fn catalogue(&self) -> &[Permission] {
        &self.catalogue
    }

    /// A permission's definition.
    pub fn permission_def(&self, permission: Permission) -> Option<&PermissionDef> {
        self.permissions.get(usize::from(permission.index()))
    }

    /// The permission named `name`.
    pub fn permission(&self, name: &str) -> Option<Permission> {
        self.permissions
            .iter()
            .position(|def| &*def.name == name)
            .and_then(|index| u8::try_from(index).ok())
            .map(Permission::from_index)
    }

    /// Every permission of the model.
    pub fn all_permissions(&self) -> PermissionSet {
        self.all
    }

    /// The features, built-in first.
    pub fn features(&self) -> impl Iterator<Item = (Feature, &FeatureDef)> + '_ {
        self.features
            .iter()
            .enumerate()
            .filter_map(|(index, def)| Some((Feature::from_index(u8::try_from(index).ok()?), def)))
    }

    /// A feature's definition.
    pub fn feature_def(&self, feature: Feature) -> Option<&FeatureDef> {
        self.features.get(usize::from(feature.index()))
    }

    /// The feature named `name`.
    pub fn feature(&self, name: &str) -> Option<Feature> {
        self.features
            .iter()
            .position(|def| &*def.name == name)
            .and_then(|index| u8::try_from(index).ok())
            .map(Feature::from_index)
    }

    /// The operations, in document order.
    pub fn operations(&self) -> impl Iterator<Item = (Operation, &OperationDef)> + '_ {
        self.operations
            .iter()
            .enumerate()
            .filter_map(|(index, def)| {
                Some((Operation::from_index(u16::try_from(index).ok()?), def))
            })
    }

    /// An operation's definition.
    pub fn operation_def(&self, operation: Operation) -> Option<&OperationDef> {
        self.operations.get(usize::from(operation.index()))
    }

    /// The operation named `name`.
    pub fn operation(&self, name: &str) -> Option<Operation> {
        self.operation_index.get(name).copied()
    }

    /// The plans, in upgrade order.
    pub fn plans(&self) -> impl Iterator<Item = (Plan, &PlanDef)> + '_ {
        self.plans
            .iter()
            .enumerate()
            .filter_map(|(index, def)| Some((Plan::from_index(u8::try_from(index).ok()?), def)))
    }

    /// A plan's definition.
    pub fn plan_def(&self, plan: Plan) -> Option<&PlanDef> {
        self.plans.get(usize::from(plan.index()))
    }

    /// The plan named `name`.
    pub fn plan(&self, name: &str) -> Option<Plan> {
        self.plans
            .iter()
            .position(|def| &*def.name == name)
            .and_then(|index| u8::try_from(index).ok())
            .map(Plan::from_index)
    }

    /// The most members a tenant on `plan` may have (0 for a plan the model lacks).
    pub fn seats(&self, plan: Plan) -> usize {
        self.plan_def(plan).map_or(0, |def| def.seats)
    }

    /// Whether `plan` includes `feature`.
    pub fn includes(&self, plan: Plan, feature: Feature) -> bool {
        self.plan_def(plan)
            .is_some_and(|def| def.features.contains(feature))
    }

    /// The role presets, in document order.
    pub fn presets(&self) -> impl Iterator<Item = (RolePreset, &PresetDef)> + '_ {
        self.presets.iter().enumerate().filter_map(|(index, def)| {
            Some((RolePreset::from_index(u8::try_from(index).ok()?), def))
        })
    }

    /// A preset's definition.
    pub fn preset_def(&self, preset: RolePreset) -> Option<&PresetDef> {
        self.presets.get(usize::from(preset.index()))
    }

    /// The preset named `name`.
    pub fn preset(&self, name: &str) -> Option<RolePreset> {
        self.presets
            .iter()
            .position(|def| &*def.name == name)
            .and_then(|index| u8::try_from(index).ok())
            .map(RolePreset::from_index)
    }

    /// The permission that creates, toggles and deletes automation keys.
    pub fn automation_managed_with(&self) -> Permission {
        self.automation_managed_with
    }

    /// What an automation key carries: every permission an operation open to automation keys
    /// needs.
    pub fn automation_permissions(&self) -> PermissionSet {
        self.automation_permissions
    }

    /// The model as a document (built-in permissions and features made explicit), as
    /// `GET /v1/model` serves it. [`Model::from_json`] reads it back to an equal model.
    pub fn to_document(&self) -> serde_json::Value {
        document::to_document(self)
    }

    /// Puts this model in force on this thread until the returned guard drops.
    pub fn enter(self: &Arc<Self>) -> ModelScope {
        let previous = CURRENT.with_borrow_mut(|current| current.replace(Arc::clone(self)));
        ModelScope {
            previous,
            _not_send: PhantomData,
        }
    }
}

/// The default model, parsed once from [`DEFAULT_MODEL_JSON`].
pub fn default_model() -> &'static Arc<Model> {
    static DEFAULT: OnceLock<Arc<Model>> = OnceLock::new();
    DEFAULT.get_or_init(|| match Model::from_json(DEFAULT_MODEL_JSON) {
        Ok(model) => Arc::new(model),
        #[expect(
            clippy::panic,
            reason = "the shipped document is a constant, validated by the test `the_default_model_is_valid`"
        )]
        Err(error) => panic!("the shipped default model is invalid: {error}"),
    })
}

thread_local! {
    static CURRENT: RefCell<Option<Arc<Model>>> = const { RefCell::new(None) };
    static STORED: RefCell<Option<Vec<Unresolved>>> = const { RefCell::new(None) };
}

/// Runs `f` with the model in force on this thread.
pub fn with_model<R>(f: impl FnOnce(&Model) -> R) -> R {
    CURRENT.with_borrow(|current| match current {
        Some(model) => f(model),
        None => f(default_model()),
    })
}

/// The model in force on this thread.
pub fn current() -> Arc<Model> {
    CURRENT.with_borrow(|current| match current {
        Some(model) => Arc::clone(model),
        None => Arc::clone(default_model()),
    })
}

/// Puts `model` in force on this thread from now on (for a runtime that has one model, such
/// as a worker isolate).
pub fn install(model: Arc<Model>) {
    CURRENT.with_borrow_mut(|current| *current = Some(model));
}

/// Keeps a model in force; restores the one before when dropped. Not `Send`: the model in
/// force is per thread.
#[derive(Debug)]
#[must_use = "the model is in force only while the scope lives"]
pub struct ModelScope {
    previous: Option<Arc<Model>>,
    _not_send: PhantomData<Rc<()>>,
}

impl Drop for ModelScope {
    fn drop(&mut self) {
        let previous = self.previous.take();
        CURRENT.with_borrow_mut(|current| *current = previous);
    }
}

/// What kind of name failed to resolve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NameKind {
    /// A permission (in a grant or a token scope).
    Permission,
    /// A plan (of a tenant).
    Plan,
    /// A plan feature.
    Feature,
    /// An operation.
    Operation,
    /// A role preset.
    Preset,
}

/// A name in stored data that the model in force does not have.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Unresolved {
    /// What it names.
    pub kind: NameKind,
    /// The name as stored.
    pub name: String,
}

/// Runs `f` (which reads stored data) so that names the model in force lacks are tolerated
/// (see the module documentation) and returned, each once, in order.
pub fn resolving_stored<R>(f: impl FnOnce() -> R) -> (R, Vec<Unresolved>) {
    let outer = STORED.with_borrow_mut(|stored| stored.replace(Vec::new()));
    let result = f();
    let mut found = STORED
        .with_borrow_mut(|stored| std::mem::replace(stored, outer))
        .unwrap_or_default();
    found.sort();
    found.dedup();
    // A collector outside this one hears of them too.
    STORED.with_borrow_mut(|stored| {
        if let Some(outer) = stored {
            outer.extend(found.iter().cloned());
        }
    });
    (result, found)
}

/// Records `name` as unresolved when stored data is being read; `false` when it is input
/// (which must then be refused).
pub(crate) fn tolerate(kind: NameKind, name: &str) -> bool {
    STORED.with_borrow_mut(|stored| match stored {
        Some(found) => {
            found.push(Unresolved {
                kind,
                name: crate::ids::excerpt(name),
            });
            true
        }
        None => false,
    })
}

#[cfg(test)]
mod tests;

/// Looking names up in the model in force, for tests (a name the model lacks panics).
#[cfg(test)]
pub(crate) mod testing {
    use super::with_model;
    use crate::authz::Operation;
    use crate::permission::{Permission, RolePreset};
    use crate::plan::Plan;

    pub(crate) fn plan_named(name: &str) -> Plan {
        with_model(|model| model.plan(name)).unwrap_or_else(|| panic!("no plan `{name}`"))
    }

    pub(crate) fn perm(name: &str) -> Permission {
        with_model(|model| model.permission(name))
            .unwrap_or_else(|| panic!("no permission `{name}`"))
    }

    pub(crate) fn op_named(name: &str) -> Operation {
        with_model(|model| model.operation(name)).unwrap_or_else(|| panic!("no operation `{name}`"))
    }

    pub(crate) fn preset(name: &str) -> RolePreset {
        with_model(|model| model.preset(name)).unwrap_or_else(|| panic!("no preset `{name}`"))
    }
}
