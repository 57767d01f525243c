"""tvmc-compatible front end for TVM >= 0.25 (Relax): `tvmc compile` and `tvmc run` for the llvm target.

TVM is imported only inside the functions that need it: `import daemon.tvmc` must stay cheap, because
the daemon imports the package tree and `import tvm` costs seconds and ~200 MB.
"""
