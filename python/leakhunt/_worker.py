"""A worker of the wheel, started by leakhunt as the tests' Python:
``python …/leakhunt/_worker.py EXTENSION __leakhunt_worker``.

It loads leakhunt's extension module from its file (the tests' Python may be
a virtualenv without leakhunt in it) and hands the process over to it, after
making the interpreter look as the binary's embedded one starts: no script
folder in front of ``sys.path``, ``sys.argv == ['']``, nothing of this file
in ``__main__`` (multiprocessing would run it again in its children). Being
a file under site-packages keeps its frames out of leak reports.
"""

if __name__ == "__main__":

    def _start(main):
        import sys
        from importlib.machinery import BuiltinImporter
        from importlib.util import module_from_spec, spec_from_file_location

        extension, mode = sys.argv[1:3]
        if not getattr(sys.flags, "safe_path", False):  # 3.11+: -P
            del sys.path[0]
        sys.argv[:] = [""]
        for name in ("__file__", "__cached__", "_start"):
            main.pop(name, None)
        main["__loader__"] = BuiltinImporter
        spec = spec_from_file_location("leakhunt._native", extension)
        native = module_from_spec(spec)
        spec.loader.exec_module(native)
        native.main(["leakhunt", mode])

    _start(globals())
