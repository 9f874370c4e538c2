"""`python -m transferability_runtime STEP ...`: the command of the training rules and of the
workflow's own steps (workflow/rules/common.smk, step_command).

A training step goes to the shared warm process where there is one (shared_process.py);
otherwise, and for every other step, it runs here as `python -m transferability STEP`
would run it, or as one of this package's own steps (steps.py).
"""

import sys

from .shared_process import run

code = run(sys.argv[1:])
if code is None:
    from .steps import main

    code = main()
sys.exit(code)
