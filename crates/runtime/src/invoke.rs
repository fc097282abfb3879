//! Calling any exported function of a module with arguments given as text,
//! and showing its results as text, as `wasmtime run --invoke` does.

use wasmtime::{Func, Store, Val, ValType};

use crate::Error;
use crate::guest::GuestState;

/// A function to call, and its arguments as the user wrote them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    /// The exported function's name.
    pub function: String,
    /// One argument per parameter: decimal integers, or floats (`1.5`, `-0`,
    /// `inf`, `nan`) for `f32` and `f64` parameters.
    pub args: Vec<String>,
}

/// The results of a call, as text: one per result, integers in decimal,
/// floats as Rust prints them.
pub type Results = Vec<String>;

/// The arguments of `invocation`, parsed by the types of `func`'s
/// parameters, and room for its results.
pub(crate) fn parse_args(
    func: &Func,
    store: &Store<GuestState>,
    invocation: &Invocation,
) -> Result<(Vec<Val>, Vec<Val>), Error> {
    let ty = func.ty(store);
    let params: Vec<ValType> = ty.params().collect();
    let refuse = |message: String| Error::Invocation {
        function: invocation.function.clone(),
        message,
    };
    if params.len() != invocation.args.len() {
        return Err(refuse(format!(
            "it takes {} argument(s) ({}); {} given",
            params.len(),
            type_list(&params),
            invocation.args.len()
        )));
    }
    let args = params
        .iter()
        .zip(&invocation.args)
        .enumerate()
        .map(|(index, (ty, text))| {
            parse_val(ty, text).ok_or_else(|| {
                refuse(format!(
                    "argument {} `{text}` is not {}",
                    index + 1,
                    ty_name(ty)
                ))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let results = ty
        .results()
        .map(|ty| Val::default_for_ty(&ty).unwrap_or(Val::I32(0)))
        .collect();
    Ok((args, results))
}

fn parse_val(ty: &ValType, text: &str) -> Option<Val> {
    Some(match ty {
        ValType::I32 => Val::I32(
            text.parse::<i32>()
                .or_else(|_| text.parse::<u32>().map(|v| v as i32))
                .ok()?,
        ),
        ValType::I64 => Val::I64(
            text.parse::<i64>()
                .or_else(|_| text.parse::<u64>().map(|v| v as i64))
                .ok()?,
        ),
        ValType::F32 => Val::F32(text.parse::<f32>().ok()?.to_bits()),
        ValType::F64 => Val::F64(text.parse::<f64>().ok()?.to_bits()),
        // Vectors and references have no text form here.
        _ => return None,
    })
}

/// `vals` as text, one per result.
pub(crate) fn show_results(vals: &[Val]) -> Results {
    vals.iter()
        .map(|val| match val {
            Val::I32(v) => v.to_string(),
            Val::I64(v) => v.to_string(),
            Val::F32(bits) => f32::from_bits(*bits).to_string(),
            Val::F64(bits) => f64::from_bits(*bits).to_string(),
            Val::V128(v) => format!("{:#034x}", v.as_u128()),
            other => match other.ref_() {
                Some(r) if r.is_null() => "null".to_string(),
                Some(_) => "<reference>".to_string(),
                None => "<value>".to_string(),
            },
        })
        .collect()
}

fn ty_name(ty: &ValType) -> String {
    match ty {
        ValType::I32 => "an i32".into(),
        ValType::I64 => "an i64".into(),
        ValType::F32 => "an f32".into(),
        ValType::F64 => "an f64".into(),
        other => format!("a {other} (which --invoke cannot pass)"),
    }
}

fn type_list(types: &[ValType]) -> String {
    types
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}
