"""Which imports a module may have, and which of our host functions serves each.

WasmEdge provides some socket functions in two versions under one name (and the newer one also as
``<name>_v2``); a module's import signature tells which one it was built against.
"""

from __future__ import annotations

import wasmtime

from ..errors import UnsupportedImportsError

WASI = "wasi_snapshot_preview1"

WASI_P1 = frozenset(
    [
        "args_get",
        "args_sizes_get",
        "environ_get",
        "environ_sizes_get",
        "clock_res_get",
        "clock_time_get",
        "fd_advise",
        "fd_allocate",
        "fd_close",
        "fd_datasync",
        "fd_fdstat_get",
        "fd_fdstat_set_flags",
        "fd_fdstat_set_rights",
        "fd_filestat_get",
        "fd_filestat_set_size",
        "fd_filestat_set_times",
        "fd_pread",
        "fd_prestat_get",
        "fd_prestat_dir_name",
        "fd_pwrite",
        "fd_read",
        "fd_readdir",
        "fd_renumber",
        "fd_seek",
        "fd_sync",
        "fd_tell",
        "fd_write",
        "path_create_directory",
        "path_filestat_get",
        "path_filestat_set_times",
        "path_link",
        "path_open",
        "path_readlink",
        "path_remove_directory",
        "path_rename",
        "path_symlink",
        "path_unlink_file",
        "poll_oneoff",
        "proc_exit",
        "proc_raise",
        "sched_yield",
        "random_get",
        "sock_accept",
        "sock_recv",
        "sock_send",
        "sock_shutdown",
    ]
)

# import name -> {parameter count: method of Sockets}
SOCKET_FUNCS: dict[str, dict[int, str]] = {
    "sock_open": {3: "sock_open"},
    "sock_bind": {3: "sock_bind"},
    "sock_listen": {2: "sock_listen"},
    "sock_accept": {2: "sock_accept_wasmedge", 3: "sock_accept"},
    "sock_connect": {3: "sock_connect"},
    "sock_recv": {6: "sock_recv"},
    "sock_recv_from": {7: "sock_recv_from_v1", 8: "sock_recv_from"},
    "sock_send": {5: "sock_send"},
    "sock_send_to": {7: "sock_send_to"},
    "sock_shutdown": {2: "sock_shutdown"},
    "sock_close": {1: "sock_close"},  # crate 0.1-0.3 (no result there; an errno if one is asked)
    "sock_getlocaladdr": {4: "sock_getlocaladdr_v1", 3: "sock_getlocaladdr"},
    "sock_getpeeraddr": {4: "sock_getpeeraddr_v1", 3: "sock_getpeeraddr"},
    "sock_getsockopt": {5: "sock_getsockopt"},
    "sock_setsockopt": {5: "sock_setsockopt"},
    "sock_getaddrinfo": {8: "sock_getaddrinfo"},
}
for _name in (
    "open",
    "bind",
    "listen",
    "accept",
    "connect",
    "recv",
    "recv_from",
    "send",
    "send_to",
    "getlocaladdr",
    "getpeeraddr",
):
    SOCKET_FUNCS[f"sock_{_name}_v2"] = SOCKET_FUNCS[f"sock_{_name}"]

# WASI functions we shadow (methods of FdOps / Poller); their real versions are forwarded to.
FD_FUNCS = (
    "fd_close",
    "fd_read",
    "fd_write",
    "fd_fdstat_get",
    "fd_fdstat_set_flags",
    "fd_prestat_get",
    "fd_prestat_dir_name",
    "fd_filestat_get",
    "fd_renumber",
)
COPY_UP_FUNCS = ("path_open", "path_filestat_set_times", "fd_filestat_set_times")
# ... and those where wasmtime and WasmEdge answer differently (docs/runtime.md, "Divergences")
COMPAT_FUNCS = ("fd_allocate", "path_symlink")


def wasi_func_imports(module: wasmtime.Module) -> list[tuple[str, wasmtime.FuncType]]:
    """The module's ``wasi_snapshot_preview1`` function imports (first of any duplicate)."""
    seen: dict[str, wasmtime.FuncType] = {}
    for imp in module.imports:
        if (
            imp.module == WASI
            and isinstance(imp.type, wasmtime.FuncType)
            and imp.name
            and imp.name not in seen
        ):
            seen[imp.name] = imp.type
    return list(seen.items())


def check_imports(module: wasmtime.Module, what: str) -> None:
    """Raise ``UnsupportedImportsError`` naming every import nobody provides."""
    raise_missing(missing_imports(module), what)


def raise_missing(missing: list[str], what: str) -> None:
    if missing:
        raise UnsupportedImportsError(
            f"{what} imports functions this runtime does not provide: {', '.join(missing)}. "
            "Supported: WASI preview 1 and WasmEdge's socket extension (sock_*)."
        )


def missing_imports(module: wasmtime.Module) -> list[str]:
    """Every import nobody provides (with its signature when only the signature is wrong)."""
    missing = []
    for imp in module.imports:
        name = f"{imp.module}.{imp.name}"
        if imp.module != WASI or not isinstance(imp.type, wasmtime.FuncType):
            missing.append(name)
            continue
        variants = SOCKET_FUNCS.get(imp.name or "")
        if variants is not None:
            params = [str(p) for p in imp.type.params]
            results = [str(r) for r in imp.type.results]
            returns_ok = results == ["i32"] or (results == [] and imp.name == "sock_close")
            if len(params) not in variants or set(params) - {"i32"} or not returns_ok:
                missing.append(f"{name} with signature ({', '.join(params)}) -> ({', '.join(results)})")
        elif imp.name not in WASI_P1:
            missing.append(name)
    return missing


class ModuleFacts:
    """What every start of one compiled module needs to know about it, read once: wasmtime-py's
    import and export types are slow to walk (about 2 ms per start for a 1 MB module)."""

    def __init__(self, module: wasmtime.Module) -> None:
        self.missing = missing_imports(module)
        self.func_imports = wasi_func_imports(module)
        exports = {e.name for e in module.exports}
        self.has_start = "_start" in exports
        self.exports_memory = "memory" in exports
        self.forwarder_wat: dict[tuple[str, ...], str] = {}
        """The forwarder module's text (see forward.py), by the names of the functions it forwards."""
