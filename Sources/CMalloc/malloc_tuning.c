#include "CMalloc.h"
#include <malloc.h>

int billing_mmap_allocations_from(int bytes) {
    // Setting the threshold also turns off glibc's dynamic threshold, which rises after the first free
    // of a large block and then keeps later large blocks in the heap.
    return mallopt(M_MMAP_THRESHOLD, bytes);
}
