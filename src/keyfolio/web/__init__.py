"""The web app (``keyfolio serve``): a thin front end over the library, like the CLI.

:func:`create_app` is the factory; routes live in :mod:`keyfolio.web.routes` (one module
per entity), their JSON shapes in :mod:`keyfolio.web.schemas`.
"""

from keyfolio.web.app import create_app
from keyfolio.web.settings import Settings

__all__ = ["Settings", "create_app"]
