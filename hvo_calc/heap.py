"""The process's heap, set up for simulations that work window by window.

Each engine window builds and drops a few arrays of several MiB. glibc's malloc hands
allocations that size to the kernel with mmap and gives them back on free (its
threshold adapts, but not to every mix of sizes), so the next window faults every page
in again: on a 16 TiB pool and Linux 6.1 that was about half the engine time. Keeping
freed memory in the heap avoids it without raising the peak, since a window's working
set is bounded. The CLI does this for its own process; a library caller may too.
"""

import ctypes

M_TRIM_THRESHOLD = -1  # mallopt parameters, from glibc's <malloc.h>
M_MMAP_THRESHOLD = -3
KEEP_BYTES = 64 << 20  # well above a window's largest array, well below the 512 MiB budget


def keep_freed_memory() -> bool:
    """Ask malloc to keep freed window-sized blocks; False where there is no glibc mallopt."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, KEEP_BYTES)) and bool(mallopt(M_TRIM_THRESHOLD, 2 * KEEP_BYTES))
