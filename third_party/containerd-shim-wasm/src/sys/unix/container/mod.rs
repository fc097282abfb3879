#[allow(clippy::module_inception)]
mod container;

mod executor;
pub mod instance;
