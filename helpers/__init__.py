"""helpers: learn and use the Realtime API from a notebook (StepFun and OpenAI).

The public surface is listed in ``__all__``; everything else is an implementation detail.
"""

from .errors import RealtimeConnectionClosed, RealtimeServerError, RealtimeTimeout

__all__ = ["RealtimeConnectionClosed", "RealtimeServerError", "RealtimeTimeout"]
