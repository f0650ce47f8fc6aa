"""Methods stage: non-LLM baselines, LLM baselines, the ValueSim method and the hybrid.

A method is a :class:`Method` subclass with an ``Options`` model, registered by name
(:func:`register`, or the ``valuesim.methods`` entry-point group for installed packages).
"""

from valuesim.methods.base import (
    ENTRY_POINT_GROUP,
    Method,
    MethodInfo,
    Prediction,
    Task,
    TaskOutcome,
    apredict_task,
    get_method,
    hide_targets,
    list_methods,
    method_info,
    method_infos,
    method_names,
    predict_hidden,
    refuse_trained,
    register,
)
from valuesim.methods.options import MethodOptions, OptionDoc, describe_options, parse_options

__all__ = [
    "ENTRY_POINT_GROUP",
    "Method",
    "MethodInfo",
    "MethodOptions",
    "OptionDoc",
    "Prediction",
    "Task",
    "TaskOutcome",
    "apredict_task",
    "describe_options",
    "get_method",
    "hide_targets",
    "list_methods",
    "method_info",
    "method_infos",
    "method_names",
    "parse_options",
    "predict_hidden",
    "refuse_trained",
    "register",
]
