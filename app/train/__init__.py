"""The Train tab: settings form, previews, live curves, progress and the results view."""
