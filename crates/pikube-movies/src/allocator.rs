//! Keeping the services' memory small after password hashing.
//!
//! Each Argon2 hash allocates a 19 MiB block. glibc's malloc serves the first such block
//! with mmap, but on freeing it raises its mmap threshold above that size, so later blocks
//! come from the heap arenas and are kept after use: measured, the users service grew from
//! 30 MiB idle to 620 MiB after 100 sign-ups (docs/benchmarks.md). A fixed threshold turns
//! that adjustment off: blocks of 128 KiB and more are mmap'd and given back when freed.
//! musl's malloc (the container image) already returns large blocks.

/// Sets the allocator up for the services; call once, before serving.
#[allow(unsafe_code)] // mallopt has no safe wrapper.
pub fn return_large_blocks_to_the_system() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes a malloc tuning parameter; it is called before the
    // services start their work, and glibc serialises it with allocations anyway.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
    }
}
