//! Product models for the unit tests: the default one, and the second example
//! (`policy/examples/documents/model.json`), whose names differ, to show that every check uses
//! the model it is given rather than the compiled-in default.

use portcullis_core::model::Model;
use std::sync::Arc;

/// The documents example model.
pub fn documents() -> Arc<Model> {
    let text = include_str!("../../policy/examples/documents/model.json");
    Arc::new(Model::from_json(text).unwrap())
}

/// The default model.
pub fn default() -> Arc<Model> {
    Arc::clone(portcullis_core::model::default_model())
}
