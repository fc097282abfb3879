//! Running a loaded component as a WASI 0.2 command: its `wasi:cli/run`
//! export, in the same store (WASI context, limiter, deadline) a core
//! module runs in.

use wasmtime::Store;
use wasmtime::component::types::ComponentItem;
use wasmtime::component::{Component, Type};
use wasmtime_wasi::I32Exit;
use wasmtime_wasi::p2::bindings::CommandPre;

use crate::Error;
use crate::guest::{GuestState, WasiCalls, component_linker};
use crate::run::{DEFAULT_ENTRYPOINT, started};

/// The interface a command component exports, in any WASI 0.2 release.
const RUN_INTERFACE: &str = "wasi:cli/run@0.2.";

/// Instantiates `component` and calls its `wasi:cli/run`: the call's result
/// (a guest's exit, trap or interruption, as for a module), or the
/// instantiation's when that ends the guest. `run` returning its error is
/// the command failing: status 1.
pub(crate) async fn run_command(
    component: &Component,
    store: &mut Store<GuestState>,
    entrypoint: &str,
) -> Result<wasmtime::Result<()>, Error> {
    if entrypoint != DEFAULT_ENTRYPOINT {
        return Err(Error::ComponentEntrypoint(entrypoint.to_string()));
    }
    match command_export(component) {
        CommandExport::Run => {}
        CommandExport::Missing => return Err(Error::NotACommand),
        CommandExport::OtherType => return Err(Error::RunOfAnotherType),
    }
    let linker = component_linker(store.engine(), WasiCalls::Async)?;
    let pre = linker
        .instantiate_pre(component)
        .map_err(Error::Instantiate)?;
    // Checks the export's type too: `run: func() -> result`.
    let command = CommandPre::new(pre).map_err(|_| Error::NotACommand)?;
    let command = match started(command.instantiate_async(&mut *store).await, store.data())? {
        Ok(command) => command,
        Err(ended) => return Ok(Err(ended)),
    };
    Ok(command_ended(
        command.wasi_cli_run().call_run(&mut *store).await,
    ))
}

/// What a call of `wasi:cli/run` returned, as a guest's end: `run`
/// returning its error is the command failing, status 1, as `exit(err)` is.
pub fn command_ended(call: wasmtime::Result<Result<(), ()>>) -> wasmtime::Result<()> {
    match call {
        Ok(Ok(())) => Ok(()),
        Ok(Err(())) => Err(I32Exit(1).into()),
        Err(error) => Err(error),
    }
}

/// What a component exports as a WASI 0.2 command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandExport {
    /// `wasi:cli/run` (of any 0.2 release) with `run: func() -> result`.
    Run,
    /// No `wasi:cli/run`: not a command.
    Missing,
    /// A `wasi:cli/run` whose `run` is missing or of another type.
    OtherType,
}

/// Whether `component` is a WASI 0.2 command, from its type alone (before
/// anything is linked or instantiated).
pub fn command_export(component: &Component) -> CommandExport {
    let engine = component.engine();
    let ty = component.component_type();
    let Some((_, export)) = ty
        .exports(engine)
        .find(|(name, _)| name.starts_with(RUN_INTERFACE))
    else {
        return CommandExport::Missing;
    };
    let run = match export.ty {
        ComponentItem::ComponentInstance(instance) => {
            instance.get_export(engine, "run").map(|run| run.ty)
        }
        _ => None,
    };
    let is_command = match run {
        Some(ComponentItem::ComponentFunc(func)) => {
            let results: Vec<Type> = func.results().collect();
            func.params().len() == 0
                && matches!(results.as_slice(), [Type::Result(result)]
                    if result.ok().is_none() && result.err().is_none())
        }
        _ => false,
    };
    if is_command {
        CommandExport::Run
    } else {
        CommandExport::OtherType
    }
}
