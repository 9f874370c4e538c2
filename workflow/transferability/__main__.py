import sys

from .shared_process import run

# A training job runs in the shared warm process where there is one (see shared_process.py).
code = run(sys.argv[1:])
if code is None:
    from .cli import main

    code = main()
sys.exit(code)
