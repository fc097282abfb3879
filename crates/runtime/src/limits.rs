//! The one resource limiter of every guest: all its linear memories counted
//! together against the heap limit, all its table elements against the table
//! limit.
//!
//! wasmtime's `StoreLimits` bounds each memory and each table on its own, so
//! a module with forty memories could use forty times the heap limit, and a
//! table could grow until the host ran out of memory. This limiter keeps
//! running totals for the whole store instead. Every guest store has one:
//! [`guest_store`](crate::guest_store) installs it, for the runner and
//! lucet-embed's instances alike.

use std::fmt;

use wasmtime::ResourceLimiter;

/// Table elements a guest may hold, all tables together, unless configured
/// otherwise: 2^20, which is 8 MiB of function references on a 64-bit host
/// and far more than the indirect-call tables of large C++ programs (tens of
/// thousands of entries).
pub const DEFAULT_MAX_TABLE_ELEMENTS: u64 = 1 << 20;

/// What a [`GuestLimiter`] counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitedResource {
    /// Bytes of linear memory, all memories together.
    LinearMemory,
    /// Elements, all tables together.
    TableElements,
}

/// A request the limiter refused: the total it would have reached, and the
/// limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitRefusal {
    /// Which total.
    pub resource: LimitedResource,
    /// The total the request would have reached.
    pub requested: u64,
    /// The limit.
    pub limit: u64,
}

impl fmt::Display for LimitRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let LimitRefusal {
            requested, limit, ..
        } = self;
        match self.resource {
            LimitedResource::LinearMemory => write!(
                f,
                "its linear memories need {requested} bytes together, more than the heap limit of {limit} bytes"
            ),
            LimitedResource::TableElements => write!(
                f,
                "its tables need {requested} elements together, more than the limit of {limit} elements"
            ),
        }
    }
}

/// A `wasmtime::ResourceLimiter` that sums every linear memory and every
/// table of a store. Install one per store (`Store::limiter`).
#[derive(Debug, Clone)]
pub struct GuestLimiter {
    max_memory_bytes: usize,
    max_table_elements: usize,
    memory_bytes: usize,
    table_elements: usize,
    last_refusal: Option<LimitRefusal>,
}

impl GuestLimiter {
    /// A limiter allowing `max_memory_bytes` of linear memory in all (`None`:
    /// no limit) and `max_table_elements` table elements in all.
    pub fn new(max_memory_bytes: Option<u64>, max_table_elements: u64) -> GuestLimiter {
        let to_usize = |value: u64| usize::try_from(value).unwrap_or(usize::MAX);
        GuestLimiter {
            max_memory_bytes: max_memory_bytes.map_or(usize::MAX, to_usize),
            max_table_elements: to_usize(max_table_elements),
            memory_bytes: 0,
            table_elements: 0,
            last_refusal: None,
        }
    }

    /// Bytes of linear memory granted so far, all memories together.
    pub fn memory_bytes(&self) -> u64 {
        self.memory_bytes as u64
    }

    /// Table elements granted so far, all tables together.
    pub fn table_elements(&self) -> u64 {
        self.table_elements as u64
    }

    /// The last request refused for being over a limit, if any: after a
    /// failed instantiation, it says which limit the module's initial
    /// memories or tables exceed.
    pub fn last_refusal(&self) -> Option<LimitRefusal> {
        self.last_refusal
    }
}

/// Grants growing one memory or table from `current` to `desired` units when
/// the new total stays within `limit`, adding the growth to `in_use`; else
/// returns the total it would have reached.
fn grant(in_use: &mut usize, current: usize, desired: usize, limit: usize) -> Result<(), usize> {
    // `in_use` includes this memory's or table's `current` size, which the
    // limiter granted earlier.
    let total = in_use.saturating_sub(current).saturating_add(desired);
    if total > limit {
        return Err(total);
    }
    *in_use = total;
    Ok(())
}

