"""The Draw tab: canvas, model columns and pickers, probabilities, My digits."""
