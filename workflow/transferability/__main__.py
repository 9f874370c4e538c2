import sys

from .worker import run

# A training job runs in the shared warm process where there is one (see worker.py).
code = run(sys.argv[1:])
if code is None:
    from .cli import main

    code = main()
sys.exit(code)
