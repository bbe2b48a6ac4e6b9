"""Every registered text corpus, and what each may be used for.

Training reads only ``use == "train"`` corpora; the ``eval_only/`` sets (non-commercial or
research-only licences) are measured on, never trained on: ``training_corpora`` cannot
return them, and ``retrain.text`` checks every training row's source against it again.
"""

from __future__ import annotations

from collections.abc import Mapping

from retrain import harm_cases
from retrain.corpora import english, eval_only, functional, multilingual, seed
from retrain.corpora.base import Corpus

ALL_CORPORA: tuple[Corpus, ...] = (
    *seed.CORPORA,
    *english.CORPORA,
    *multilingual.CORPORA,
    functional.CORPUS,
    harm_cases.CORPUS,
    *eval_only.CORPORA,
)


def training_corpora() -> tuple[Corpus, ...]:
    """The corpora whose licence allows training a shipped model."""
    return tuple(c for c in ALL_CORPORA if c.use == "train")


def eval_only_corpora() -> tuple[Corpus, ...]:
    """The measurement-only corpora (``eval_only/``)."""
    return tuple(c for c in ALL_CORPORA if c.use == "eval_only")


def source_languages(corpora: tuple[Corpus, ...] = ALL_CORPORA) -> dict[str, str]:
    """Source name -> language for ``corpora``."""
    return {name: lang for c in corpora for name, lang in c.sources.items()}


def corpus_of(source: str) -> Corpus:
    """The corpus a source name belongs to (KeyError naming it if none)."""
    for corpus in ALL_CORPORA:
        if source in corpus.sources:
            return corpus
    raise KeyError(f"unknown text source {source!r}")


def label_mapping() -> Mapping[str, Mapping[str, str]]:
    """Source -> label -> rule in words, for every corpus (the model card prints it)."""
    return {source: rules for c in ALL_CORPORA for source, rules in c.mapping.items()}
