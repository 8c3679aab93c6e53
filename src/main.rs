use clap::Parser;

// The planner builds and drops many small JSON values; mimalloc is markedly faster at that
// than glibc malloc (see bench/run.py).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let cli = runform::cli::Cli::parse();
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
