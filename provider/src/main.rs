//! `terraform-provider-portcullis`: Portcullis tenants (members, permissions, API tokens,
//! automation keys, settings) as code, over the Management API of the edge worker.
//!
//! Terraform starts this binary itself (plugin protocol 6); stdout carries only the handshake
//! line and logs go to stderr (or `PLUGIN_LOG_FILE`).

mod client;
mod data_sources;
mod diagnostics;
#[cfg(test)]
mod docs_tests;
mod provider;
mod resources;
mod schema;
#[cfg(test)]
mod test_models;
mod validation;
mod values;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    tf_provider::serve("portcullis", provider::PortcullisProvider::default()).await?;
    Ok(())
}
