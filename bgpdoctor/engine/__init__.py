"""The engine: collect facts from hosts, run active probes, judge checks, reach diagnoses.

Named `engine` so it never collides with the top-level `checks/` and `playbooks/` data folders.
"""
