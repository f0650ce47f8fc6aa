"""Methods stage: non-LLM baselines, LLM baselines and the ValueSim method."""

from valuesim.methods.base import Method, Prediction, Task, get_method, list_methods, register

__all__ = ["Method", "Prediction", "Task", "get_method", "list_methods", "register"]
