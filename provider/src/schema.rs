//! Small builders for schemas, so each resource's schema reads as a table of its attributes.

use std::collections::HashMap;
use tf_provider::schema::{
    Attribute, AttributeConstraint, AttributeType, Block, Description, NestedBlock, Schema,
};

/// How a practitioner may set an attribute.
#[derive(Clone, Copy, Debug)]
pub enum Mode {
    /// Must be set.
    Required,
    /// May be set; null otherwise.
    Optional,
    /// May be set; the provider fills it in otherwise.
    OptionalComputed,
    /// Set by the provider only.
    Computed,
}

/// One attribute.
pub fn attribute(attr_type: AttributeType, mode: Mode, description: &str) -> Attribute {
    Attribute {
        attr_type,
        description: Description::markdown(description),
        constraint: match mode {
            Mode::Required => AttributeConstraint::Required,
            Mode::Optional => AttributeConstraint::Optional,
            Mode::OptionalComputed => AttributeConstraint::OptionalComputed,
            Mode::Computed => AttributeConstraint::Computed,
        },
        sensitive: false,
        deprecated: false,
    }
}

/// A string attribute.
pub fn string(mode: Mode, description: &str) -> Attribute {
    attribute(AttributeType::String, mode, description)
}

/// A boolean attribute.
pub fn boolean(mode: Mode, description: &str) -> Attribute {
    attribute(AttributeType::Bool, mode, description)
}

/// A set of strings.
pub fn string_set(mode: Mode, description: &str) -> Attribute {
    attribute(
        AttributeType::Set(Box::new(AttributeType::String)),
        mode,
        description,
    )
}

/// A list of strings (order kept).
pub fn string_list(mode: Mode, description: &str) -> Attribute {
    attribute(
        AttributeType::List(Box::new(AttributeType::String)),
        mode,
        description,
    )
}

/// A map of strings.
pub fn string_map(mode: Mode, description: &str) -> Attribute {
    attribute(
        AttributeType::Map(Box::new(AttributeType::String)),
        mode,
        description,
    )
}

/// A block that may appear at most once (`name { ... }`; null when left out) with
/// `attributes`. (Nested attributes, `name = { ... }`, are not an option: `tf-provider` 0.2.2
/// sends both a type and a nested type for them, which Terraform rejects.)
pub fn optional_block(description: &str, attributes: Vec<(&str, Attribute)>) -> NestedBlock {
    NestedBlock::Optional(block(description, attributes))
}

/// `schema` with nested `blocks` added.
pub fn with_blocks(mut schema: Schema, blocks: Vec<(&str, NestedBlock)>) -> Schema {
    schema.block.blocks.extend(
        blocks
            .into_iter()
            .map(|(name, block)| (name.to_owned(), block)),
    );
    schema
}

/// Marks an attribute sensitive (hidden in output; it still lives in the state).
pub fn sensitive(mut attribute: Attribute) -> Attribute {
    attribute.sensitive = true;
    attribute
}

/// A block from its description and attributes.
fn block(description: &str, attributes: Vec<(&str, Attribute)>) -> Block {
    Block {
        version: 1,
        description: Description::markdown(description),
        attributes: attributes
            .into_iter()
            .map(|(name, attribute)| (name.to_owned(), attribute))
            .collect::<HashMap<_, _>>(),
        ..Block::default()
    }
}

/// A schema from its description and attributes.
pub fn schema(description: &str, attributes: Vec<(&str, Attribute)>) -> Schema {
    Schema {
        version: 1,
        block: block(description, attributes),
    }
}
