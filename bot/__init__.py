"""quotebot's bot: a question in, an ``Answer`` of verbatim quotes out.

::

    from indexer import Settings
    from bot import Bot
    bot = Bot.load(Settings.from_env(index_dir="index"))
    print(bot.ask("What causes cramps?").to_dict())

Nothing heavy is imported until a name is first used; ``Bot.load`` loads the model.
"""

from __future__ import annotations

from indexer.lazy import lazy_exports

_EXPORTS = {
    "Bot": ".bot",
    "Answer": ".answer",
    "Passage": ".answer",
    "Highlight": ".answer",
    "EvalItem": ".evaluation",
    "EvalReport": ".evaluation",
    "load_eval_set": ".evaluation",
    "evaluate": ".evaluation",
}

__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
