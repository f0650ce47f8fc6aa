"""`valuesim view`: a local web app to explore runs, questions, people and their predictions.

Build the app with :func:`create_app` over a :class:`RunStore` (run directories loaded once and
indexed) and, optionally, the survey (people's records and backstories) and a model (Ask).
"""

from valuesim.view.app import create_app
from valuesim.view.store import People, RunStore

__all__ = ["People", "RunStore", "create_app"]
