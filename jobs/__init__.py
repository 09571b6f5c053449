"""RQ jobs: ingest (CPU), and later train and answer (GPU). Jobs take ids, never objects."""