impl GuestLimiter {
    fn decide(
        &mut self,
        resource: LimitedResource,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> bool {
        let (in_use, limit) = match resource {
            LimitedResource::LinearMemory => (&mut self.memory_bytes, self.max_memory_bytes),
            LimitedResource::TableElements => (&mut self.table_elements, self.max_table_elements),
        };
        // A request past the memory's or table's own maximum is refused here,
        // uncounted: wasmtime would refuse it after a grant, and its failure
        // callback cannot tell which grant to undo. The only failure left
        // after a grant is the host running out of memory; that growth stays
        // counted, which errs on the safe side.
        if maximum.is_some_and(|maximum| desired > maximum) {
            return false;
        }
        match grant(in_use, current, desired, limit) {
            Ok(()) => true,
            Err(requested) => {
                self.last_refusal = Some(LimitRefusal {
                    resource,
                    requested: requested as u64,
                    limit: limit as u64,
                });
                false
            }
        }
    }
}

/// Whether a growth is granted, as wasmtime asks.
type Granted = wasmtime::Result<bool>;

// Both requests go to `decide`; only the resource differs.
impl ResourceLimiter for GuestLimiter {
    fn memory_growing(&mut self, current: usize, desired: usize, max: Option<usize>) -> Granted {
        Ok(self.decide(LimitedResource::LinearMemory, current, desired, max))
    }

    fn table_growing(&mut self, current: usize, desired: usize, max: Option<usize>) -> Granted {
        Ok(self.decide(LimitedResource::TableElements, current, desired, max))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: usize = 64 << 10;

    #[test]
    fn memories_are_counted_together() {
        let mut limiter = GuestLimiter::new(Some(4 * PAGE as u64), 10);
        // Four memories of one page each fill the limit; a fifth does not fit.
        for _ in 0..4 {
            assert!(limiter.memory_growing(0, PAGE, None).expect("limiter"));
        }
        assert!(!limiter.memory_growing(0, PAGE, None).expect("limiter"));
        assert!(
            !limiter
                .memory_growing(PAGE, 2 * PAGE, None)
                .expect("limiter")
        );
        assert_eq!(limiter.memory_bytes(), 4 * PAGE as u64);
        assert_eq!(
            limiter.last_refusal(),
            Some(LimitRefusal {
                resource: LimitedResource::LinearMemory,
                requested: 5 * PAGE as u64,
                limit: 4 * PAGE as u64,
            })
        );
    }

    #[test]
    fn tables_are_counted_together_and_separately_from_memory() {
        let mut limiter = GuestLimiter::new(None, 100);
        assert!(limiter.table_growing(0, 60, None).expect("limiter"));
        assert!(!limiter.table_growing(0, 41, None).expect("limiter"));
        assert!(limiter.table_growing(0, 40, None).expect("limiter"));
        assert!(!limiter.table_growing(60, 61, None).expect("limiter"));
        assert_eq!(limiter.table_elements(), 100);
        // No heap limit: memory is not bounded by the table limit.
        assert!(limiter.memory_growing(0, 1 << 30, None).expect("limiter"));
        let refusal = limiter.last_refusal().expect("a refusal");
        assert_eq!(refusal.resource, LimitedResource::TableElements);
        assert!(refusal.to_string().contains("101 elements"), "{refusal}");
    }

    #[test]
    fn growth_past_a_declared_maximum_is_refused_without_counting() {
        let mut limiter = GuestLimiter::new(Some(10 * PAGE as u64), 10);
        assert!(
            limiter
                .memory_growing(0, PAGE, Some(2 * PAGE))
                .expect("limiter")
        );
        assert!(
            !limiter
                .memory_growing(PAGE, 3 * PAGE, Some(2 * PAGE))
                .expect("limiter")
        );
        assert_eq!(limiter.memory_bytes(), PAGE as u64);
        assert_eq!(limiter.last_refusal(), None);
    }
}
