"""Data: MNIST IDX files (read, fetch, check), augmentation, canvas preprocessing, pen styles,
and the My-digits store."""
