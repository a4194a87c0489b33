"""leakhunt finds the Python tests that leak.

This package is the front end of the wheel: the program itself is the
extension module ``leakhunt._native`` (Rust), the same code as the
standalone binary.
"""


def main():
    """The ``leakhunt`` console script: never returns."""
    import sys

    from leakhunt import _native

    _native.main(["leakhunt", *sys.argv[1:]])
