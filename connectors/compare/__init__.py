"""Compare and repair: prove a target holds what its source holds, find every differing row, fix it.

- ``normalise``: one canonical Python form per canonical kind, so values that the type mapping
  carries across engines compare equal (decimals at scale, datetimes to microseconds in UTC,
  floats within a tolerance, JSON with sorted keys, zero dates per the task's policy).
- ``endpoint`` / ``mysql_endpoint`` / ``postgres_endpoint``: the reads a compare needs on one
  side (checksums inside the database, ordered range reads, reads by key), one class per engine.
- ``table_compare``: plan primary-key chunks, checksum both sides per chunk, drill down only into
  chunks that differ, classify each differing key; lag-aware re-checks for live tasks.
- ``mapped``: a sync task's mapping seen by a compare (rows compared as the task lands them,
  columns the sync cannot reproduce left out, a merged target's rows scoped to one shard).
- ``repair``: re-read keys from the source and write them through the sync engine's sink, or
  render the statements as SQL for review; re-verify.
"""
