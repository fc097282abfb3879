//! Running a loaded component as a WASI 0.2 command: its `wasi:cli/run`
//! export, in the same store (WASI context, limiter, deadline) a core
//! module runs in.

use wasmtime::Store;
use wasmtime::component::Component;
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
    if !exports_wasi_cli_run(component) {
        return Err(Error::NotACommand);
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

/// Whether `component` is a WASI 0.2 command: it exports `wasi:cli/run` (of
/// any 0.2 release). The export's type is checked when it is bound.
pub fn exports_wasi_cli_run(component: &Component) -> bool {
    component
        .component_type()
        .exports(component.engine())
        .any(|(name, _)| name.starts_with(RUN_INTERFACE))
}
