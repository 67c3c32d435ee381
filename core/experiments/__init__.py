"""Experiments: a named set of trials (a recipe × settings × seeds), run here or on a Ray cluster.

    spec         ExperimentSpec (TOML / CLI flags) → points (grid, random, TPE) × seeds = trials
    storage      the experiment's folder beside the run store; which run is which trial
    trial        one trial as an ordinary run in the run store, the same on every executor
    runner       run / resume an experiment through an executor, searches included
    local        trials one after another, or several CPU processes with the threads split
    ray_executor trials as Ray Tune trials (optional extra `digitlab[cluster]`), ASHA, retries
    statistics   per-recipe mean ± std over seeds, Welch intervals, verdicts, Markdown
    claims       what each seed write-up claims, with citations
    reproduction every write-up model with its recipe; reproduction_records: one JSON
                 record per finished trial in docs/reproduction/; reproduction_table: the
                 docs/REPRODUCTION.md table, from those records only

No Qt here; torch, optuna and ray are imported only where a trial or a search needs them.
"""
