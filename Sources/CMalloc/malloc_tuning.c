#include "CMalloc.h"
#include <malloc.h>

int billing_mmap_allocations_from(int bytes) {
    // Setting the threshold also turns off glibc's dynamic threshold, which rises after the first free
    // of a large block and then keeps later large blocks in the heap.
    return mallopt(M_MMAP_THRESHOLD, bytes);
}

int billing_return_free_memory(void) {
    // Hands the free pages of every heap arena back to the system: after a burst of connections the
    // freed small blocks otherwise stay resident.
    return malloc_trim(0);
}
