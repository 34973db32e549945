"""The engine: reader → batcher (merge by key) → partitioned sink writers → checkpoint after flush."""
