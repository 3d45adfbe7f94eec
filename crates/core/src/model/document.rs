//! The model document: its raw shape, its validation (every problem at once) and its
//! rendering back to a document.

use super::{
    FeatureDef, MAX_DESCRIPTION_LEN, MAX_FEATURES, MAX_NAME_LEN, MAX_OPERATIONS, MAX_PERMISSIONS,
    MAX_PLANS, MAX_PRESETS, MAX_SEATS, MODEL_VERSION, Model, ModelError, ModelProblem,
    ModelProblemKind, OperationDef, PermissionDef, PlanDef, PresetDef,
};
use crate::authz::Operation;
use crate::ids::excerpt;
use crate::permission::{Permission, PermissionSet};
use crate::plan::{Feature, FeatureSet};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawModel {
    version: u32,
    #[serde(default)]
    product: String,
    permissions: Vec<RawDescribed>,
    #[serde(default)]
    features: Vec<RawDescribed>,
    operations: Vec<RawOperation>,
    plans: Vec<RawPlan>,
    #[serde(default)]
    presets: Vec<RawPreset>,
    #[serde(default)]
    automation_keys: Option<RawAutomation>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDescribed {
    name: String,
    #[serde(default)]
    description: String,
    /// Accepted so a served model reads back; the engine decides what is built in.
    #[serde(default)]
    #[expect(dead_code, reason = "informational in served documents")]
    built_in: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOperation {
    name: String,
    #[serde(default)]
    area: Option<String>,
    #[serde(default)]
    description: String,
    #[serde(default)]
    requires: Vec<String>,
    #[serde(default)]
    feature: Option<String>,
    #[serde(default)]
    automation_keys: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPlan {
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    seats: Option<u64>,
    #[serde(default)]
    features: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPreset {
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    permissions: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAutomation {
    managed_with: String,
}

/// The built-in permissions, by bit.
const BUILT_IN_PERMISSIONS: [(&str, &str); 2] = [
    (
        "user_and_api_management",
        "invite, remove and re-permission members, manage API tokens, read the audit log",
    ),
    (
        "modify_tenant_settings",
        "change tenant name, plan and SAML SSO settings",
    ),
];

/// The built-in features, by bit.
const BUILT_IN_FEATURES: [(&str, &str); 3] = [
    ("automation_keys", "build-only automation keys"),
    ("audit_log", "reading the audit log"),
    ("saml_sso", "enforcing SAML single sign-on"),
];

struct Problems(Vec<ModelProblem>);

impl Problems {
    fn push(&mut self, path: impl Into<String>, kind: ModelProblemKind) {
        self.0.push(ModelProblem {
            path: path.into(),
            kind,
        });
    }

    /// Checks a name and a description, and that the name is new in `seen`.
    fn entry(&mut self, path: &str, name: &str, description: &str, seen: &mut BTreeSet<String>) {
        if !valid_name(name) {
            self.push(
                format!("{path}/name"),
                ModelProblemKind::InvalidName(excerpt(name)),
            );
        } else if !seen.insert(name.to_owned()) {
            self.push(
                format!("{path}/name"),
                ModelProblemKind::DuplicateName(excerpt(name)),
            );
        }
        self.description(path, description);
    }

    fn description(&mut self, path: &str, description: &str) {
        if description.chars().count() > MAX_DESCRIPTION_LEN {
            self.push(
                format!("{path}/description"),
                ModelProblemKind::DescriptionTooLong,
            );
        }
    }

    fn too_many(&mut self, path: &str, what: &'static str, count: usize, limit: usize) {
        if count > limit {
            self.push(path, ModelProblemKind::TooMany { what, limit });
        }
    }
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() <= MAX_NAME_LEN
        && chars.next().is_some_and(|first| first.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn text(value: &str) -> Box<str> {
    value.into()
}

pub(super) fn parse(source: &str) -> Result<Model, ModelError> {
    let raw: RawModel = serde_json::from_str(source).map_err(|error| ModelError {
        problems: vec![ModelProblem {
            path: String::new(),
            kind: ModelProblemKind::Syntax(excerpt(&error.to_string())),
        }],
    })?;
    let mut problems = Problems(Vec::new());
    if raw.version != MODEL_VERSION {
        problems.push(
            "/version",
            ModelProblemKind::UnsupportedVersion(raw.version),
        );
    }
    problems.description("", &raw.product);

    // Permissions: the built-in ones take the first bits; the catalogue keeps document order.
    let mut permissions: Vec<PermissionDef> = BUILT_IN_PERMISSIONS
        .iter()
        .map(|(name, description)| PermissionDef {
            name: text(name),
            description: text(description),
            built_in: true,
        })
        .collect();
    let mut catalogue = Vec::new();
    let mut seen = BTreeSet::new();
    for (index, raw_permission) in raw.permissions.iter().enumerate() {
        let path = format!("/permissions/{index}");
        problems.entry(
            &path,
            &raw_permission.name,
            &raw_permission.description,
            &mut seen,
        );
        if let Some(bit) = BUILT_IN_PERMISSIONS
            .iter()
            .position(|(name, _)| *name == raw_permission.name)
        {
            if let Some(def) = permissions.get_mut(bit)
                && !raw_permission.description.is_empty()
            {
                def.description = text(&raw_permission.description);
            }
            if let Ok(bit) = u8::try_from(bit)
                && !catalogue.contains(&Permission::from_index(bit))
            {
                catalogue.push(Permission::from_index(bit));
            }
            continue;
        }
        if let Ok(bit) = u8::try_from(permissions.len())
            && permissions.len() < MAX_PERMISSIONS
        {
            catalogue.push(Permission::from_index(bit));
        }
        permissions.push(PermissionDef {
            name: text(&raw_permission.name),
            description: text(&raw_permission.description),
            built_in: false,
        });
    }
    problems.too_many(
        "/permissions",
        "permissions (the two built-in ones included)",
        permissions.len(),
        MAX_PERMISSIONS,
    );
    permissions.truncate(MAX_PERMISSIONS);
    for bit in 0..BUILT_IN_PERMISSIONS.len() {
        if let Ok(bit) = u8::try_from(bit)
            && !catalogue.contains(&Permission::from_index(bit))
        {
            catalogue.push(Permission::from_index(bit));
        }
    }
    let permission = |name: &str| {
        permissions
            .iter()
            .position(|def| &*def.name == name)
            .and_then(|bit| u8::try_from(bit).ok())
            .map(Permission::from_index)
    };
    let permission_set = |path: &str, names: &[String], problems: &mut Problems| {
        let mut set = PermissionSet::EMPTY;
        for (index, name) in names.iter().enumerate() {
            match permission(name) {
                Some(found) => set = set.with(found),
                None => problems.push(
                    format!("{path}/{index}"),
                    ModelProblemKind::UnknownPermission(excerpt(name)),
                ),
            }
        }
        set
    };

    // Features: the built-in ones first.
    let mut features: Vec<FeatureDef> = BUILT_IN_FEATURES
        .iter()
        .map(|(name, description)| FeatureDef {
            name: text(name),
            description: text(description),
            built_in: true,
        })
        .collect();
    let mut seen = BTreeSet::new();
    for (index, raw_feature) in raw.features.iter().enumerate() {
        let path = format!("/features/{index}");
        problems.entry(
            &path,
            &raw_feature.name,
            &raw_feature.description,
            &mut seen,
        );
        if let Some(def) = features
            .iter_mut()
            .find(|def| def.built_in && *def.name == *raw_feature.name)
        {
            // Listing a built-in feature describes it.
            if !raw_feature.description.is_empty() {
                def.description = text(&raw_feature.description);
            }
            continue;
        }
        features.push(FeatureDef {
            name: text(&raw_feature.name),
            description: text(&raw_feature.description),
            built_in: false,
        });
    }
    problems.too_many(
        "/features",
        "features (the three built-in ones included)",
        features.len(),
        MAX_FEATURES,
    );
    features.truncate(MAX_FEATURES);
    let feature = |name: &str| {
        features
            .iter()
            .position(|def| &*def.name == name)
            .and_then(|bit| u8::try_from(bit).ok())
            .map(Feature::from_index)
    };

    // Plans, in upgrade order.
    if raw.plans.is_empty() {
        problems.push("/plans", ModelProblemKind::NoPlans);
    }
    problems.too_many("/plans", "plans", raw.plans.len(), MAX_PLANS);
    let mut plans: Vec<PlanDef> = Vec::new();
    let mut seen = BTreeSet::new();
    for (index, raw_plan) in raw.plans.iter().enumerate().take(MAX_PLANS) {
        let path = format!("/plans/{index}");
        problems.entry(&path, &raw_plan.name, &raw_plan.description, &mut seen);
        let seats = match raw_plan.seats {
            None => {
                problems.push(path.clone(), ModelProblemKind::MissingSeatLimit);
                0
            }
            Some(seats) => match usize::try_from(seats) {
                Ok(seats) if (1..=MAX_SEATS).contains(&seats) => seats,
                _ => {
                    problems.push(
                        format!("{path}/seats"),
                        ModelProblemKind::InvalidSeatLimit(seats),
                    );
                    0
                }
            },
        };
        if let Some(previous) = plans.last()
            && seats != 0
            && seats < previous.seats
        {
            problems.push(
                format!("{path}/seats"),
                ModelProblemKind::PlansOutOfOrder {
                    plan: excerpt(&raw_plan.name),
                    previous: previous.name.to_string(),
                },
            );
        }
        let mut included = FeatureSet::EMPTY;
        for (feature_index, name) in raw_plan.features.iter().enumerate() {
            match feature(name) {
                Some(found) => included = included.with(found),
                None => problems.push(
                    format!("{path}/features/{feature_index}"),
                    ModelProblemKind::UnknownFeature(excerpt(name)),
                ),
            }
        }
        plans.push(PlanDef {
            name: text(&raw_plan.name),
            description: text(&raw_plan.description),
            seats,
            features: included,
        });
    }
    let offered = plans
        .iter()
        .fold(FeatureSet::EMPTY, |all, plan| all.union(plan.features));

    // Operations.
    if raw.operations.is_empty() {
        problems.push("/operations", ModelProblemKind::NoOperations);
    }
    problems.too_many(
        "/operations",
        "operations",
        raw.operations.len(),
        MAX_OPERATIONS,
    );
    let mut operations = Vec::new();
    let mut operation_index = BTreeMap::new();
    let mut seen = BTreeSet::new();
    for (index, raw_operation) in raw.operations.iter().enumerate().take(MAX_OPERATIONS) {
        let path = format!("/operations/{index}");
        problems.entry(
            &path,
            &raw_operation.name,
            &raw_operation.description,
            &mut seen,
        );
        let area = raw_operation.area.clone().unwrap_or_default();
        if raw_operation.area.is_some() && !valid_name(&area) {
            problems.push(
                format!("{path}/area"),
                ModelProblemKind::InvalidName(excerpt(&area)),
            );
        }
        let requires = permission_set(
            &format!("{path}/requires"),
            &raw_operation.requires,
            &mut problems,
        );
        let needed = match &raw_operation.feature {
            None => None,
            Some(name) => match feature(name) {
                Some(found) => {
                    if !offered.contains(found) {
                        problems.push(
                            format!("{path}/feature"),
                            ModelProblemKind::UnreachableOperation {
                                operation: excerpt(&raw_operation.name),
                                feature: excerpt(name),
                            },
                        );
                    }
                    Some(found)
                }
                None => {
                    problems.push(
                        format!("{path}/feature"),
                        ModelProblemKind::UnknownFeature(excerpt(name)),
                    );
                    None
                }
            },
        };
        if raw_operation.automation_keys && !offered.contains(Feature::AUTOMATION_KEYS) {
            problems.push(
                format!("{path}/automation_keys"),
                ModelProblemKind::UnreachableForAutomationKeys(excerpt(&raw_operation.name)),
            );
        }
        if let Ok(position) = u16::try_from(index) {
            operation_index.insert(text(&raw_operation.name), Operation::from_index(position));
        }
        operations.push(OperationDef {
            name: text(&raw_operation.name),
            area: text(&area),
            description: text(&raw_operation.description),
            requires,
            feature: needed,
            automation_keys: raw_operation.automation_keys,
            primary: None,
        });
    }

    // Presets.
    problems.too_many("/presets", "presets", raw.presets.len(), MAX_PRESETS);
    let mut presets = Vec::new();
    let mut seen = BTreeSet::new();
    for (index, raw_preset) in raw.presets.iter().enumerate().take(MAX_PRESETS) {
        let path = format!("/presets/{index}");
        problems.entry(&path, &raw_preset.name, &raw_preset.description, &mut seen);
        let set = permission_set(
            &format!("{path}/permissions"),
            &raw_preset.permissions,
            &mut problems,
        );
        presets.push(PresetDef {
            name: text(&raw_preset.name),
            description: text(&raw_preset.description),
            permissions: set,
        });
    }

    let automation_managed_with = match &raw.automation_keys {
        None => Permission::USER_AND_API_MANAGEMENT,
        Some(automation) => match permission(&automation.managed_with) {
            Some(found) => found,
            None => {
                problems.push(
                    "/automation_keys/managed_with",
                    ModelProblemKind::UnknownPermission(excerpt(&automation.managed_with)),
                );
                Permission::USER_AND_API_MANAGEMENT
            }
        },
    };

    if !problems.0.is_empty() {
        return Err(ModelError {
            problems: problems.0,
        });
    }
    for operation in &mut operations {
        operation.primary = catalogue
            .iter()
            .copied()
            .find(|permission| operation.requires.contains(*permission));
    }
    let all = catalogue.iter().copied().collect::<PermissionSet>();
    let automation_permissions = operations
        .iter()
        .filter(|operation| operation.automation_keys)
        .fold(PermissionSet::EMPTY, |set, operation| {
            set.union(operation.requires)
        });
    Ok(Model {
        product: text(&raw.product),
        permissions,
        catalogue,
        features,
        operations,
        operation_index,
        plans,
        presets,
        automation_managed_with,
        automation_permissions,
        all,
    })
}

pub(super) fn to_document(model: &Model) -> Value {
    let names = |set: PermissionSet| -> Vec<&str> {
        model
            .permissions()
            .filter(|(permission, _)| set.contains(*permission))
            .map(|(_, def)| &*def.name)
            .collect()
    };
    let feature_name = |feature: Feature| model.feature_def(feature).map(|def| &*def.name);
    json!({
        "version": MODEL_VERSION,
        "product": model.product(),
        "permissions": model.permissions().map(|(_, def)| def).collect::<Vec<_>>(),
        "features": model.features().map(|(_, def)| def).collect::<Vec<_>>(),
        "operations": model.operations().map(|(_, def)| json!({
            "name": def.name,
            "area": def.area,
            "description": def.description,
            "requires": names(def.requires),
            "feature": def.feature.and_then(feature_name),
            "automation_keys": def.automation_keys,
        })).collect::<Vec<_>>(),
        "plans": model.plans().map(|(_, def)| json!({
            "name": def.name,
            "description": def.description,
            "seats": def.seats,
            "features": model.features()
                .filter(|(feature, _)| def.features.contains(*feature))
                .map(|(_, feature)| &*feature.name)
                .collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "presets": model.presets().map(|(_, def)| json!({
            "name": def.name,
            "description": def.description,
            "permissions": names(def.permissions),
        })).collect::<Vec<_>>(),
        "automation_keys": {
            "managed_with": model
                .permission_def(model.automation_managed_with())
                .map(|def| &*def.name),
        },
    })
}
