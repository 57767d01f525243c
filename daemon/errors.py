"""One small hierarchy; only cli.py turns these into exit codes."""


class BenchdError(Exception):
    """Anything benchd can explain to a lab engineer."""


class ConfigError(BenchdError):
    """benchd.toml, an environment variable or a flag is wrong."""


class PipelineError(BenchdError):
    """A workflow file cannot be loaded or planned (message names file:line)."""


class ModelError(BenchdError):
    """A dropped file is not a model benchd can work with."""


class CodegenError(ModelError):
    """The reference C backend cannot compile this model (the message names the operator and why)."""


class StepFailed(BenchdError):
    """A step ended with a non-zero exit, a timeout or an action error."""


class ImageError(BenchdError):
    """A pinned container image cannot be found, pulled or built."""


class ExecutorError(BenchdError):
    """The place a job runs in (engine, container, process) is not usable."""


class BoardError(BenchdError):
    """A board cannot be found, leased, opened or watched, or the board settings are wrong."""


class FlashError(BoardError):
    """A board could not be detected, flashed or verified (esptool's failures end here)."""


class ReportError(BenchdError):
    """A reporter could not deliver a result (never fatal to the run)."""


class VirtCoreError(BenchdError):
    """Building or running a firmware for the virtual core (QEMU `virt`) failed; the message says how to fix it."""
