use clap::Parser;

// The planner builds and drops many small JSON values; mimalloc is markedly faster at that
// than glibc malloc (see bench/run.py). `--features system-alloc` keeps the system allocator,
// for heap profilers (heaptrack) that hook malloc.
#[cfg(not(feature = "system-alloc"))]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay` (its id is stable across mimalloc v2 and v3; see
/// `mi_option_e` in mimalloc.h).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// `runform executions | head`: once the reader is gone, printing fails with EPIPE and Rust's
/// `println!` panics. End quietly instead, with the status a shell gives a process SIGPIPE
/// ended (141), as other command-line tools do. (SIGPIPE itself stays ignored: the runtime
/// and its engine connections must not die with a peer.)
fn quiet_on_closed_stdout() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let msg = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("");
        if msg.contains("failed printing to stdout") && msg.contains("Broken pipe") {
            std::process::exit(141);
        }
        default(info);
    }));
}

fn main() {
    // Freed pages go back to the system after 1 ms instead of 10: a large plan frees parsed
    // blocks while it builds values, and this keeps its peak memory near what is live
    // (10,000-job no-op plan: ~148 -> ~126 MiB, bench/run.py; a delay of 0 costs time).
    // SAFETY: a plain option setter, called before any other thread exists.
    // MIMALLOC_PURGE_DELAY in the environment still wins (for measuring).
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        unsafe {
            libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 1);
        }
    }
    // No transparent huge pages: the kernel zeroes 2 MiB at a time for an allocator that
    // hands freed pages back within 1 ms, and a large plan then spends a fifth of its time
    // clearing pages and peaks ~20 MiB higher (10,000-job no-op plan, bench/run.py).
    // SAFETY: prctl with integer arguments only; it changes this process's paging policy.
    #[cfg(target_os = "linux")]
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
    quiet_on_closed_stdout();
    let cli = runform::cli::Cli::parse_from(runform::cli::terraform_style_flags(std::env::args()));
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            std::process::exit(1);
        }
    };
    let code = rt.block_on(runform::cli::run(cli));
    std::process::exit(code);
}
