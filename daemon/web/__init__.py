"""The read-only dashboard: recent runs, jobs and steps with timings, metrics, boards, a live step log."""
