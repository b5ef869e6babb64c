"""What one unit of work costs, measured on this machine for docs/scaling.md's capacity model, run by hand:

    .venv/bin/python -m benchmarks.units [--tasks 10000] [--clients 500] [--no-docs]

Starts a PostgreSQL cluster and Redis servers of its own (cluster-wide figures such as WAL then count this run
alone), runs the Procfile's worker, dispatcher and web processes against them, prints the figures as JSON and
rewrites the marked section of docs/scaling.md.
"""
