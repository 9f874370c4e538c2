"""Yosinski et al. 2014 transferability experiments: data, splits, nets, training, analysis."""
