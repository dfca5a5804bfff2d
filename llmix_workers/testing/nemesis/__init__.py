"""The nemesis: hosts as network namespaces, faults on a seeded schedule, a history, a checker.

``netns`` builds the hosts and links, ``cluster`` starts the real parts in them, ``faults`` and
``schedule`` say what breaks when, ``agent`` runs the workload and the clears inside the
namespaces, ``history`` records and ``checker`` judges: once a clear reported complete at T, no
lookup that starts after T may return an entry whose provider call began before that clear.
"""
