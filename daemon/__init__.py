"""benchd: drop a quantized .tflite model into a folder, get a bench result."""

__version__ = "0.1.0"
