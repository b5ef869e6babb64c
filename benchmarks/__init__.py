"""Throughput, latency, fan-out and scaling measurements of Scoopboard and its peers, run by hand (`make bench`)."""
