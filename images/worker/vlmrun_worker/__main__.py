"""Worker commands (inside the container):

  python -m vlmrun_worker env                     print the environment's versions as JSON
  python -m vlmrun_worker make-tiny RECIPE OUT    build a tiny random-weight model from a config
  python -m vlmrun_worker run JOB.json [...]      inference for one (model, benchmark) job (one rank; or a rank of
                                                  `launch`, or of torchrun); several job files of one model: one
                                                  after another, the weights loaded once
  python -m vlmrun_worker launch N|gpu JOB.json [...]   N data-parallel ranks of `run` (torchrun's environment, no
                                                  torch)
  python -m vlmrun_worker inspect JOB.json [ROW]  what the model is given for one row (no weights loaded)
  python -m vlmrun_worker api JOB.json            an API model's job (on the host: requests, no torch)
  python -m vlmrun_worker serve JOB.json [--host H] [--port P]   the model behind /v1/chat/completions
  python -m vlmrun_worker make-videos TSV ROOT    synthetic test videos for a bundled video benchmark
"""
import json
import sys


def main(argv):
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    cmd, args = argv[0], argv[1:]
    if cmd == "env":
        from .envinfo import environment

        print(json.dumps(environment()))
        return 0
    if cmd == "make-tiny" and len(args) == 2:
        from .tiny import make

        make(args[0], args[1])
        return 0
    if cmd == "run" and args:
        from .run import main_guarded

        return main_guarded(args)
    if cmd == "launch":
        from .launch import main as launch_main

        return launch_main(args)
    if cmd == "api" and len(args) == 1:
        from .api_run import main_guarded as api_main

        return api_main(args[0])
    if cmd == "serve" and args:
        from .serve import main as serve_main

        return serve_main(args)
    if cmd == "make-videos":
        from .synth_video import main as videos_main

        return videos_main(args)
    if cmd == "inspect" and len(args) in (1, 2):
        from .inspect_row import inspect

        return inspect(*args)
    print(__doc__, file=sys.stderr)
    return 2


def leave(code: int) -> None:
    """Exit without tearing the interpreter down: with torch, transformers and torchvision (which imports
    torch._dynamo) loaded, finalising their modules takes ~1.2 s per process on a CPU, after every output has been
    written and closed. The exit handlers still run and the standard streams are flushed first. Under a profiler or
    a tracer (cProfile, coverage), which write their results at the normal exit, it exits normally."""
    import atexit
    import os

    if sys.getprofile() is not None or sys.gettrace() is not None:
        sys.exit(code)
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code if isinstance(code, int) else 1)


if __name__ == "__main__":
    leave(main(sys.argv[1:]))
