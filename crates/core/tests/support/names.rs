//! Names looked up in the model in force, for tests (a name it lacks panics).
#![allow(dead_code, reason = "each test crate uses some of the helpers")]

use portcullis_core::{Operation, Permission, Plan, RolePreset};

pub(crate) fn plan_named(name: &str) -> Plan {
    Plan::named(name).unwrap()
}

pub(crate) fn perm(name: &str) -> Permission {
    Permission::named(name).unwrap()
}

pub(crate) fn op_named(name: &str) -> Operation {
    name.parse().unwrap()
}

pub(crate) fn preset(name: &str) -> RolePreset {
    name.parse().unwrap()
}
