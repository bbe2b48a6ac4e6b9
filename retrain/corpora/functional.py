"""Our English functional hate cases (``retrain.functional_cases``) as a registered corpus.

The cases use Multilingual HateCheck's functionality names, so their labels on every head
follow the same rules as MHC's (``retrain.corpora.seed``), except that the contrast cases our
templates write as plainly benign (counter-speech, reclaimed slurs, homonyms) are clean.
Groups are templates, so the common splitter keeps a template's sentences together.
"""

from __future__ import annotations

from pathlib import Path

from retrain.corpora.base import Corpus, Labels, TextExample, clean_negative, make_example
from retrain.corpora.seed import LABEL_MAPPING, mhc_labels
from retrain.errors import DataError
from retrain.functional_cases import FunctionalCase, functional_cases

SOURCE = "functional_en"


def case_labels(case: FunctionalCase) -> Labels:
    """MHC's rules for the functionality; our benign cases are clean on every head."""
    if case.hate == 0 and case.toxicity == 0:
        return clean_negative()
    labels = mhc_labels(case.functionality, hateful=bool(case.hate))
    if labels is None:
        raise DataError(f"{SOURCE}: no label rule for functionality {case.functionality!r}")
    return labels


def load_functional(_data_dir: Path) -> list[TextExample]:
    """Every case (train and test templates alike: the corpus splitter assigns splits)."""
    return [
        make_example(
            SOURCE,
            "en",
            str(i),
            case.text,
            case_labels(case),
            functionality=case.functionality,
            group=f"{SOURCE}:{case.template_id}",
        )
        for i, case in enumerate(functional_cases())
    ]


CORPUS = Corpus(
    family=SOURCE,
    sources={SOURCE: "en"},
    load=load_functional,
    mapping={
        SOURCE: {
            **LABEL_MAPPING["mhc_de"],
            "note": "as MHC; counter-speech, reclaimed slurs and homonyms are clean (every "
            "head 0) in our templates",
        }
    },
    licence="our own cases (Apache-2.0, this repository)",
    kind="functional",
)
