"""Reproducibility and hardware: seeding, device choice, and the one-line report each notebook prints."""

from __future__ import annotations

import os
import platform
import random


def seed_everything(seed: int = 0) -> None:
    """Seed Python, NumPy and PyTorch so a page gives the same numbers on every run."""
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def device() -> str:
    """'cuda' when a GPU is usable, else 'cpu'."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def report(seed: int = 0) -> str:
    """Seed everything and return one line naming profile, hardware, seed and versions (the first three first)."""
    import torch
    import transformers

    from llmcourse.profile import get_profile

    seed_everything(seed)
    quiet_libraries()
    short_course_errors()
    plain_numpy_scalars()
    where = torch.cuda.get_device_name(0) if torch.cuda.is_available() else f"CPU x{os.cpu_count()}"
    return (
        f"profile={get_profile().name} | {where} | seed={seed} | python {platform.python_version()} | "
        f"torch {torch.__version__} | transformers {transformers.__version__}"
    )


def quiet_libraries() -> None:
    """Hide weight-loading bars and load reports; the Trainer's training bar and real errors still show."""
    import transformers

    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    try:
        import datasets
    except ImportError:
        return
    datasets.disable_progress_bars()


def short_course_errors() -> None:
    """In a notebook, show a CourseError as its one-line cause and fix instead of a traceback wall.

    The error is still published as an error, so the cell fails (and nbval fails) as it should.
    """
    shell = _notebook_shell()
    if shell is None:
        return
    from llmcourse.errors import CourseError

    def show(shell, etype, value, tb, tb_offset=None):
        shell._showtraceback(etype, value, [f"{etype.__name__}: {value}"])

    shell.set_custom_exc((CourseError,), show)


def plain_numpy_scalars() -> None:
    """In a notebook, show NumPy scalars as plain numbers (so glued values format in the book)."""
    shell = _notebook_shell()
    if shell is None:
        return
    import numpy as np

    plain = shell.display_formatter.formatters["text/plain"]
    for kind in (np.float16, np.float32, np.float64):
        plain.for_type(kind, lambda value, printer, cycle: printer.text(repr(float(value))))
    for kind in (np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64):
        plain.for_type(kind, lambda value, printer, cycle: printer.text(repr(int(value))))


def _notebook_shell():
    """The running IPython shell, or None outside IPython."""
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    return get_ipython()
