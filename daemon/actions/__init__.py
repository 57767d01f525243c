"""Built-in actions (`uses: benchd/<name>`): name -> module with `run(ctx: ActionContext) -> None`.

Modules are imported only in the step process, so the daemon never loads TVM or esptool.
"""

ACTIONS: dict[str, str] = {
    "inspect": "daemon.actions.inspect",
    "validate": "daemon.actions.validate",
    "flash": "daemon.actions.flash",
    "monitor": "daemon.actions.monitor",
    "migrate-tuning": "daemon.actions.migrate_tuning",
    "virtual-core": "daemon.actions.virtual_core",
    "compile-c": "daemon.actions.compile_c",
    "virt-bundle": "daemon.actions.virt_bundle",
    "vectors": "daemon.actions.vectors",
}


def launch(name: str) -> tuple[str, ...]:
    """The argv of a `uses: benchd/<name>` step process; KeyError for an action benchd does not have.
    The service hands this to the runner, which imports no action."""
    if name not in ACTIONS:
        raise KeyError(name)
    return ("python", "-m", "daemon.actions", name)
