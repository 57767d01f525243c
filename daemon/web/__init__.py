"""The dashboard: recent runs, jobs and steps with timings, metrics, boards, a live step log, the fleet; re-run
and cancel buttons, and POST /runs for scripts (the shared queue)."""
