"""What runs the experiment (the package `transferability`) as a Snakemake workflow: the
rules' entry point (`python -m transferability_runtime STEP ...`, which serves training
steps through a warm shared process, shared_process.py), the checks the Snakefile makes
when it is read (configcheck.py, profiles.py, runcheck.py, runlock.py), the smoke run's
images and report, and `make reference`. It imports the experiment; the experiment never
imports it (tests/test_packages.py)."""
