"""Intake: notice complete drops in the inbox and turn each into exactly one queued run or one result."""
