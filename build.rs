fn main() {
    // Without an rpath the binary may silently load another libpython on the
    // machine (or none at all without LD_LIBRARY_PATH).
    pyo3_build_config::add_libpython_rpath_link_args();
    // The interpreter leakhunt links against: the default one to run tests in,
    // and the version a user's virtualenv must match.
    let config = pyo3_build_config::get();
    println!(
        "cargo:rustc-env=LEAKHUNT_BUILD_PYTHON_VERSION={}.{}",
        config.version().major,
        config.version().minor
    );
    println!(
        "cargo:rustc-env=LEAKHUNT_BUILD_PYTHON={}",
        config.executable().unwrap_or("")
    );
}
