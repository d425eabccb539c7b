"""Background work: syncs, schedules and the prompt purge, run as jobs.

On PostgreSQL the jobs are procrastinate's, in the store's own database (jobs.pg); on the embedded SQLite
store the same task functions (jobs.tasks) run on an in-process worker (jobs.local).
"""
