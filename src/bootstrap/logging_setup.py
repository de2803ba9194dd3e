"""structlog for the whole process: a console renderer on a terminal, JSON lines otherwise.

transformers' and other libraries' stdlib logging is routed through the same processors, and any
field whose name looks like a secret (token, key, password) is masked before rendering.
"""

from __future__ import annotations

import logging
import re
import sys

import structlog

SECRET = re.compile(r"(token|api_key|apikey|password|secret)", re.IGNORECASE)


def _mask_secrets(_, __, event: dict) -> dict:
    for key in list(event):
        if SECRET.search(key):
            event[key] = "***"
    return event


def configure(json: bool | None = None, level: int = logging.INFO) -> None:
    json = (not sys.stderr.isatty()) if json is None else json
    shared = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        _mask_secrets,
        structlog.processors.TimeStamper(fmt="iso"),
    ]
    renderer = (
        structlog.processors.JSONRenderer()
        if json
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("transformers", "peft", "datasets", "huggingface_hub", "urllib3", "filelock"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # bitsandbytes warns at import on CPUs with AVX512-BF16 that an optional `kernels`
    # package is missing.
    logging.getLogger("bitsandbytes").setLevel(logging.ERROR)
