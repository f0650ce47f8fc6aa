"""Help-screen fixes for typer's rich rendering (applied once, when the CLI is imported).

Recent typer versions print a type for every option, so plain flags read ``--explain <bool>``
as if they took a value, and put required arguments in braces (``{path}``) on the usage line.
Both are corrected here, in one place, instead of per option: flags show no type, and usage
lines name arguments the usual way (``PATH``, ``[QIDS]...``). Each patch is applied only when
the typer internals it replaces exist, so another typer version degrades to its own rendering.
"""

from __future__ import annotations

from typing import Any

#: How help screens state the default model of LLM methods (``--model`` left out).
MODEL_DEFAULT = "local, the embedded SmolLM2-135M smoke-test model"
#: Help of every command's ``--api-key``.
API_KEY_HELP = "API key of the --base-url server (default: OPENAI_API_KEY); never written to a file or page."
#: Help of every command's ``--no-cache`` (the same meaning wherever a model is called).
NO_CACHE_HELP = (
    "Neither read nor write the LLM response cache and the backstory store: every model call is made afresh "
    "(see VALUESIM_CACHE_DIR)."
)


def fix_help_rendering() -> None:
    from typer import core

    option = getattr(core, "TyperOption", None)
    if option is not None and hasattr(option, "display_type_rich") and not getattr(option, "_valuesim", False):
        original = option.display_type_rich

        def display_type_rich(self: Any, ctx: Any) -> str | None:
            if getattr(self, "is_flag", False) and getattr(self, "metavar", None) is None:
                return None  # a flag takes no value: no "<bool>"
            return original(self, ctx)

        option.display_type_rich = display_type_rich
        option._valuesim = True

    argument = getattr(core, "TyperArgument", None)
    if argument is not None and hasattr(argument, "_usage_display_name") and not getattr(argument, "_valuesim", False):

        def usage_display_name(self: Any) -> str:
            name = str(self.metavar or self.name or "arg").upper()
            shown = name if self.required else f"[{name}]"
            return shown + ("..." if self.nargs != 1 else "")

        argument._usage_display_name = usage_display_name
        argument._valuesim = True
