"""Active probes: each does one job on one host and keeps the raw output as evidence."""
