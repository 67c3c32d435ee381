"""Runs: the run store (a run is its folder), evaluating a saved run, the results report."""
