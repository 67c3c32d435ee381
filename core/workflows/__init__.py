"""Workflows: what ties the layers below together."""
