//! Conversions between Terraform values (known, null or unknown) and the engine's types.

use portcullis_client::time::format_rfc3339;
pub use portcullis_client::time::parse_rfc3339;
use portcullis_core::model::Model;
use portcullis_core::{PermissionSet, Timestamp};
use std::collections::BTreeSet;
use tf_provider::value::{Value, ValueSet};

/// A set of strings whose elements may each be unknown during plan.
pub type StringSet = ValueSet<Value<String>>;

/// The string, when known and not null.
pub fn known(value: &Value<String>) -> Option<&str> {
    value.as_ref_option().map(String::as_str)
}

/// Gives an attribute left out of the configuration (null) its planned value, e.g. a default
/// or unknown for one the provider fills in at apply.
pub fn default_if_null<T>(value: &mut Value<T>, default: Value<T>) {
    if value.is_null() {
        *value = default;
    }
}

/// A value only create learns (a secret the API shows once), when it was never learnt (after
/// import): null rather than unknown once the object has been read.
pub fn null_if_unknown<T>(value: &mut Value<T>) {
    if value.is_unknown() {
        *value = Value::Null;
    }
}

/// The elements of a set of strings: `None` while the set or any element is unknown; a null
/// set is empty.
pub fn set_elements(set: &StringSet) -> Option<Vec<String>> {
    match set {
        Value::Unknown => None,
        Value::Null => Some(Vec::new()),
        Value::Value(items) => items
            .iter()
            .map(|item| item.as_ref_option().cloned())
            .collect(),
    }
}

/// A known set of strings.
pub fn set_of<I, S>(items: I) -> StringSet
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    Value::Value(
        items
            .into_iter()
            .map(|item| Value::Value(item.into()))
            .collect::<BTreeSet<_>>(),
    )
}

/// A permission set as a Terraform set of `model`'s names.
pub fn permission_set(model: &Model, permissions: PermissionSet) -> StringSet {
    set_of(permissions.names_in(model))
}

/// A permission set as `model`'s names, in its catalogue order.
pub fn permission_names(model: &Model, permissions: PermissionSet) -> Vec<String> {
    permissions
        .names_in(model)
        .into_iter()
        .map(str::to_owned)
        .collect()
}

/// The permissions `names` name in `model`; `None` if any is not one of its permissions.
pub fn parse_permissions(model: &Model, names: &[String]) -> Option<PermissionSet> {
    names.iter().map(|name| model.permission(name)).collect()
}

/// The permissions of `model`'s role preset `name`, if it has one by that name.
pub fn preset_permissions(model: &Model, name: &str) -> Option<PermissionSet> {
    let preset = model.preset(name)?;
    model.preset_def(preset).map(|def| def.permissions)
}

/// RFC 3339 text for a timestamp (`2026-11-27T12:00:00Z`).
pub fn rfc3339(timestamp: Timestamp) -> Value<String> {
    format_rfc3339(timestamp).map_or(Value::Null, Value::Value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use portcullis_core::model::default_model;

    #[test]
    fn unknown_elements_make_the_whole_set_unknown() {
        let mut items = BTreeSet::new();
        items.insert(Value::Value("build_applications".to_owned()));
        items.insert(Value::Unknown);
        assert_eq!(set_elements(&Value::Value(items)), None);
        assert_eq!(set_elements(&Value::Unknown), None);
        assert_eq!(set_elements(&Value::Null), Some(vec![]));
        assert_eq!(
            set_elements(&set_of(["b", "a"])),
            Some(vec!["a".to_owned(), "b".to_owned()])
        );
    }

    #[test]
    fn times_round_trip_through_rfc3339() {
        let timestamp = parse_rfc3339("2027-01-31T10:20:30Z").unwrap();
        assert_eq!(timestamp.unix_seconds(), 1_801_390_830);
        assert_eq!(
            rfc3339(timestamp),
            Value::Value("2027-01-31T10:20:30Z".to_owned())
        );
        let offset = parse_rfc3339("2027-01-31T12:20:30+02:00").unwrap();
        assert_eq!(offset, timestamp);
        assert!(parse_rfc3339("tomorrow").unwrap_err().contains("RFC 3339"));
        assert!(parse_rfc3339("1969-12-31T23:59:59Z").is_err());
    }

    #[test]
    fn names_convert_with_the_model_given() {
        let default = default_model();
        let documents = crate::test_models::documents();
        let set = parse_permissions(default, &["build_applications".to_owned()]).unwrap();
        assert_eq!(permission_names(default, set), ["build_applications"]);
        assert_eq!(
            parse_permissions(&documents, &["build_applications".to_owned()]),
            None
        );
        let edit = parse_permissions(&documents, &["edit_documents".to_owned()]).unwrap();
        assert_eq!(permission_set(&documents, edit), set_of(["edit_documents"]));
        assert_eq!(
            parse_permissions(&documents, &[]),
            Some(PermissionSet::EMPTY)
        );
        assert_eq!(
            preset_permissions(&documents, "editor").map(|set| permission_names(&documents, set)),
            Some(vec![
                "edit_documents".to_owned(),
                "publish_documents".to_owned()
            ])
        );
        assert_eq!(preset_permissions(&documents, "release_engineer"), None);
    }
}
