"""Yosinski et al. 2014 transferability experiments: data, splits, nets, training, analysis.

The experiment alone: each step is declared once (steps.py) and runs as `python -m
transferability STEP ...` (cli.py). It imports nothing of Snakemake nor of the package that
runs it as a workflow (transferability_runtime, beside it: the rules' entry point, the warm
process training jobs share, the checks made when the Snakefile is read); its messages only
name the `snakemake` command that remakes a file. tests/test_packages.py holds that.
"""
