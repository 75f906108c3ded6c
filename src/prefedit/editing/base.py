"""The edit plan, the Editor protocol and the editor registry.

An editor is a pure function of (model, plan, config) that returns a Delta and leaves the
model exactly as it found it; applying and reverting is the Delta's job.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from prefedit.config import config_to_dict
from prefedit.deltas import Delta, DeltaInfo
from prefedit.errors import EditError
from prefedit.registry import Registry

KeyPosition = Literal["last", "subject"]
EditMode = Literal["independent", "sequential", "batch"]


@dataclass(frozen=True, kw_only=True)
class EditRequest:
    """One (prompt -> target) pair to write into the model.

    ``prompt`` is the full text the model sees (chat-templated or raw) up to where the answer
    starts; ``target`` is the answer text. The key is the MLP input at the prompt's last token
    (``key="last"``) or at the last token of ``subject`` inside the prompt (``key="subject"``,
    the reference's setting). ``raw``: the prompt is a bare completion prompt (no chat template);
    a codebook editor widens such entries by its ``raw_widen`` against raw guard prompts.
    """

    prompt: str
    target: str
    key: KeyPosition = "last"
    subject: str | None = None
    preference_id: str | None = None
    raw: bool = False

    def __post_init__(self) -> None:
        if not self.prompt:
            raise EditError("edit request has an empty prompt")
        if not self.target.strip():
            raise EditError(f"edit request for prompt {self.prompt[-60:]!r} has an empty target")
        if self.key == "subject" and (not self.subject or self.subject not in self.prompt):
            raise EditError(f"subject {self.subject!r} does not occur in the prompt {self.prompt[-80:]!r}")


@dataclass(frozen=True, kw_only=True)
class EditPlan:
    """What to edit: requests (possibly several per preference) and prompts to preserve.

    ``kl_prompts`` are prompts whose next-token distribution the value optimisation keeps
    close to the original (ROME's "essence" term). ``guard_prompts`` are generic prompts,
    rendered as the plan's questions are, that the edit must leave alone: a codebook editor caps
    every entry's radius so that no guard prompt's key falls inside it.
    """

    requests: tuple[EditRequest, ...]
    kl_prompts: tuple[str, ...] = ()
    guard_prompts: tuple[str, ...] = ()
    style: str = "chat"
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.requests:
            raise EditError("edit plan has no requests")

    @property
    def preference_ids(self) -> list[str]:
        return list(dict.fromkeys(r.preference_id for r in self.requests if r.preference_id))


@runtime_checkable
class Editor(Protocol):
    """Computes a Delta for a plan; must leave ``lm`` unchanged (weights, hooks, grad flags)."""

    name: str
    config_class: type

    def compute(self, lm: Any, plan: EditPlan, config: Any) -> Delta: ...

    def default_config(self, lm: Any) -> Any: ...


EDITORS: Registry[Any] = Registry("editor")


def edit_info(editor: str, lm: Any, config: Any, plan: EditPlan, **extra: Any) -> DeltaInfo:
    """The description an editor stores with the delta it computed for ``plan`` on ``lm``."""
    return DeltaInfo(
        editor=editor,
        fingerprint=lm.fingerprint,
        config=config_to_dict(config),
        preference_ids=plan.preference_ids,
        dtype=str(lm.dtype).removeprefix("torch."),
        extra={"style": plan.style, **extra},
    )


def register_editor(name: str, help: str = "") -> Any:
    """Class decorator: ``@register_editor("rome")``."""
    return EDITORS.register(name, help=help)


def get_editor(name: str) -> Editor:
    """An editor instance by registry name (importing the built-in editors first)."""
    import prefedit.editing  # noqa: F401  (registers the built-in editors)

    return EDITORS.get(name)()  # type: ignore[no-any-return]
