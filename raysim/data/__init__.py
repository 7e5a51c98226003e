"""Data: audio I/O, client data sources, partitioners, corpora and feature stores."""
