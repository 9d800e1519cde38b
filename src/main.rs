fn main() -> std::process::ExitCode {
    cap_malloc_arenas();
    hrconnector::cli::main()
}

/// glibc gives threads that allocate at once arenas of their own, up to eight per core, and an
/// arena keeps what it once held: peak memory then grows with how long a run lasts (how many
/// runtime and validation threads took turns allocating) rather than with what it needs. One
/// arena keeps it flat (an SFTP download read ahead on the runtime's threads, 10 MB to 1 GB:
/// +25 % with glibc's default, +11-15 % with two arenas, +6-8 % with one) at no measurable
/// cost in speed: the hot paths reuse their buffers, and each thread's cache serves small
/// allocations without the arena's lock (BENCHMARKS.md, "SFTP drops"). `MALLOC_ARENA_MAX` in
/// the environment still decides.
fn cap_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt only sets an allocator parameter; called before any other thread
        // exists, so no allocation races with it.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 1);
        }
    }
}
