"""The daemon process: composed once (compose.py), started and stopped as one (service.py), running each
claimed run down the floors (runs.py) and keeping the folders true to the store (filing, recovery,
retention, cancels)."""
