"""Every error the plugin raises on purpose. Messages say what was wrong and what to do."""

from __future__ import annotations


class WasmContainersError(Exception):
    """Base class: catch this to handle any failure of the plugin."""

    hint: str = ""
    """What to do, for the failure report, where the message itself does not say it."""
    doing: str = ""
    """What the plugin was doing (``pulling REF``), set by the caller that knows; the report's first line."""


# --- images -------------------------------------------------------------------------------------
class ImageError(WasmContainersError):
    """An image could not be resolved, pulled, verified or unpacked."""


class ImageReferenceError(ImageError):
    """A malformed image reference."""

    hint = (
        "a reference looks like ghcr.io/org/app:1.0, localhost:5000/app@sha256:..., oci:DIR:TAG or app.wasm"
    )


class RegistryError(ImageError):
    """The registry was unreachable or answered with an error."""

    hint = (
        "start the registry or fix the reference's host:port; a plain-HTTP registry not on loopback "
        "must be listed with --wasm-insecure-registry (CLI: --insecure)"
    )


class RegistryAuthError(RegistryError):
    """The registry refused our credentials (401/403)."""

    hint = ""  # the message says how to log in


class ImageNotFoundError(ImageError):
    """The registry (or the cache, under pull policy ``never``) has no such image."""

    hint = "check the name and tag (push the image first); `wasmcontainers images` lists what is cached"


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

    hint = (
        "build the guest for plain WASI (e.g. wasm32-wasip1) without host-specific imports, or run this "
        "image on the runtime it was built for"
    )


class UnsupportedModuleError(WasmRuntimeError):
    """A kind of Wasm binary the runtime cannot run yet (e.g. a WASI p2 component)."""

    hint = "`wasmcontainers inspect REF` shows the module's kind, its imports and which are missing"


# --- containers ---------------------------------------------------------------------------------
class ContainerError(WasmContainersError):
    """A container exited, trapped or was not ready in time."""

    def __init__(
        self, message: str, *, exit_code: int | None = None, logs: str = "", doing: str = ""
    ) -> None:
        super().__init__(message)
        self.exit_code = exit_code
        self.logs = logs
        if doing:
            self.doing = doing


class ContainerExitedError(ContainerError):
    """The guest exited (or trapped) before it became ready."""

    hint = (
        "the guest's last log lines say why it stopped; check the command, entrypoint, env and volumes "
        "it was given"
    )


class StartupTimeoutError(ContainerError):
    """A readiness check did not pass within the startup timeout."""

    hint = (
        "if the guest is only slow, give it longer (startup_timeout=..., --wasm-startup-timeout); if it "
        "listens on another port or logs something else, change the wait strategy (wait=...)"
    )


# --- docker services ----------------------------------------------------------------------------
class DockerUnavailableError(WasmContainersError):
    """No Docker daemon could be reached (or the docker SDK is not installed)."""


class ComposeError(WasmContainersError):
    """A compose file uses something that cannot be run here."""
