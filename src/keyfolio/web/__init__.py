"""The web app (``keyfolio serve``): a thin front end over the library, like the CLI."""
