"""Helpers shared by the CLI commands: error handling, threads, devices, progress bars, output."""

from __future__ import annotations

import functools
import json
import sys
import warnings
from pathlib import Path
from contextlib import ExitStack, contextmanager
from typing import Any, Callable, Iterable, Iterator, Sequence

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from boltzkit.checks import integer
from boltzkit.errors import BoltzkitError

console = Console(stderr=True)
stdout = Console()


class OneLineUsageErrors(typer.core.TyperGroup):
    """The command group of ``boltzkit``: a flag or argument that cannot be parsed (not a number,
    unknown option, missing argument) is one line on stderr naming it, exit 2, like every other
    user error (click would draw a box of usage text). The group's own options are parsed in
    :meth:`make_context`, the commands' in :meth:`invoke`: both are covered."""

    def make_context(self, *args: Any, **kwargs: Any) -> typer.Context:
        with _one_line_usage_errors():
            return super().make_context(*args, **kwargs)

    def invoke(self, ctx: typer.Context) -> Any:
        with _one_line_usage_errors():
            return super().invoke(ctx)


@contextmanager
def _one_line_usage_errors() -> Iterator[None]:
    try:
        yield
    except Exception as e:
        # click's UsageError, told by its exit code 2 (typer vendors click: no public name for it)
        # (no message: the bare command, whose help click has already printed)
        if getattr(e, "exit_code", None) != 2 or not getattr(e, "format_message", lambda: "")():
            raise
        where = f" (see {e.ctx.command_path} --help)" if getattr(e, "ctx", None) is not None else ""
        print(f"error: {e.format_message()}{where}", file=sys.stderr)
        raise typer.Exit(2) from None


_PACKAGE = str(Path(__file__).resolve().parents[1])


def _notes(show: Callable) -> Callable:
    """``warnings.showwarning`` that prints a warning raised by boltzkit's own code as one line on
    stderr (``note: ...``, without the source line Python's format adds) and hands any other (a
    library's) to ``show``, the one in place before."""

    def note(message: Warning | str, category: type, filename: str, *args: Any, **kwargs: Any) -> None:
        if str(Path(filename).resolve()).startswith(_PACKAGE) and issubclass(category, UserWarning):
            print(f"note: {message}", file=sys.stderr)
        else:
            show(message, category, filename, *args, **kwargs)

    return note


def user_errors(func: Callable) -> Callable:
    """Turn a BoltzkitError into one line on stderr and exit code 2 (no traceback); boltzkit's own
    warnings are one line each (:func:`_notes`)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            with warnings.catch_warnings():
                warnings.showwarning = _notes(warnings.showwarning)
                return func(*args, **kwargs)
        except BoltzkitError as e:
            print(f"error: {e}", file=sys.stderr)
            raise typer.Exit(2) from None
        except OSError as e:  # no space left, read-only, permission denied: the files are intact
            where = f"{e.filename}: " if e.filename else ""
            print(f"error: {where}{e.strerror or e} (the files written before are intact)", file=sys.stderr)
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            print("interrupted: the run file holds the last saved state (use --resume)", file=sys.stderr)
            raise typer.Exit(130) from None

    return wrapper


MaxMemoryOption = typer.Option(None, "--max-memory",
                               help="GiB this command may use (default: the memory available)")


def setup_torch(threads: int | None, device: str) -> None:
    """Set the intra-op thread count (default: leave torch's) and check the device."""
    import torch  # heavy (about 1 s): imported by the commands that run, not by --help

    if threads is not None:
        torch.set_num_threads(integer(threads, "--threads", 1))
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise BoltzkitError("--device cuda: no CUDA device is available to this torch build")
    if device not in ("cpu",) and not device.startswith("cuda"):
        raise BoltzkitError(f"unknown device {device!r} (cpu, cuda, cuda:N)")


@contextmanager
def progress_bar(description: str, total: int, enabled: bool = True) -> Iterator[Callable[[int], None]]:
    """A rich progress bar, shown from the first call of the yielded ``advance_to(n)`` (so that
    an error before any progress prints only its own line)."""
    if not enabled:
        yield lambda n: None
        return
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), TimeRemainingColumn(), console=console)
    state = {"task": None, "last": 0}

    def advance_to(n: int) -> None:
        if state["task"] is None:
            progress.start()
            state["task"] = progress.add_task(description, total=total)
        if n - state["last"] >= max(1, total // 200) or n >= total:
            progress.update(state["task"], completed=n)
            state["last"] = n

    try:
        yield advance_to
    except BaseException:
        progress.live.transient = True  # an error leaves its one line, not a half-done bar
        raise
    finally:
        if state["task"] is not None:
            progress.stop()


@contextmanager
def lazy_progress_bar(description: str, enabled: bool = True) -> Iterator[Callable[[int, int], None]]:
    """A progress callback ``(done, total)`` whose bar opens at the first call (for totals that the
    API knows, not the command)."""
    with ExitStack() as stack:
        bar = {}

        def advance(done: int, total: int) -> None:
            if "advance" not in bar:
                bar["advance"] = stack.enter_context(progress_bar(description, total, enabled))
            bar["advance"](done)

        yield advance


def print_table(title: str, rows: Iterable[Sequence[str]], columns: Sequence[str] = ("quantity", "value"),
                show_header: bool = True, left_columns: int = 1) -> None:
    """Print a table of text cells: the first ``left_columns`` columns left-aligned, the others
    right-aligned."""
    table = Table(title=title, show_header=show_header)
    for k, name in enumerate(columns):
        table.add_column(name, justify="left" if k < left_columns else "right")
    for row in rows:
        table.add_row(*row)
    stdout.print(table)


def print_json(obj: Any) -> None:
    print(json.dumps(obj, indent=2, default=float))


ThreadsOption = typer.Option(None, "--threads", help="torch intra-op threads (default: torch's)")
DeviceOption = typer.Option("cpu", "--device", help="cpu, cuda or cuda:N")
