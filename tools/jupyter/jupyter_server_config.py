"""JupyterLab server settings for `make lab` (tools/lab.py puts this folder on JUPYTER_CONFIG_PATH).

The lessons open unmodified.

On kernel start JupyterLab writes the kernel's `language_info` into the notebook and, when it differs
from the stored one (which carries no machine-specific Python version), marks the notebook as having
unsaved changes. Serving the notebooks with this environment's `language_info` leaves nothing to change.
"""

from ipykernel.ipkernel import IPythonKernel
from jupyter_server.services.contents.largefilemanager import AsyncLargeFileManager


class LessonContents(AsyncLargeFileManager):
    """The default contents manager, serving notebooks with the language_info their kernel will report."""

    async def get(self, path, content=True, type=None, format=None, **kwargs):
        model = await super().get(path, content=content, type=type, format=format, **kwargs)
        if content and model["type"] == "notebook":
            metadata = model["content"]["metadata"]
            metadata["language_info"] = dict(IPythonKernel.language_info)
            spec = metadata.get("kernelspec") or {}
            if spec.get("name"):
                known = self.parent.kernel_spec_manager.get_kernel_spec(spec["name"])
                metadata["kernelspec"] = {**spec, "display_name": known.display_name, "language": known.language}
        return model


c = get_config()  # noqa: F821 (provided by the traitlets config loader)
c.ServerApp.contents_manager_class = LessonContents
