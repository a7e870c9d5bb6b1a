//! A global allocator wrapper that measures live heap bytes, so a campaign can check that a
//! reader never allocates far more than its input justifies.
//!
//! Install it in the test binary:
//! `#[global_allocator] static ALLOC: CountingAllocator = CountingAllocator;`
//! Without it the measurements read zero and the allocation check is skipped.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Heap bytes currently allocated (all threads).
static LIVE: AtomicUsize = AtomicUsize::new(0);
/// Highest `LIVE` since the last [`reset_peak`].
static PEAK: AtomicUsize = AtomicUsize::new(0);
/// Largest single request (bytes) since the last [`reset_peak`].
static LARGEST: AtomicUsize = AtomicUsize::new(0);
/// Set once the allocator has served a request, i.e. it is installed.
static INSTALLED: AtomicBool = AtomicBool::new(false);

/// [`System`] plus byte accounting.
pub struct CountingAllocator;

fn record_alloc(size: usize) {
    let live = LIVE.fetch_add(size, Ordering::Relaxed) + size;
    PEAK.fetch_max(live, Ordering::Relaxed);
    LARGEST.fetch_max(size, Ordering::Relaxed);
    INSTALLED.store(true, Ordering::Relaxed);
}

// SAFETY: every call is forwarded unchanged to `System`; only counters are updated.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            record_alloc(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            record_alloc(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
            record_alloc(new_size);
        }
        p
    }
}

/// Heap use observed between [`reset_peak`] and [`measure`] (bytes).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HeapUse {
    /// Peak live bytes above the live bytes at the reset.
    pub peak_growth: usize,
    /// Largest single allocation request.
    pub largest_request: usize,
}

/// Starts a measurement; returns the live bytes at this point.
pub fn reset_peak() -> usize {
    let live = LIVE.load(Ordering::Relaxed);
    PEAK.store(live, Ordering::Relaxed);
    LARGEST.store(0, Ordering::Relaxed);
    live
}

/// Heap use since [`reset_peak`] returned `baseline`; `None` when the allocator is not installed.
pub fn measure(baseline: usize) -> Option<HeapUse> {
    INSTALLED.load(Ordering::Relaxed).then(|| HeapUse {
        peak_growth: PEAK.load(Ordering::Relaxed).saturating_sub(baseline),
        largest_request: LARGEST.load(Ordering::Relaxed),
    })
}
