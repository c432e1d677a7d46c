"""Scale-out: many ``archiver worker`` processes on one PostgreSQL catalog and one S3 store.

The jobs are Procrastinate's (a PostgreSQL job queue): periodic harvests per site slot,
deduplicated across workers by Procrastinate's periodic-defer table, one harvest of a site at a
time by its ``lock``, stalled-worker recovery by its heartbeats. The work itself is the
embedded daemon's (``archiver.daemon.jobs``): the same harvest, fixity, retention and report
code. See docs/scale-out.md.
"""
