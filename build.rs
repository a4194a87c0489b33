fn main() {
    // Without an rpath the binary may silently load another libpython on the
    // machine (or none at all without LD_LIBRARY_PATH).
    pyo3_build_config::add_libpython_rpath_link_args();
}
