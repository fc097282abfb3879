//! What to do about an error, in lucet-wasi's flags: the libraries' errors
//! say what is wrong, and an embedder of them sees no flags of ours.

use lucet_runtime::{Error, LimitedResource};

/// Advice for `error`, if there is any to give.
pub fn advice(error: &anyhow::Error) -> Option<String> {
    let advice = match lucet_cli::cause::<Error>(error)? {
        Error::OverLimitAtStart(refusal) => format!("raise {}", limit_flag(refusal.resource)),
        Error::MissingEntrypoint { .. } => {
            "pick another with --entrypoint, or call any function with --invoke".into()
        }
        Error::InvokeComponent => "drop --invoke".into(),
        Error::ComponentEntrypoint(_) => "drop --entrypoint".into(),
        Error::NotInterruptible(_) => {
            "it was compiled with lucetc --no-interruption: recompile without that flag to use --timeout".into()
        }
        _ => return lucet_cli::load_advice(error),
    };
    Some(advice)
}

/// The flag that sets the limit on `resource`.
fn limit_flag(resource: LimitedResource) -> &'static str {
    match resource {
        LimitedResource::LinearMemory => "--max-heap-size",
        LimitedResource::TableElements => "--max-table-elements",
    }
}
