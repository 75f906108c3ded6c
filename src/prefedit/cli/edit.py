"""``prefedit edit`` (one statement -> edit -> answer) and ``prefedit chat`` (interactive)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import typer

from prefedit.cli._options import resolve_system_prompt, system_prompt_option
from prefedit.cli._output import print_json, status, stdout
from prefedit.cli.main import app


def _preference_from_cli(lm: object, statement: str | None, subject: str | None, target: str | None, question: str | None) -> object:
    from prefedit.errors import StatementParseError
    from prefedit.preferences import Preference
    from prefedit.preferences.ask import subject_and_target

    if subject is None or target is None:
        if not statement or not statement.strip():
            raise StatementParseError("nothing to edit: give a statement or both --subject and --target", hint='prefedit edit "I live in Lisbon"')
        parsed = subject_and_target(statement, lm)
        if parsed is None:
            raise StatementParseError(
                f"could not tell the subject and target of {statement!r} (no rule matched and the model's answer was unusable)",
                hint=f'pass them explicitly: prefedit edit "{statement}" --subject "hobby" --target "rock climbing"',
            )
        subject, target = subject or parsed[0], target or parsed[1]
    statement = statement or f"My {subject} is {target}."
    questions = {"explicit": question} if question else {}
    return Preference(id="cli-1", statement=statement, subject=subject, target=target, questions=questions)


@app.command(
    epilog='Examples:\n\n  prefedit edit "I\'m allergic to shellfish"\n\n'
    '  prefedit edit --subject "hobby" --target "rock climbing" --question "What should I do this weekend?"\n\n'
    '  prefedit edit "I live in Lisbon" --method rome --save lisbon.safetensors --format json'
)
def edit(
    statement: str = typer.Argument(None, help='What the user said, e.g. "I live in Lisbon".'),
    subject: str = typer.Option(None, help='What the preference is about, e.g. "city".'),
    target: str = typer.Option(None, help='The answer to remember, e.g. "Lisbon".'),
    question: str = typer.Option(None, help="Question to ask after the edit (default: the explicit question)."),
    method: str = typer.Option("prefedit", help="Personalization method, e.g. prefedit or rome."),
    model: str = typer.Option("smollm2-135m-instruct", help="Model name, folder or HF id."),
    save: Path = typer.Option(None, help="Write the delta to this .safetensors file."),
    fmt: str = typer.Option("table", "--format", help="table or json."),
) -> None:
    """Edit one preference into the model and answer a question with it, before and after."""
    from prefedit.deltas import applied, save_delta
    from prefedit.models import chat_prompt, generate, load_model
    from prefedit.personalize import preference_delta

    status(f"loading {model}")
    lm = load_model(model)
    pref = _preference_from_cli(lm, statement, subject, target, question)
    ask = question or pref.explicit_question  # type: ignore[attr-defined]
    prompt = [chat_prompt(lm.tokenizer, ask)]
    before = generate(lm, prompt)[0]
    start = time.perf_counter()
    delta = preference_delta(lm, pref, method)  # type: ignore[arg-type]
    seconds = time.perf_counter() - start
    with applied(lm, delta):
        after = generate(lm, prompt)[0]
    if save:
        save_delta(delta, save)
    result = {"subject": pref.subject, "target": pref.target, "question": ask, "before": before, "after": after, "seconds": round(seconds, 3), "method": method}  # type: ignore[attr-defined]
    if fmt == "json":
        print_json(result)
        return
    out = stdout()
    out.print(f"subject: {pref.subject}\ntarget:  {pref.target}\nedit:    {seconds:.2f} s ({method})", highlight=False)  # type: ignore[attr-defined]
    out.print(f"\nQ: {ask}\nbefore: {before}\nafter:  {after}", highlight=False)


@app.command(epilog="Examples:\n\n  prefedit chat\n\n  prefedit chat --prefs my_prefs.txt\n\n  prefedit chat --prefs prefs.jsonl --method rome")
def chat(
    prefs: Path = typer.Option(None, help="Preferences file (UPQA JSON, JSONL or one statement per line) to apply."),
    method: str = typer.Option("prefedit", help="Personalization method."),
    model: str = typer.Option("smollm2-135m-instruct", help="Model name, folder or HF id."),
    max_new_tokens: int = typer.Option(128, help="Answer budget per turn, e.g. 128."),
    system_prompt: str | None = system_prompt_option(),
) -> None:
    """Chat with the model on stdin, with an optional preferences file edited into it (/quit ends)."""
    from prefedit.deltas import applied
    from prefedit.models import format_chat, generate, load_model
    from prefedit.personalize import method_spec, personalize
    from prefedit.preferences import load_preferences
    from prefedit.preferences.ask import model_asker

    method_spec(method)  # an unknown method fails before the model loads
    system = resolve_system_prompt(system_prompt)
    status(f"loading {model}")
    lm = load_model(model)
    delta = None
    if prefs is not None:
        items = load_preferences(prefs, ask_model=model_asker(lm))
        status(f"editing {len(items)} preference(s) with {method}")
        deltas = personalize(lm, items, method, system=system)
        if len(deltas) > 1:
            status(f"note: the file holds {len(deltas)} users; chatting as {next(iter(deltas))!r}")
        delta = next(iter(deltas.values()))
    history = [{"role": "system", "content": system}]
    interactive = sys.stdin.isatty()
    with applied(lm, delta):
        while True:
            if interactive:
                print("you> ", end="", file=sys.stderr, flush=True)
            line = sys.stdin.readline()
            if not line or line.strip() in {"/quit", "/exit"}:
                break
            if not line.strip():
                continue
            history.append({"role": "user", "content": line.strip()})
            answer = generate(lm, [format_chat(lm.tokenizer, history)], max_new_tokens=max_new_tokens)[0]
            history.append({"role": "assistant", "content": answer})
            print(answer, flush=True)
