"""The peers measured beside Scoopboard, one module each: its System (benchmarks.systems) and its app's setup.

Every peer runs the same trivial task body (benchmarks/proof.py: its number and start time pushed to Redis) in
worker subprocesses of 8 tasks at a time, so every system is timed by one clock and checked by one count.
"""
