"""`__all__`: every module that declares one lists exactly its public surface, and every name resolves."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import helpers

# The modules of the client side, relay and live session must declare their public surface.
MUST_DECLARE = ["helpers", "helpers.client", "helpers.connection", "helpers.conversation", "helpers.display",
                "helpers.errors", "helpers.live", "helpers.live_session", "helpers.live_sources", "helpers.live_ui",
                "helpers.providers", "helpers.relay", "helpers.relay_core", "helpers.relay_http", "helpers.serving",
                "helpers.session", "helpers.transport", "helpers.replay"]
MODULES = sorted({"helpers", *(m.name for m in pkgutil.walk_packages(helpers.__path__, "helpers."))}
                 - {"helpers.replay.__main__"})


def test_the_package_surface():
    assert sorted(helpers.__all__) == ["RealtimeClient", "RealtimeConnectionClosed", "RealtimeServerError",
                                       "RealtimeTimeout", "connect", "show", "show_types"]


@pytest.mark.parametrize("name", MUST_DECLARE)
def test_modules_declare_their_public_surface(name):
    assert isinstance(getattr(importlib.import_module(name), "__all__", None), list), f"{name} has no __all__"


@pytest.mark.parametrize("name", MODULES)
def test_all_lists_every_public_definition_and_nothing_missing(name):
    module = importlib.import_module(name)
    declared = getattr(module, "__all__", None)
    if declared is None:
        pytest.skip(f"{name} declares no __all__")
    assert len(set(declared)) == len(declared), f"{name}.__all__ repeats a name"
    missing = [n for n in declared if not hasattr(module, n)]
    assert not missing, f"{name}.__all__ names what the module lacks: {missing}"
    defined = {n for n, obj in vars(module).items()
               if not n.startswith("_") and (inspect.isclass(obj) or inspect.isfunction(obj)) and obj.__module__ == name}
    assert defined <= set(declared), f"{name} defines public {sorted(defined - set(declared))} not in __all__"
