"""ESP32-C3 boards: discovery, leases, health, flashing (flasher.py is the only esptool user), console, simulator."""
