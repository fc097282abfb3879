//! How a guest's run ended, as data: an exit status, a trap of a known kind,
//! or the deadline.

use std::fmt;
use std::time::Duration;

use wasmtime::{GcHeapOutOfMemory, ThrownException, Trap, WasmBacktrace};
use wasmtime_wasi::I32Exit;

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The entry point returned (status 0) or the guest called `proc_exit`:
    /// its status, whatever it is (a WASI status is a `u32`, kept bit for
    /// bit). Only 0 to [`MAX_EXIT_STATUS`] can become a process's exit status.
    Exited(i32),
    /// The guest trapped: which trap, and where.
    Trapped(GuestTrap),
    /// The timeout elapsed.
    TimedOut(Duration),
}

impl Outcome {
    /// The exit status of a process that ran this guest, as `lucet-wasi`
    /// and the containerd shim exit: the guest's own status from 0 to
    /// [`MAX_EXIT_STATUS`], 1 for any other (a tool says why), 134 for a
    /// trap (as an abort), 124 for a timeout (as `timeout(1)`).
    pub fn exit_status(&self) -> u8 {
        match self {
            Outcome::Exited(status) => match u8::try_from(*status) {
                Ok(status) if i32::from(status) <= MAX_EXIT_STATUS => status,
                _ => 1,
            },
            Outcome::Trapped(_) => 134,
            Outcome::TimedOut(_) => 124,
        }
    }
}

/// The largest `proc_exit` status a process can pass on: 126 and above mean
/// "cannot execute", "not found" and "killed by signal N" (128 + N) to a
/// shell, and wasmtime-wasi refuses them for that reason.
pub const MAX_EXIT_STATUS: i32 = 125;

/// What kind of trap ended a guest: those a WebAssembly 3.0 guest of this
/// toolchain can hit are named; the rest (wasmtime's traps of features this
/// toolchain's engines leave out, such as stack switching) are `Other`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TrapKind {
    /// An `unreachable` instruction was executed.
    Unreachable,
    /// The guest used up its wasm stack.
    StackOverflow,
    /// A load or store outside linear memory.
    MemoryOutOfBounds,
    /// An atomic access at an address not naturally aligned.
    UnalignedAtomic,
    /// A table access out of bounds.
    TableOutOfBounds,
    /// An indirect call through a null table entry.
    IndirectCallToNull,
    /// An indirect call to a function of another type.
    IndirectCallTypeMismatch,
    /// Integer overflow (`i32.div_s` of the minimum by -1, for instance).
    IntegerOverflow,
    /// Integer division or remainder by zero.
    IntegerDivisionByZero,
    /// A float-to-integer conversion of NaN or of a value out of range.
    BadConversionToInteger,
    /// A GC reference that was null where an object was needed.
    NullReference,
    /// A GC array index out of its bounds.
    ArrayOutOfBounds,
    /// A GC reference cast to a type it does not have.
    CastFailure,
    /// A GC object larger than any heap could hold.
    AllocationTooLarge,
    /// The GC heap is full after a collection, at its limit (the runner's
    /// memory limit counts the GC heap with linear memories).
    GcHeapOutOfMemory,
    /// A WebAssembly exception that no handler caught.
    UncaughtException,
    /// Any other trap.
    Other,
}

impl From<Trap> for TrapKind {
    fn from(trap: Trap) -> TrapKind {
        match trap {
            Trap::UnreachableCodeReached => TrapKind::Unreachable,
            Trap::StackOverflow => TrapKind::StackOverflow,
            Trap::MemoryOutOfBounds => TrapKind::MemoryOutOfBounds,
            Trap::HeapMisaligned => TrapKind::UnalignedAtomic,
            Trap::TableOutOfBounds => TrapKind::TableOutOfBounds,
            Trap::IndirectCallToNull => TrapKind::IndirectCallToNull,
            Trap::BadSignature => TrapKind::IndirectCallTypeMismatch,
            Trap::IntegerOverflow => TrapKind::IntegerOverflow,
            Trap::IntegerDivisionByZero => TrapKind::IntegerDivisionByZero,
            Trap::BadConversionToInteger => TrapKind::BadConversionToInteger,
            Trap::NullReference => TrapKind::NullReference,
            Trap::ArrayOutOfBounds => TrapKind::ArrayOutOfBounds,
            Trap::CastFailure => TrapKind::CastFailure,
            Trap::AllocationTooLarge => TrapKind::AllocationTooLarge,
            _ => TrapKind::Other,
        }
    }
}

