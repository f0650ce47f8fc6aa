"""Relations stage: what items have to do with each other (between ``survey/`` and ``methods/``).

* :mod:`~valuesim.relations.observed` -- associations among the training people's answers;
* :mod:`~valuesim.relations.wording` -- features of a pair of questions from wording and options;
* :mod:`~valuesim.relations.model` -- predicted signed association (with a spread) of any question,
  a survey item or a new one, with every known item.
"""

from valuesim.relations.model import Relation, RelationsModel, RelationsOptions, association_quality
from valuesim.relations.observed import Marginal, Observed, fit_sample, observed_associations, orderable

__all__ = [
    "Marginal",
    "Observed",
    "Relation",
    "RelationsModel",
    "RelationsOptions",
    "association_quality",
    "fit_sample",
    "observed_associations",
    "orderable",
]
