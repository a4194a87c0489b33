//! The standalone binary: embeds libpython (see `startup`).

fn main() {
    std::process::exit(leakhunt::run(std::env::args_os()));
}
