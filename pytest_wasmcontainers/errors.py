"""Every error the plugin raises on purpose. Messages say what was wrong and what to do."""

from __future__ import annotations


class WasmContainersError(Exception):
    """Base class: catch this to handle any failure of the plugin."""


# --- images -------------------------------------------------------------------------------------
class ImageError(WasmContainersError):
    """An image could not be resolved, pulled, verified or unpacked."""


class ImageReferenceError(ImageError):
    """A malformed image reference."""


class RegistryError(ImageError):
    """The registry was unreachable or answered with an error."""


class RegistryAuthError(RegistryError):
    """The registry refused our credentials (401/403)."""


class ImageNotFoundError(ImageError):
    """The registry (or the cache, under pull policy ``never``) has no such image."""


class PlatformNotFoundError(ImageError):
    """An image index has no wasi/wasm entry."""


class DigestMismatchError(ImageError):
    """A blob's content does not match its digest."""


class UnsafeLayerError(ImageError):
    """A layer tar has an entry that would escape the root or create a device."""


class NotWasmError(ImageError):
    """The image's entrypoint is not a WebAssembly binary."""


# --- runtime ------------------------------------------------------------------------------------
class WasmRuntimeError(WasmContainersError):
    """The embedded runtime could not start or run a guest."""


class UnsupportedImportsError(WasmRuntimeError):
    """The module imports functions the runtime does not provide."""


class UnsupportedModuleError(WasmRuntimeError):
    """A kind of Wasm binary the runtime cannot run yet (e.g. a WASI p2 component)."""


# --- containers ---------------------------------------------------------------------------------
class ContainerError(WasmContainersError):
    """A container exited, trapped or was not ready in time."""

    def __init__(self, message: str, *, exit_code: int | None = None, logs: str = "") -> None:
        super().__init__(message)
        self.exit_code = exit_code
        self.logs = logs


class ContainerExitedError(ContainerError):
    """The guest exited (or trapped) before it became ready."""


class StartupTimeoutError(ContainerError):
    """A readiness check did not pass within the startup timeout."""


# --- docker services ----------------------------------------------------------------------------
class DockerUnavailableError(WasmContainersError):
    """No Docker daemon could be reached (or the docker SDK is not installed)."""


class ComposeError(WasmContainersError):
    """A compose file uses something that cannot be run here."""
