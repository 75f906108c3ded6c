"""Edit modes: how several plans (one per preference) are turned into deltas, recorded on each delta.

* ``independent``: each plan is edited alone on the model as given; its delta is applied only
  while it is evaluated (``on_edit``) and reverted after.
* ``sequential``: edits accumulate in order; plan i is edited on the model with deltas 0..i-1
  applied (editors with ``compute_with_state``, e.g. AlphaEdit, also get the earlier edits' keys).
* ``batch``: all plans are merged and edited at once, where the editor supports it.

The model is left as it was found in every mode. Each delta records ``extra["mode"]``, and for
sequential runs its ``position`` (deltas after the first are valid only on top of the earlier ones).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

from prefedit.deltas import Delta, apply_delta, revert_delta
from prefedit.editing.base import EditMode, EditPlan, Editor, get_editor
from prefedit.errors import ConfigError, EditError

EDIT_MODES: tuple[EditMode, ...] = ("independent", "sequential", "batch")

OnEdit = Callable[[int, Delta], None]


@runtime_checkable
class StatefulEditor(Protocol):
    """An editor whose sequential edits depend on a record of the earlier ones (AlphaEdit)."""

    def initial_state(self) -> Any: ...

    def compute_with_state(self, lm: Any, plan: EditPlan, config: Any, state: Any) -> tuple[Delta, Any]: ...


def editor_modes(editor: Editor) -> tuple[EditMode, ...]:
    """The modes an editor supports (``modes`` attribute; editors without it cannot batch)."""
    return tuple(getattr(editor, "modes", ("independent", "sequential")))


def merge_plans(plans: Sequence[EditPlan]) -> EditPlan:
    """One plan with every request and KL prompt of ``plans`` (which must share a style)."""
    styles = {p.style for p in plans}
    if len(styles) != 1:
        raise EditError(f"cannot batch plans of different styles: {sorted(styles)}")
    return EditPlan(
        requests=tuple(r for p in plans for r in p.requests),
        kl_prompts=tuple(dict.fromkeys(k for p in plans for k in p.kl_prompts)),
        style=styles.pop(),
        meta={"merged": len(plans)},
    )


def _record(delta: Delta, mode: EditMode, **extra: Any) -> Delta:
    delta.info.extra = {**delta.info.extra, "mode": mode, **extra}
    return delta


def _independent(lm: Any, editor: Editor, plans: Sequence[EditPlan], config: Any, on_edit: OnEdit | None) -> list[Delta]:
    out = []
    for i, plan in enumerate(plans):
        delta = _record(editor.compute(lm, plan, config), "independent")
        if on_edit is not None:
            apply_delta(lm, delta)
            try:
                on_edit(i, delta)
            finally:
                revert_delta(lm, delta)
        out.append(delta)
    return out


def _sequential(lm: Any, editor: Editor, plans: Sequence[EditPlan], config: Any, on_edit: OnEdit | None) -> list[Delta]:
    out: list[Delta] = []
    state = editor.initial_state() if isinstance(editor, StatefulEditor) else None
    try:
        for i, plan in enumerate(plans):
            if isinstance(editor, StatefulEditor):
                delta, state = editor.compute_with_state(lm, plan, config, state)
            else:
                delta = editor.compute(lm, plan, config)
            apply_delta(lm, _record(delta, "sequential", position=i))
            out.append(delta)
            if on_edit is not None:
                on_edit(i, delta)
    finally:
        for delta in reversed(out):
            revert_delta(lm, delta)
    return out


def run_plans(
    lm: Any,
    editor: str | Editor,
    plans: Sequence[EditPlan],
    config: Any = None,
    *,
    mode: EditMode,
    on_edit: OnEdit | None = None,
) -> list[Delta]:
    """Edit ``plans`` in ``mode``; returns one delta per plan (one in all for ``batch``).

    Args:
        lm: the loaded model; left as it was found.
        editor: an editor or its registry name.
        plans: one plan per preference (a plan may hold a cluster of requests).
        config: the editor's config (its family default when None).
        mode: ``independent``, ``sequential`` or ``batch``.
        on_edit: called as ``on_edit(i, delta)`` after each edit with the mode's deltas applied
            (independent: that delta only; sequential: deltas 0..i; batch: the one delta).

    Raises:
        ConfigError: unknown mode. EditError: the editor does not support the mode.
    """
    if mode not in EDIT_MODES:
        raise ConfigError(f"mode must be one of {EDIT_MODES}, got {mode!r}")
    ed = get_editor(editor) if isinstance(editor, str) else editor
    if mode not in editor_modes(ed):
        raise EditError(f"editor {ed.name!r} does not support {mode!r} editing", hint=f"use one of {editor_modes(ed)}")
    if not plans:
        return []
    config = config if config is not None else ed.default_config(lm)
    if mode == "independent":
        return _independent(lm, ed, plans, config, on_edit)
    if mode == "sequential":
        return _sequential(lm, ed, plans, config, on_edit)
    delta = _record(ed.compute(lm, merge_plans(plans), config), "batch", plans=len(plans))
    if on_edit is not None:
        apply_delta(lm, delta)
        try:
            on_edit(0, delta)
        finally:
            revert_delta(lm, delta)
    return [delta]
