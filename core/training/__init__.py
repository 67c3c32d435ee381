"""Training: config, the loop (train_one_epoch, evaluate), control and reporting, EMA,
checkpoints, devices, the fast path, launching a run."""
