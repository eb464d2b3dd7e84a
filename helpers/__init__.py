"""helpers: learn and use the Realtime API from a notebook (StepFun and OpenAI).

    import helpers
    with helpers.connect(cassette="03_text_turn") as client:   # replay server, no key
        client.wait_for("session.created")

The public surface is listed in ``__all__``; the modules `events`, `audio`, `player`,
`viz`, `conversation`, `report`, `pricing` and `replay` are imported by name when needed.
"""

from .client import RealtimeClient
from .connection import connect
from .display import show, show_types
from .errors import RealtimeConnectionClosed, RealtimeServerError, RealtimeTimeout

__all__ = ["RealtimeClient", "RealtimeConnectionClosed", "RealtimeServerError", "RealtimeTimeout",
           "connect", "show", "show_types"]
