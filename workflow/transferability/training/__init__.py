"""Training one net: the model and transplant, the solver and its recipe, the training loop
and its evaluation, resume state, device choice and the net's status; jobs.py is what a
base-net or cell job runs."""
