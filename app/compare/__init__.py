"""The Compare tab: the runs table, overlaid curves, and actions on runs."""