/// A trap that ended a guest: its kind, to act on, and wasmtime's words for
/// it and the wasm backtrace, to show.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct GuestTrap {
    /// Which trap.
    pub kind: TrapKind,
    /// wasmtime's one-line description, e.g. `wasm trap: call stack exhausted`.
    pub message: String,
    /// A short wasm backtrace (several lines), when wasmtime captured one.
    pub backtrace: Option<String>,
}

impl GuestTrap {
    /// The trap `error` is, if the guest ended in one: a wasmtime trap, a
    /// full GC heap, or an exception no handler caught (the last two are
    /// errors of their own types in wasmtime, not `Trap`s).
    fn of(error: &wasmtime::Error) -> Option<GuestTrap> {
        let (kind, message) = if let Some(&trap) = error.downcast_ref::<Trap>() {
            (TrapKind::from(trap), trap.to_string())
        } else if let Some(full) = error.downcast_ref::<GcHeapOutOfMemory<()>>() {
            (TrapKind::GcHeapOutOfMemory, full.to_string())
        } else if let Some(thrown) = error.downcast_ref::<ThrownException>() {
            (TrapKind::UncaughtException, format!("uncaught {thrown}"))
        } else {
            return None;
        };
        let backtrace = error.downcast_ref::<WasmBacktrace>();
        Some(GuestTrap {
            kind,
            message,
            backtrace: backtrace.map(|backtrace| backtrace.to_string().trim_end().to_string()),
        })
    }
}

impl fmt::Display for GuestTrap {
    /// The message, then the backtrace on the lines after it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        match &self.backtrace {
            Some(backtrace) => write!(f, "\n{backtrace}"),
            None => Ok(()),
        }
    }
}

/// Whether `error` is the guest's own end (a trap or `proc_exit`), not a
/// host-side failure.
pub(crate) fn ended_by_guest(error: &wasmtime::Error) -> bool {
    error.downcast_ref::<I32Exit>().is_some() || GuestTrap::of(error).is_some()
}

/// How a call into the guest ended: its exit status, a trap (with its kind
/// and a short wasm backtrace), or the deadline (`timeout`, for the
/// report). Any other error is not the guest's outcome but a host-side
/// failure, returned as it is.
pub fn outcome_of(
    result: wasmtime::Result<()>,
    timeout: Option<Duration>,
) -> Result<Outcome, wasmtime::Error> {
    let error = match result {
        Ok(()) => return Ok(Outcome::Exited(0)),
        Err(error) => error,
    };
    if let Some(exit) = error.downcast_ref::<I32Exit>() {
        return Ok(Outcome::Exited(exit.0));
    }
    if let Some(Trap::Interrupt) = error.downcast_ref::<Trap>() {
        return Ok(Outcome::TimedOut(timeout.unwrap_or_default()));
    }
    match GuestTrap::of(&error) {
        Some(trap) => Ok(Outcome::Trapped(trap)),
        None => Err(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traps_are_outcomes_of_their_kind() {
        let outcome = outcome_of(Err(Trap::IntegerDivisionByZero.into()), None).expect("outcome");
        let Outcome::Trapped(trap) = outcome else {
            panic!("not a trap: {outcome:?}");
        };
        assert_eq!(trap.kind, TrapKind::IntegerDivisionByZero);
        assert_eq!(trap.to_string(), "wasm trap: integer divide by zero");
        assert_eq!(TrapKind::from(Trap::OutOfFuel), TrapKind::Other);
    }

    #[test]
    fn exits_interrupts_and_host_errors() {
        assert_eq!(outcome_of(Ok(()), None).ok(), Some(Outcome::Exited(0)));
        let exit = outcome_of(Err(I32Exit(-1).into()), None).ok();
        assert_eq!(exit, Some(Outcome::Exited(-1)));
        let timeout = Duration::from_secs(2);
        let interrupted = outcome_of(Err(Trap::Interrupt.into()), Some(timeout)).ok();
        assert_eq!(interrupted, Some(Outcome::TimedOut(timeout)));
        let host = outcome_of(Err(wasmtime::Error::msg("disk on fire")), None);
        assert_eq!(host.expect_err("a host error").to_string(), "disk on fire");
    }
}
