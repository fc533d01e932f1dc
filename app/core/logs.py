"""The service logger's level and, where nothing else prints it, its handler."""

import logging


def configure_logging(level: str) -> None:
    """Applies HWR_LOG_LEVEL to the `hwr` logger."""
    logger = logging.getLogger("hwr")
    logger.setLevel(level.upper())
    # uvicorn configures only its own loggers, so under it `hwr` needs a handler; where the
    # root logger has one (pytest, an embedding application) a second would print lines twice.
    if not logger.handlers and not logging.getLogger().handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s:     %(name)s: %(message)s"))
        logger.addHandler(handler)
