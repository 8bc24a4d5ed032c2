// glibc's allocator tuning, which Glibc's Swift module does not export.
#pragma once

/// Serves allocations of at least `bytes` from mmap, so that they go back to the system when freed;
/// returns 1 on success (mallopt's convention).
int billing_mmap_allocations_from(int bytes);

/// Returns the free memory of glibc's heaps to the system (malloc_trim); returns 1 if some was.
int billing_return_free_memory(void);
